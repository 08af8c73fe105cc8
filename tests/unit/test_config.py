"""The conf loader: the shipped conf is valid; every kind of mistake is named with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from govlake.config.issues import ConfError
from govlake.config.loader import load_config

pytestmark = pytest.mark.unit


def _errors(conf_dir: Path) -> list[str]:
    with pytest.raises(ConfError) as caught:
        load_config(conf_dir)
    return [str(issue) for issue in caught.value.issues]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_conf_is_valid(full_conf_dir: Path, tmp_path: Path) -> None:
    config = load_config(full_conf_dir)
    assert set(config.datasets) == {
        "bronze.enterprise_registry",
        "silver.enterprise_registry",
        "gold.enterprise_directory",
        "bronze.social_insurance_payments",
        "silver.social_insurance_payments",
        "bronze.penalty_notices",
        "silver.penalty_notices",
        "gold.enterprise_credit_profile",
    }
    order = [p.name for p in config.pipeline_order()]
    assert order[-1] == "credit_profile_publish"  # it needs the three silver tables
    assert order.index("market_registry_ingest") < order.index("enterprise_registry_refine")
    assert order.index("penalty_notices_crawl") < order.index("penalty_notices_refine")
    assert {type(s).__name__ for s in config.sources.values()} == {
        "DatabaseSource",
        "FileSource",
        "CrawlSource",
    }
    assert config.lakehouse.root == f"{tmp_path}/home/lakehouse"
    assert config.graph.builder("silver.enterprise_registry") == "enterprise_registry_refine"


def test_unknown_field_is_named_with_file_and_line(conf_dir: Path) -> None:
    path = conf_dir / "sources" / "market_registry.yaml"
    _edit(path, "    batch_size: 50000", "    batch_size: 50000\n    bacth: 3")
    (error,) = _errors(conf_dir)
    line = path.read_text().splitlines().index("    bacth: 3") + 1
    assert error.startswith(f"{path}:{line}: streams.0.bacth: ")
    assert "Extra inputs are not permitted" in error


def test_every_problem_is_reported_at_once(conf_dir: Path) -> None:
    datasets = conf_dir / "datasets" / "enterprise_registry.yaml"
    _edit(
        datasets, "    write: merge\n    latest_by", "    write: merge\n    keys: []\n    latest_by"
    )
    _edit(
        datasets,
        "owner: market_regulation\n    keys: [uscc]\n    classification: public",
        "owner: tax_bureau\n    keys: [uscc]\n    classification: public",
    )
    pipeline = conf_dir / "pipelines" / "market_registry_ingest.yaml"
    _edit(pipeline, 'schedule: "@daily"', 'schedule: "every day"')
    errors = _errors(conf_dir)
    assert any("datasets.1.keys" in e or "datasets.1: " in e and "merge needs" in e for e in errors)
    assert any("owner: unknown department 'tax_bureau'" in e for e in errors)
    assert any(f"{pipeline}:5: schedule: " in e and "not a cron" in e for e in errors)


def test_malformed_yaml_names_the_line(conf_dir: Path) -> None:
    path = conf_dir / "engine.yaml"
    path.write_text("spark:\n  master: local[*]\n  options: {a: 1\n", encoding="utf-8")
    (error,) = _errors(conf_dir)
    assert error.startswith(f"{path}:") and "not valid YAML" in error


def test_missing_lakehouse_file(conf_dir: Path) -> None:
    (conf_dir / "lakehouse.yaml").unlink()
    assert _errors(conf_dir) == [f"{conf_dir / 'lakehouse.yaml'}: required file is missing"]


def test_missing_folder(tmp_path: Path) -> None:
    assert "configuration folder not found" in _errors(tmp_path / "nowhere")[0]


def test_cross_references(conf_dir: Path) -> None:
    datasets = conf_dir / "datasets" / "enterprise_registry.yaml"
    _edit(datasets, "inputs: [silver.enterprise_registry]", "inputs: [silver.enterprise_registery]")
    _edit(datasets, "stream: enterprise}", "stream: enterprises}")
    errors = _errors(conf_dir)
    assert any("inputs.0: unknown dataset 'silver.enterprise_registery'" in e for e in errors)
    assert any("has no stream 'enterprises'" in e for e in errors)


def test_secrets_stay_out_of_yaml(conf_dir: Path) -> None:
    path = conf_dir / "sources" / "market_registry.yaml"
    _edit(
        path,
        "default_url: sqlite:///${GOVLAKE_HOME}/sources/market_registry.db",
        "default_url: postgresql://etl:hunter2@127.0.0.1/registry",
    )
    (error,) = _errors(conf_dir)
    assert "default_url" in error and "must not carry a password" in error


def test_undefined_environment_variable(conf_dir: Path) -> None:
    _edit(conf_dir / "lakehouse.yaml", "root: ${GOVLAKE_HOME}/lakehouse", "root: ${LAKE_ROOT}")
    (error,) = _errors(conf_dir)
    assert "root: environment variable LAKE_ROOT is not set" in error


def test_append_without_cursor_would_duplicate(conf_dir: Path) -> None:
    _edit(conf_dir / "sources" / "market_registry.yaml", "    cursor: updated_at\n", "")
    (error,) = _errors(conf_dir)
    assert "write: append without a source cursor" in error


def test_derived_dataset_listed_before_its_input(conf_dir: Path) -> None:
    _edit(
        conf_dir / "pipelines" / "enterprise_registry_refine.yaml",
        "builds: [silver.enterprise_registry, gold.enterprise_directory]",
        "builds: [gold.enterprise_directory, silver.enterprise_registry]",
    )
    errors = _errors(conf_dir)
    assert any("listed before its input silver.enterprise_registry" in e for e in errors)


def test_conf_check_command(full_conf_dir: Path) -> None:
    conf_dir = full_conf_dir
    runner = CliRunner()
    good = runner.invoke(app, ["conf", "check", str(conf_dir)])
    assert good.exit_code == 0, good.output
    assert "ok: 3 sources, 8 datasets, 7 pipelines" in good.output
    _edit(conf_dir / "engine.yaml", "shuffle_partitions: 4", "shuffle_partitions: 0")
    bad = runner.invoke(app, ["conf", "check", str(conf_dir)])
    assert bad.exit_code == 1
    assert (
        "engine.yaml:5: spark.shuffle_partitions: Input should be greater than or equal to 1"
        in (bad.stderr)
    )
    assert "nothing was run" in bad.stderr


def test_spark_fusion_needs_the_keys_its_inputs_meet_by(full_conf_dir: Path) -> None:
    _edit(full_conf_dir / "datasets" / "credit_profile.yaml", "    keys: [uscc]\n", "")
    errors = _errors(full_conf_dir)
    assert any(
        "credit_profile.yaml:3: datasets.0: engine: spark with several inputs needs 'keys'" in e
        for e in errors
    )


def test_catalog_settings_are_checked(full_conf_dir: Path) -> None:
    datasets = full_conf_dir / "datasets"
    _edit(datasets / "credit_profile.yaml", "category: credit", "category: weather")
    _edit(
        datasets / "penalty_notices.yaml",
        "category: credit\n      columns:\n        url",
        "category: credit\n      sharing: not_shared\n      sharing_conditions: x\n"
        "      columns:\n        url",
    )
    _edit(
        full_conf_dir / "catalog.yaml", "platform_department: platform", "platform_department: it"
    )
    errors = _errors(full_conf_dir)
    assert any(
        "credit_profile.yaml:16: datasets.0.catalog.category: unknown category 'weather'" in e
        and "social_security" in e  # the extra categories of catalog.yaml are known
        for e in errors
    ), errors
    assert any("catalog: sharing_conditions given, but sharing is not_shared" in e
               for e in errors), errors  # fmt: skip
    assert any("catalog.yaml: platform_department: unknown department 'it'" in e for e in errors)


def test_a_bad_catalog_file_is_reported_without_follow_on_errors(full_conf_dir: Path) -> None:
    path = full_conf_dir / "catalog.yaml"
    _edit(path, '"legal_representative|party"', '"(unclosed"')
    (error,) = _errors(full_conf_dir)
    line = next(n for n, row in enumerate(path.read_text().splitlines(), 1) if "(unclosed" in row)
    assert f"catalog.yaml:{line}: sensitive_columns.0.pattern" in error
    assert "not a regular expression" in error


def _line(path: Path, text: str) -> int:
    return next(n for n, row in enumerate(path.read_text().splitlines(), 1) if text in row)


def test_deadlines_and_handling_times_are_checked(full_conf_dir: Path) -> None:
    ingest = full_conf_dir / "pipelines" / "market_registry_ingest.yaml"
    _edit(ingest, "{after: 2h, reference: queued_at}", "{after: soon, reference: queued_at}")
    refine = full_conf_dir / "pipelines" / "enterprise_registry_refine.yaml"
    _edit(refine, "schedule: on_update", "schedule: on_update\ndeadline: {after: 1h, "
          "reference: logical_date}")  # fmt: skip
    subscriptions = full_conf_dir / "exchange" / "subscriptions.yaml"
    _edit(subscriptions, "reference: logical_date}", "reference: started_at}")
    catalog = full_conf_dir / "catalog.yaml"
    _edit(catalog, "  approve: 3", "  approve: 0")
    _edit(catalog, "timezone: Asia/Shanghai", "timezone: Mars/Olympus")
    errors = _errors(full_conf_dir)
    assert f"{ingest}:{_line(ingest, 'after: soon')}: deadline.after: " in "\n".join(errors)
    assert any("'soon' is not a duration such as 30m, 2h or 1d12h" in e for e in errors), errors
    assert any(e.startswith(f"{refine}:") and "runs scheduled on_update have no logical date; "
               "use reference: queued_at" in e for e in errors), errors  # fmt: skip
    assert any(f"{subscriptions}:{_line(subscriptions, 'started_at')}: subscriptions.0.deadline."
               "reference: " in e for e in errors), errors  # fmt: skip
    assert any(f"{catalog}:{_line(catalog, 'approve: 0')}: handling.approve: " in e
               for e in errors), errors  # fmt: skip
    assert any("handling.timezone: " in e and "unknown time zone 'Mars/Olympus'" in e
               for e in errors), errors  # fmt: skip


def test_a_deadline_of_no_time_is_refused(conf_dir: Path) -> None:
    ingest = conf_dir / "pipelines" / "market_registry_ingest.yaml"
    _edit(ingest, "{after: 2h,", "{after: 0m,")
    errors = _errors(conf_dir)  # and the datasets no pipeline builds now
    assert any(f"{ingest}:" in e and "deadline.after" in e and "'0m' is no time at all" in e
               for e in errors), errors  # fmt: skip
