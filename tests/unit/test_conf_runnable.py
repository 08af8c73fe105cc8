"""Conf that passes ``conf check`` can run: code it names exists, crons are in range, no key is
silently dropped, no file is silently ignored, and a declared quality gate has its suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.config.issues import ConfError
from govlake.config.loader import load_config

pytestmark = pytest.mark.unit


def _issues(conf_dir: Path) -> list[str]:
    with pytest.raises(ConfError) as caught:
        load_config(conf_dir)
    return [str(issue) for issue in caught.value.issues]


def _edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` once; return the line where ``new`` starts."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("transform: subjects.enterprise_registry.transform:standardise",
         "transform: subjects.enterprise_registry.transform:standardize",
         "transform", "module subjects.enterprise_registry.transform defines no 'standardize'"),
        ("transform: subjects.enterprise_registry.transform:standardise",
         "transform: subjects.enterprise_registry.transfrom:standardise",
         "transform", "module subjects.enterprise_registry.transfrom cannot be found"),
        ("contract: subjects.enterprise_registry.contracts:enterprise_registry_raw",
         "contract: subjects.enterprise_registry.contracts:raw_rows",
         "contract", "defines no 'raw_rows'"),
    ],
)  # fmt: skip
def test_code_that_conf_names_must_exist(
    conf_dir: Path, old: str, new: str, field: str, message: str
) -> None:
    path = conf_dir / "datasets" / "enterprise_registry.yaml"
    line = _edit(path, old, new)
    (issue,) = _issues(conf_dir)
    assert issue.startswith(f"{path}:{line}: datasets.")
    assert f".{field}: " in issue and message in issue


def test_a_missing_spider_class_is_named(full_conf_dir: Path) -> None:
    path = full_conf_dir / "sources" / "penalty_notices_site.yaml"
    line = _edit(path, ":PenaltyNoticesSpider", ":PenaltySpider")
    (issue,) = _issues(full_conf_dir)
    assert issue.startswith(f"{path}:{line}: streams.0.spider: ")
    assert "defines no 'PenaltySpider'" in issue


@pytest.mark.parametrize("cron", ["99 99 99 99 99", "whenever", "0 25 * * *", "*/0 * * * *"])
def test_crons_out_of_range_are_refused(conf_dir: Path, cron: str) -> None:
    path = conf_dir / "pipelines" / "market_registry_ingest.yaml"
    line = _edit(path, 'schedule: "@daily"', f'schedule: "{cron}"')
    issue = _issues(conf_dir)[0]  # then: what the refused pipeline would have built
    assert issue.startswith(f"{path}:{line}: schedule: ")
    assert "not a cron expression with five fields in range" in issue


def test_a_bad_maintenance_schedule_is_refused(conf_dir: Path) -> None:
    path = conf_dir / "lakehouse.yaml"
    _edit(path, 'maintenance_schedule: "@weekly"', 'maintenance_schedule: "0 0 32 * *"')
    (issue,) = _issues(conf_dir)
    assert (
        "maintenance_schedule: " in issue
        and "not a cron expression with five fields in range" in issue
    )


def test_a_key_given_twice_is_an_error_not_the_last_value(conf_dir: Path) -> None:
    path = conf_dir / "pipelines" / "market_registry_ingest.yaml"
    line = _edit(path, 'schedule: "@daily"', 'schedule: "@daily"\nschedule: "@hourly"') + 1
    (issue,) = _issues(conf_dir)
    assert issue == f"{path}:{line}: schedule: duplicate key (first at line {line - 1})"


def test_a_yml_file_is_not_silently_ignored(conf_dir: Path) -> None:
    stray = conf_dir / "pipelines" / "extra.yml"
    stray.write_text((conf_dir / "pipelines" / "market_registry_ingest.yaml").read_text())
    (issue,) = _issues(conf_dir)
    assert issue == f"{stray}: not read: conf files end in .yaml (rename it)"


def test_a_declared_quality_gate_needs_its_suite(
    conf_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suites = tmp_path / "only_gold"
    suites.mkdir()
    monkeypatch.setenv("GOVLAKE_EXPECTATIONS", str(suites))
    (gold,) = [f for f in Path(__file__).parents[2].glob("expectations/gold__enterprise_dir*")]
    (suites / gold.name).write_bytes(gold.read_bytes())
    path = conf_dir / "datasets" / "enterprise_registry.yaml"
    (issue,) = _issues(conf_dir)
    assert issue.startswith(f"{path}:")
    assert "datasets.1.quality: no suite " in issue
    assert "silver__enterprise_registry.json for the declared quality gate" in issue


@pytest.mark.parametrize(
    ("file", "old", "new", "field"),
    [
        ("sources/market_registry.yaml", "default_url: sqlite:///",
         "default_url: postgresql://etl:hunter2@db.host/registry\n# was: sqlite:///",
         "default_url"),
        ("exchange/nodes.yaml", "default_url: file://", "default_url: sftp://tax:hunter2@h/\n#",
         "nodes.0.endpoints.0.files.default_url"),
        ("platform.yaml", None, "database: {default_url: 'postgresql://gl:hunter2@db/platform'}\n",
         "database.default_url"),
    ],
)  # fmt: skip
def test_no_password_is_accepted_inline(
    full_conf_dir: Path, file: str, old: str | None, new: str, field: str
) -> None:
    path = full_conf_dir / file
    if old is None:
        path.write_text(new, encoding="utf-8")
    else:
        _edit(path, old, new)
    issues = [i for i in _issues(full_conf_dir) if "must not carry a password" in i]
    assert len(issues) == 1 and f": {field}: " in issues[0], issues
    assert "hunter2" not in issues[0]


def test_storage_secrets_come_from_the_environment(
    conf_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = conf_dir / "lakehouse.yaml"
    _edit(path, "storage_options: {}", "storage_options:\n  aws_secret_access_key: abc123\n"
          "  aws_region: cn-north-1")  # fmt: skip
    (issue,) = _issues(conf_dir)
    assert issue.endswith("storage_options.aws_secret_access_key: a secret is not written in "
                          "conf: use ${VAR} (an environment variable)")  # fmt: skip
    monkeypatch.setenv("LAKE_SECRET", "abc123")
    _edit(path, "aws_secret_access_key: abc123", "aws_secret_access_key: ${LAKE_SECRET}")
    assert load_config(conf_dir).lakehouse.storage_options["aws_secret_access_key"] == "abc123"
