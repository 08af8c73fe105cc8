"""Quality gates: each policy on injected bad data, quarantine contents, results and scores."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from apps.cli.main import app
from govlake.config.loader import load_config
from govlake.config.models import Quality
from govlake.config.project import ProjectConfig, suite_file
from govlake.lakehouse import Lakehouse
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.derive import validated
from jobs.quality.gate import Decision, QualityGateError
from jobs.quality.results import RESULTS, latest
from jobs.quality.suites import load_suite, validate
from jobs.reprocess import reprocess
from jobs.runner import run_pipeline
from subjects.enterprise_registry import transform as enterprise_registry
from subjects.enterprise_registry.seed import enterprise
from subjects.enterprise_registry.transform import SILVER_SCHEMA

pytestmark = pytest.mark.integration
SILVER = "silver.enterprise_registry"
VALID = ["91350100M000100Y43", "91110000600037341L", "9111010501MPA69F8F", "9111010504JNX4Q3UQ"]


def _silver_rows(codes: list[str | None], **overrides: list[object]) -> pa.Table:
    n = len(codes)
    columns: dict[str, list[object]] = {
        "uscc": list(codes),
        "name": [f"企业{i}" for i in range(n)],
        "legal_representative": ["张三"] * n,
        "registered_capital_yuan": [Decimal("1000000.00")] * n,
        "address": ["杭州市西湖区"] * n,
        "established_on": [datetime(2010, 1, 1).date()] * n,
        "status": ["active"] * n,
        "updated_at": [datetime(2024, 1, 1)] * n,
    }
    columns.update(overrides)
    schema = pa.schema([f.with_nullable(True) for f in SILVER_SCHEMA])
    return pa.Table.from_pydict(columns, schema=schema)


@pytest.fixture
def bad_rows() -> pa.Table:
    """Two good rows, then: wrong check digit, a duplicated key, no name, negative capital,
    an unknown status."""
    codes = [VALID[0], VALID[1], VALID[2][:-1] + "0", VALID[3], VALID[3], VALID[2], VALID[2]]
    return _silver_rows(
        codes,
        name=["a", "b", "c", "d", "e", None, "g"],
        registered_capital_yuan=[Decimal("1.00")] * 6 + [Decimal("-5.00")],
        status=["active"] * 6 + ["zombie"],
    )


def _decide(
    project: ProjectConfig, policy: str, rows: pa.Table, *, input_rows: int, run_id: str
) -> Decision:
    dataset = project.dataset(SILVER).model_copy(update={"quality": Quality(policy=policy)})
    return validated(
        Runtime(project), dataset, rows, input_rows=input_rows, pipeline="p", run_id=run_id
    )


def test_every_derived_dataset_has_a_loadable_suite(full_conf_dir: Path) -> None:
    from great_expectations.core import ExpectationSuite

    import jobs.quality.custom_expectations  # noqa: F401

    project = load_config(full_conf_dir)
    for ref, dataset in project.datasets.items():
        if dataset.zone == "bronze":
            continue
        path = suite_file(project.expectations_dir, ref)
        suite = ExpectationSuite(**load_suite(path))
        assert suite.name == ref.replace(".", "__")
        assert len(suite.expectations) >= 8


def test_quarantine_policy_moves_each_failing_row_with_its_reason(
    project: ProjectConfig, bad_rows: pa.Table
) -> None:
    decision = _decide(project, "quarantine", bad_rows, input_rows=7, run_id="r")
    assert decision.rows.column("uscc").to_pylist() == [VALID[0], VALID[1]]
    assert decision.rejects is not None
    reasons = dict(
        zip(
            range(decision.rejects.num_rows),
            decision.rejects.column("_reason").to_pylist(),
            strict=True,
        )
    )
    assert decision.rejects.num_rows == 5
    joined = "\n".join(reasons.values())
    assert f"expect_column_values_to_be_valid_uscc(uscc): {VALID[2][:-1]}0" in joined
    assert f"expect_column_values_to_be_unique(uscc): {VALID[3]}" in joined
    assert "expect_column_values_to_not_be_null(name): None" in joined
    assert "expect_column_values_to_be_between(registered_capital_yuan): -5.00" in joined
    assert "expect_column_values_to_be_in_set(status): zombie" in joined
    assert decision.validation is not None
    assert 0 < decision.validation.score < 100


def test_fail_policy_blocks_and_records(project: ProjectConfig, bad_rows: pa.Table) -> None:
    with pytest.raises(QualityGateError) as caught:
        _decide(project, "fail", bad_rows, input_rows=7, run_id="r-blocked")
    message = str(caught.value)
    assert message.startswith(f"{SILVER}: suite silver__enterprise_registry failed, nothing")
    assert "expect_column_values_to_be_valid_uscc(uscc) (1 unexpected" in message
    recorded = latest(Lakehouse(project.lakehouse), SILVER)
    assert set(recorded.column("action").to_pylist()) == {"blocked"}
    assert recorded.column("version").null_count == recorded.num_rows
    failed = recorded.filter(pc.invert(recorded["success"]))
    assert failed.num_rows >= 5


def test_warn_policy_lets_everything_through(project: ProjectConfig, bad_rows: pa.Table) -> None:
    decision = _decide(project, "warn", bad_rows, input_rows=7, run_id="r")
    assert decision.rows.num_rows == bad_rows.num_rows
    assert decision.rejects is None
    assert decision.validation is not None
    assert not decision.validation.success


def test_a_ninety_percent_drop_blocks_even_under_quarantine(project: ProjectConfig) -> None:
    rows = _silver_rows(VALID[:2])
    with pytest.raises(QualityGateError, match="expect_table_row_count_to_be_between"):
        _decide(project, "quarantine", rows, input_rows=20, run_id="r")


def _inject(db: Path, rows: list[dict[str, object]]) -> None:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(enterprise.insert(), rows)
    engine.dispose()


HUGE = {
    "uscc": VALID[0],
    "name": "天价资本有限公司",
    "legal_representative": "李四",
    "registered_capital": "9999999亿元",
    "address": "北京市",
    "established": "2001-01-01",
    "status": "存续",
    "updated_at": datetime(2030, 1, 1),
}


def test_pipeline_quarantines_what_the_suite_rejects(
    project: ProjectConfig, registry_db: Path
) -> None:
    for pipeline in project.pipeline_order():
        run_pipeline(Runtime(project), pipeline.name)
    _inject(registry_db, [HUGE])
    for pipeline in project.pipeline_order():
        run_pipeline(Runtime(project), pipeline.name)
    lake = Lakehouse(project.lakehouse)
    quarantine = lake.read(SILVER + "__quarantine").filter(pc.field("uscc") == VALID[0])
    assert quarantine.column("_reason").to_pylist() == [
        "expect_column_values_to_be_between(registered_capital_yuan): 999999900000000.00"
    ]
    assert lake.read(SILVER).filter(pc.field("uscc") == VALID[0]).num_rows == 0
    actions = latest(lake, SILVER).column("action").to_pylist()
    assert set(actions) == {"quarantined"}


def test_pipeline_blocked_by_fail_policy_reprocesses_after_the_fix(
    conf_dir: Path, registry_db: Path
) -> None:
    datasets = conf_dir / "datasets" / "enterprise_registry.yaml"
    text = datasets.read_text(encoding="utf-8")
    datasets.write_text(text.replace("{policy: quarantine,", "{policy: fail,"), encoding="utf-8")
    project = load_config(conf_dir)
    _inject(registry_db, [HUGE])
    run_pipeline(Runtime(project), "market_registry_ingest")
    with pytest.raises(QualityGateError, match="registered_capital_yuan"):
        run_pipeline(Runtime(project), "enterprise_registry_refine")
    lake = Lakehouse(project.lakehouse)
    assert not lake.exists(SILVER)
    assert not lake.exists(SILVER + "__quarantine"), "a blocked build commits nothing"

    datasets.write_text(text, encoding="utf-8")
    fixed = load_config(conf_dir)
    run_pipeline(Runtime(fixed), "enterprise_registry_refine")
    assert lake.read(SILVER).num_rows > 250
    reasons = lake.read(SILVER + "__quarantine").column("_reason").to_pylist()
    assert sum("registered_capital_yuan" in r for r in reasons) == 1


def test_quality_commands(
    project: ProjectConfig, registry_db: Path, sign_in: Callable[..., Principal]
) -> None:
    sign_in(project.conf_dir, "engineer", "data_engineer", org="jinan")
    for pipeline in project.pipeline_order():
        run_pipeline(Runtime(project), pipeline.name)
    runner = CliRunner()
    conf = ["--conf", str(project.conf_dir)]
    checked = runner.invoke(app, ["quality", "run", "gold.enterprise_directory", *conf])
    assert checked.exit_code == 0, checked.output
    assert "expect_column_values_to_be_valid_uscc(uscc)" in checked.output
    assert "score" in checked.output
    assert (project.home / "quality" / "data_docs" / "index.html").is_file()
    report = runner.invoke(app, ["quality", "report", *conf])
    assert report.exit_code == 0, report.output
    assert "gold.enterprise_directory" in report.output
    assert "silver.enterprise_registry" in report.output
    results = Lakehouse(project.lakehouse).read(RESULTS)
    assert set(results.column("action").to_pylist()) == {"published", "checked"}
    missing = runner.invoke(app, ["quality", "run", "bronze.enterprise_registry", *conf])
    assert missing.exit_code == 1
    assert "has no suite" in missing.stderr


def test_quarantined_rows_are_listed_and_reprocessed_after_a_fix(
    project: ProjectConfig,
    registry_db: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sign_in: Callable[..., Principal],
) -> None:
    sign_in(project.conf_dir, "analyst", "analyst", org="market_regulation")
    suspended = {**HUGE, "registered_capital": "100万元", "status": "停业"}
    _inject(registry_db, [suspended])
    for pipeline in project.pipeline_order():
        run_pipeline(Runtime(project), pipeline.name)
    lake = Lakehouse(project.lakehouse)
    held = lake.read(SILVER + "__quarantine")
    before = held.num_rows
    mine = held.filter(pc.field("uscc") == VALID[0]).to_pylist()
    assert [(r["_stage"], r["_reason"]) for r in mine] == [
        ("transform", "status: unknown value: 停业")
    ]
    runner = CliRunner()
    listed = runner.invoke(
        app, ["quality", "quarantine", SILVER, "--conf", str(project.conf_dir), "--limit", "1000"]
    )
    assert "status: unknown value: 停业" in listed.output

    # The transform learns the status; the suite does not know it yet.
    monkeypatch.setitem(enterprise_registry.STATUS_CODES, "停业", "suspended")
    first = reprocess(Runtime(project), SILVER, run_id="fix-1")
    assert (first.read, first.published, first.still_quarantined) == (before, 0, before)
    mine = lake.read(SILVER + "__quarantine").filter(pc.field("uscc") == VALID[0]).to_pylist()
    assert [(r["_stage"], r["_reason"]) for r in mine] == [
        ("suite", "expect_column_values_to_be_in_set(status): suspended")
    ]

    # Now the suite allows it too.
    suites = tmp_path / "expectations"
    shutil.copytree(project.expectations_dir, suites)
    path = suites / "silver__enterprise_registry.json"
    path.write_text(path.read_text().replace('"moved_out"]', '"moved_out", "suspended"]'))
    monkeypatch.setenv("GOVLAKE_EXPECTATIONS", str(suites))
    second = reprocess(Runtime.load(project.conf_dir), SILVER, run_id="fix-2")
    assert (second.published, second.still_quarantined) == (1, before - 1)
    published = lake.read(SILVER).filter(pc.field("uscc") == VALID[0]).to_pylist()
    assert [r["status"] for r in published] == ["suspended"]
    assert lake.read(SILVER + "__quarantine").num_rows == before - 1
    again = reprocess(Runtime.load(project.conf_dir), SILVER, run_id="fix-3")
    assert again.published == 0
    assert lake.read(SILVER).filter(pc.field("uscc") == VALID[0]).num_rows == 1


def test_a_crash_right_after_the_commit_keeps_its_validation(
    project: ProjectConfig, registry_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.quality import results

    run_pipeline(Runtime(project), "market_registry_ingest")

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed after the commit")

    with monkeypatch.context() as patched:
        patched.setattr(results, "record_summary", crash)
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(Runtime(project), "enterprise_registry_refine")
    lake = Lakehouse(project.lakehouse)
    committed = lake.version(SILVER)
    assert committed is not None, "the rows were committed before the crash"
    assert latest(lake, SILVER).num_rows == 0, "and their validation was not recorded"

    run_pipeline(Runtime(project), "enterprise_registry_refine")  # nothing new to build
    recovered = latest(lake, SILVER)
    assert set(recovered.column("version").to_pylist()) == {committed}
    assert set(recovered.column("action").to_pylist()) == {"published"}
    expectations = len(load_suite(suite_file(project.expectations_dir, SILVER))["expectations"])
    assert recovered.num_rows == expectations
    run_pipeline(Runtime(project), "enterprise_registry_refine")
    assert lake.read(RESULTS).filter(pc.field("dataset") == SILVER).num_rows == expectations


def test_data_docs_name_the_run_and_say_what_an_identifier_check_asks(tmp_path: Path) -> None:
    suite = {"expectations": [
        {"type": "expect_column_values_to_be_valid_uscc",
         "kwargs": {"column": "uscc", "mostly": 0.9}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "uscc"}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 5},
         "meta": {"on_failure": "warn"}},
    ]}  # fmt: skip
    rows = pa.table({"uscc": ["91350100M000100Y43", "91350100M000100Y44"]})
    done = validate(
        rows, tmp_path / "silver__x.json", suite, {}, tmp_path, run_name="r7.silver.x.v3"
    )
    assert not done.success  # one check digit is wrong
    docs = tmp_path / "data_docs"
    [page] = (docs / "validations" / "silver__x" / "r7.silver.x.v3").glob("*/*.html")
    html = page.read_text(encoding="utf-8")
    assert "valid per GB 32100-2015" in html and "at least" in html
    assert "expect_column_values_to_be_valid_uscc(" not in html  # no raw call
    assert "r7.silver.x.v3" in (docs / "index.html").read_text(encoding="utf-8")
    # A miss that only warns is in its own advisory suite: it never fails the suite itself.
    advisory = docs / "validations" / "silver__x__advisory" / "r7.silver.x.v3"
    assert len(list(advisory.glob("*/*.html"))) == 1 and "expect_table_row_count" not in html
    assert [o.expectation for o in done.outcomes] == [
        "expect_column_values_to_be_valid_uscc", "expect_column_values_to_be_unique",
        "expect_table_row_count_to_be_between",
    ]  # fmt: skip
    assert [o.blocking for o in done.outcomes] == [True, True, False]
