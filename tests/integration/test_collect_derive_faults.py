"""Builds killed (SIGKILL) at each step of collect and derive, then re-run: no row lost or doubled.

The real ``govlake run`` collects from the local PostgreSQL and from a drop folder (on disk,
or behind a real FTP server), and derives a ``merge`` silver table (with quarantine), an
``overwrite`` gold table (both with a validation suite) and an ``overwrite_partition`` one. A
process is killed while it reads the source, while it downloads a file, before and after
every kind of Delta commit a build makes (quarantine, rows, file register entry, merge,
overwrite, partition overwrite, validation record): see ``tests.collect_derive_faults``.
After the re-runs (one, two, or two at once) every table holds each source row exactly once,
its quarantine each rejected row once, each commit's validation is recorded once, no lease is
left held, the Delta logs read, and no file under a final name is partial.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from apps.local_servers import FtpServer
from govlake.config.loader import load_config
from govlake.lakehouse import QUARANTINE_SUFFIX, Lakehouse
from govlake.leases import lease
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.quality.results import RESULTS
from jobs.runner import run_pipeline
from tests.collect_derive_faults import commit_env
from tests.conftest import REPO
from tests.integration.conftest import SOURCE_YAML

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 3000
BRONZE, DROP, SILVER, GOLD = "bronze.src", "bronze.drop", "silver.src_clean", "gold.src_copy"
MALFORMED = 7

DROP_SOURCE = """\
name: drop
kind: files
title: test drop
owner: platform
transport: {transport}
{conn}folder: {folder}
streams:
  - name: rows
    pattern: "rows_*.csv"
    format: csv
    encoding: utf-8
    batch_rows: 500
{archive}"""

DATASETS = """\
datasets:
  - zone: bronze
    name: drop
    title: dropped rows
    owner: platform
    keys: [id]
    write: append
    collect: {source: drop, stream: rows}
  - zone: silver
    name: src_clean
    title: test rows, cleaned
    owner: platform
    keys: [id]
    write: merge
    latest_by: updated_at
    inputs: [bronze.src]
    transform: tests.integration.concurrent_transforms:reject_negative
    engine: arrow
    quality: {policy: quarantine}
  - zone: gold
    name: src_copy
    title: test rows, published
    owner: platform
    keys: [id]
    write: overwrite
    inputs: [silver.src_clean]
    transform: tests.integration.concurrent_transforms:passthrough
    engine: arrow
    quality: {policy: fail}
  - zone: gold
    name: src_parts
    title: test rows, by kind
    owner: platform
    keys: [id]
    write: overwrite_partition
    partition_by: [kind]
    inputs: [silver.src_clean]
    transform: tests.integration.concurrent_transforms:passthrough
    engine: arrow
"""

PIPELINE = """\
name: {name}
title: test {name}
description: build {ref}
owner: platform
schedule: "{schedule}"
builds: [{ref}]
"""

SUITE = """\
{{"name": "{name}", "expectations": [
  {{"type": "expect_column_values_to_not_be_null", "kwargs": {{"column": "id"}}}},
  {{"type": "expect_column_values_to_be_between",
    "kwargs": {{"column": "amount", "min_value": 0, "max_value": 1000}}}}
]}}
"""

PARTS = "gold.src_parts"
PIPELINES = {"src_ingest": BRONZE, "drop_ingest": DROP, "src_refine": SILVER,
             "src_publish": GOLD, "src_parts": PARTS}  # fmt: skip
EXPECTATIONS = 2


@dataclass(frozen=True)
class Scene:
    """A conf folder, its lakehouse and the source rows its builds read."""

    conf: Path
    lake: Lakehouse
    home: Path
    engine: sa.Engine
    table: sa.Table
    drop: Path

    def run(self, pipeline: str, *, step: str | None = None) -> subprocess.CompletedProcess[str]:
        """``govlake run pipeline``, killed at ``step`` (see ``tests.collect_derive_faults``)."""
        command = [sys.executable, "-m", "tests.collect_derive_faults", step or "none"]
        env = {**os.environ, "COLUMNS": "400"}
        kind, _, ref = (step or "").partition(":")
        if kind in {"before-commit", "after-commit"}:
            env |= commit_env(kind.removesuffix("-commit"), ref, self.lake.root)
        if step is None:
            command = [str(Path(sys.executable).parent / "govlake")]
        return subprocess.run(
            [*command, "run", pipeline, "--conf", str(self.conf)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def killed(self, pipeline: str, step: str) -> None:
        """Run ``pipeline`` and see it die by SIGKILL at ``step``, not by an error."""
        crashed = self.run(pipeline, step=step)
        assert crashed.returncode == -9, (step, crashed.returncode, crashed.stderr[-2000:])

    def rerun(self, pipeline: str) -> None:
        """Run ``pipeline`` again to the end."""
        again = self.run(pipeline)
        assert again.returncode == 0, again.stderr[-2000:]

    def build(self, pipeline: str) -> None:
        """Run ``pipeline`` in this process (the steps around the one under test)."""
        run_pipeline(Runtime.load(self.conf), pipeline)

    def add_rows(self, first: int, count: int) -> None:
        """Source rows ``first ..``, each newer than the ones before; every 20th amount < 0."""
        start = datetime(2024, 1, 1) + timedelta(minutes=first)
        rows = [
            {"id": i, "title": f"第{i}条", "amount": i % 20 - 1, "kind": ("even", "odd")[i % 2],
             "updated_at": start + timedelta(seconds=i - first)}
            for i in range(first, first + count)
        ]  # fmt: skip
        with self.engine.begin() as db:
            db.execute(self.table.insert(), rows)

    def drop_file(self, name: str, first: int, count: int) -> None:
        """A CSV of rows ``first ..`` (each over 400 bytes) with malformed lines among them."""
        lines = ["id,title,amount,updated_at"]
        for i in range(first, first + count):
            lines.append(f"{i},{'行' * 130}{i},{i % 20},2024-01-01T00:00:{i % 60:02d}")
            if (i - first) % (count // MALFORMED) == 0 and i - first < count - MALFORMED:
                lines.append(f"{i},only two fields")
        (self.drop / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def scene(
    postgres_schema: tuple[sa.Engine, str],
    source_conf: Callable[..., Path],
    sign_in: Callable[..., Principal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Scene]:
    """``scene(transport="local")``: the conf, sources and signed-in engineer of a test.

    The source table has an enum column, so it is read through SQLAlchemy in batches of 500.
    """
    engine, schema = postgres_schema
    table = sa.Table(
        "rows",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("title", sa.String(100)),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("kind", sa.Enum("odd", "even", name="kind", schema=schema)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        schema=schema,
    )
    table.create(engine)
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", "postgres://postgres@127.0.0.1:5432/test")
    suites = tmp_path / "expectations"
    suites.mkdir()
    for ref in (SILVER, GOLD):
        name = ref.replace(".", "__")
        (suites / f"{name}.json").write_text(SUITE.format(name=name), encoding="utf-8")
    monkeypatch.setenv("GOVLAKE_EXPECTATIONS", str(suites))

    def make(transport: str = "local", folder: Path | None = None, archive: bool = False) -> Scene:
        drop = folder or tmp_path / "drop"
        drop.mkdir(exist_ok=True)
        conf = source_conf("src", _database_source(schema, 500))
        (conf / "sources" / "drop.yaml").write_text(
            DROP_SOURCE.format(
                transport=transport,
                conn="" if transport == "local" else "conn_id: drop_server\n",
                folder=drop if transport == "local" else "/drop",
                archive="    archive_folder: done\n" if archive else "",
            ),
            encoding="utf-8",
        )
        (conf / "datasets" / "more.yaml").write_text(DATASETS, encoding="utf-8")
        for name, ref in PIPELINES.items():
            (conf / "pipelines" / f"{name}.yaml").write_text(
                PIPELINE.format(
                    name=name, ref=ref, schedule="@daily" if "ingest" in name else "on_update"
                )
            )
        (conf / "pipelines" / "src.yaml").unlink()  # source_conf's, the same as src_ingest
        sign_in(conf, "engineer", "data_engineer")
        config = load_config(conf)
        return Scene(conf, Lakehouse(config.lakehouse), config.home, engine, table, drop)

    return make


def _ids(lake: Lakehouse, ref: str) -> list[int]:
    return [int(i) for i in lake.read(ref, columns=["id"]).column("id").to_pylist()]


def assert_exactly_once(scene: Scene, ref: str, expected: set[int]) -> None:
    """``ref`` holds each expected id once and nothing else; its log and files are whole."""
    lake = scene.lake
    ids = _ids(lake, ref)
    assert (len(ids), len(set(ids))) == (len(expected), len(expected)), (ref, "lost or doubled")
    assert set(ids) == expected
    assert lake.missing_files(ref) == []
    assert lake.table(ref).history()  # the whole log reads
    folder = Path(lake.uri(ref).removeprefix("file://"))
    for data in folder.rglob("*.parquet"):  # committed or orphaned, never partial
        pq.read_metadata(data)
    with lease(scene.home, "table", ref, holder="check"):  # not left held by the killed run
        pass


def assert_validated_once(scene: Scene, ref: str) -> None:
    """Every commit of ``ref`` that carries a validation has it recorded once, no more."""
    results = scene.lake.read(RESULTS).filter(pc.field("dataset") == ref)
    committed = [v for v, _ in scene.lake.committed_metadata(ref, "quality")]
    assert committed, f"{ref}: no commit carries its validation"
    counts = results.column("version").value_counts().to_pylist()
    assert {c["values"]: c["counts"] for c in counts} == dict.fromkeys(committed, EXPECTATIONS)


def _source(scene: Scene, upto: int) -> tuple[set[int], set[int]]:
    """The source ids ``0 .. upto-1`` that silver takes, and those it quarantines."""
    ids = set(range(upto))
    rejected = {i for i in ids if i % 20 - 1 < 0}
    return ids - rejected, rejected


# -- collect from PostgreSQL --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "reruns"),
    [("mid-read:3", 1), ("before-commit:" + BRONZE, 1), ("after-commit:" + BRONZE, 2)],
)
def test_database_collect_killed_then_rerun_loads_each_row_once(
    scene: Callable[..., Scene], step: str, reruns: int
) -> None:
    s = scene()
    s.add_rows(0, ROWS)
    s.killed("src_ingest", step)
    committed = step.startswith("after")
    assert s.lake.version(BRONZE) == (0 if committed else None), "killed at the step asked"
    for _ in range(reruns):
        s.rerun("src_ingest")
    assert_exactly_once(s, BRONZE, set(range(ROWS)))
    s.add_rows(ROWS, 500)  # the cursor committed with the rows goes on from there
    s.build("src_ingest")
    assert_exactly_once(s, BRONZE, set(range(ROWS + 500)))


def test_database_collect_killed_then_two_reruns_at_once_load_each_row_once(
    scene: Callable[..., Scene],
) -> None:
    s = scene()
    s.add_rows(0, ROWS)
    s.killed("src_ingest", "before-commit:" + BRONZE)
    args = [str(Path(sys.executable).parent / "govlake"), "run", "src_ingest", "--conf",
            str(s.conf)]  # fmt: skip
    started = [subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]  # fmt: skip
    ended = []
    for process in started:
        _, stderr = process.communicate(timeout=300)
        ended.append((process.returncode, stderr))
    assert any(code == 0 for code, _ in ended), ended
    for code, stderr in ended:
        assert code == 0 or "another run holds it" in stderr.strip().splitlines()[-1], stderr
    assert_exactly_once(s, BRONZE, set(range(ROWS)))


# -- collect from a drop folder -----------------------------------------------------------------

DROP_STEPS = [
    "mid-read:1",  # the file's rows are one batch: killed when the writer asks for more
    "before-commit:" + DROP + QUARANTINE_SUFFIX,
    "after-commit:" + DROP + QUARANTINE_SUFFIX,
    "before-commit:" + DROP,
    "after-commit:" + DROP,
]


@pytest.mark.parametrize("step", DROP_STEPS)
def test_file_drop_killed_then_rerun_loads_each_row_and_malformed_line_once(
    scene: Callable[..., Scene], step: str
) -> None:
    s = scene(archive=True)
    s.drop_file("rows_1.csv", 0, ROWS)
    s.killed("drop_ingest", step)
    s.rerun("drop_ingest")
    s.build("drop_ingest")
    assert_exactly_once(s, DROP, set(range(ROWS)))
    quarantined = s.lake.read(DROP + QUARANTINE_SUFFIX)
    assert quarantined.num_rows == MALFORMED
    assert len(set(quarantined.column("_line").to_pylist())) == MALFORMED
    assert [f.path for f in s.lake.collected_files(DROP)] == [str(s.drop / "rows_1.csv")]
    assert os.listdir(s.drop) == ["done"] and os.listdir(s.drop / "done") == ["rows_1.csv"]
    assert list((s.home / "staging" / DROP).iterdir()) == [], "no download left behind"


@pytest.mark.parametrize("step", ["before-commit:" + DROP, "after-commit:" + DROP])
def test_same_content_dropped_again_killed_while_registered_loads_nothing_twice(
    scene: Callable[..., Scene], step: str
) -> None:
    s = scene()
    s.drop_file("rows_1.csv", 0, ROWS)
    s.build("drop_ingest")
    shutil.copyfile(s.drop / "rows_1.csv", s.drop / "rows_2.csv")  # only registered, no rows
    s.killed("drop_ingest", step)
    s.rerun("drop_ingest")
    assert_exactly_once(s, DROP, set(range(ROWS)))
    assert s.lake.read(DROP + QUARANTINE_SUFFIX).num_rows == MALFORMED
    second, first = s.lake.collected_files(DROP)
    assert (second.path, second.duplicate_of) == (str(s.drop / "rows_2.csv"), first.path)


def test_ftp_drop_killed_mid_download_then_rerun_loads_each_row_once(
    scene: Callable[..., Scene], ftp_server: FtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DROP_SERVER", ftp_server.url)
    s = scene(transport="ftp", folder=ftp_server.root / "drop")
    s.drop_file("rows_1.csv", 0, ROWS)
    assert (s.drop / "rows_1.csv").stat().st_size > 1 << 20, "more than one chunk"
    s.killed("drop_ingest", "mid-download")
    (part,) = (s.home / "staging" / DROP).iterdir()
    assert 0 < part.stat().st_size < (s.drop / "rows_1.csv").stat().st_size
    s.rerun("drop_ingest")
    s.build("drop_ingest")
    assert_exactly_once(s, DROP, set(range(ROWS)))
    assert s.lake.read(DROP + QUARANTINE_SUFFIX).num_rows == MALFORMED


# -- derive ---------------------------------------------------------------------------------------

DERIVE_STEPS = [
    ("src_refine", "before-commit:" + SILVER + QUARANTINE_SUFFIX),
    ("src_refine", "after-commit:" + SILVER + QUARANTINE_SUFFIX),
    ("src_refine", "before-commit:" + SILVER),
    ("src_refine", "after-commit:" + SILVER),
    ("src_refine", "before-commit:" + RESULTS),
    ("src_publish", "before-commit:" + GOLD),
    ("src_publish", "after-commit:" + GOLD),
    ("src_publish", "after-commit:" + RESULTS),
]


@pytest.mark.parametrize(("pipeline", "step"), DERIVE_STEPS)
def test_derive_killed_then_rerun_writes_each_row_and_validation_once(
    scene: Callable[..., Scene], pipeline: str, step: str
) -> None:
    s = scene()
    s.add_rows(0, ROWS)
    s.build("src_ingest")
    if pipeline == "src_publish":
        s.build("src_refine")
    s.killed(pipeline, step)
    s.rerun(pipeline)
    s.add_rows(ROWS, 500)  # a second increment: the merge goes on from the inputs consumed
    for name in ("src_ingest", "src_refine", "src_publish"):
        s.build(name)
    clean, rejected = _source(s, ROWS + 500)
    assert_exactly_once(s, SILVER, clean)
    assert_exactly_once(s, SILVER + QUARANTINE_SUFFIX, rejected)
    assert_exactly_once(s, GOLD, clean)
    assert_validated_once(s, SILVER)
    assert_validated_once(s, GOLD)


def test_derive_killed_after_its_quarantine_then_new_input_quarantines_each_row_once(
    scene: Callable[..., Scene],
) -> None:
    s = scene()
    s.add_rows(0, ROWS)
    s.build("src_ingest")
    s.killed("src_refine", "after-commit:" + SILVER + QUARANTINE_SUFFIX)
    s.add_rows(ROWS, 500)  # the input moves on before the interrupted build is run again
    s.build("src_ingest")
    s.rerun("src_refine")
    s.build("src_refine")
    clean, rejected = _source(s, ROWS + 500)
    assert_exactly_once(s, SILVER, clean)
    assert_exactly_once(s, SILVER + QUARANTINE_SUFFIX, rejected)
    assert_validated_once(s, SILVER)


@pytest.mark.parametrize("step", ["before-commit:" + PARTS, "after-commit:" + PARTS])
def test_partition_overwrite_killed_then_rerun_writes_each_row_once(
    scene: Callable[..., Scene], step: str
) -> None:
    s = scene()
    s.add_rows(0, ROWS)
    s.build("src_ingest")
    s.build("src_refine")
    s.killed("src_parts", step)
    s.rerun("src_parts")
    s.add_rows(ROWS, 500)
    for name in ("src_ingest", "src_refine", "src_parts"):
        s.build(name)
    assert_exactly_once(s, PARTS, _source(s, ROWS + 500)[0])


def _database_source(schema: str, batch_size: int) -> str:
    """The database source ``src`` over ``<schema>.rows``, read ``batch_size`` rows at a time."""
    table = f"{schema}.rows"
    return SOURCE_YAML.format(name="src", table=table, cursor="updated_at", batch_size=batch_size)
