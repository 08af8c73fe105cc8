"""Two runs of one build at once, through the real command: one wins, nothing doubled or lost.

Each scenario starts ``govlake run`` twice at the same moment, as a signed-in data engineer,
against a real source (the local PostgreSQL, a drop folder), five times over with new source
rows each time. After every trial the table holds each source row exactly once; a run that
lost the race exits 1 with one line naming the table and saying another run holds it (or, if
it came second, found nothing new and exited 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from govlake.config.loader import load_config
from govlake.lakehouse import Lakehouse
from govlake.principal import Principal
from subjects.social_insurance import seed as si
from tests.conftest import REPO
from tests.integration.conftest import SOURCE_YAML

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = 5
ROWS_PER_TRIAL = 20_000
COPIES = 100

FILES_SOURCE = """\
name: src
kind: files
title: 社保缴费投递目录
owner: platform
transport: local
folder: {folder}
streams:
  - name: rows
    pattern: "social_insurance_*.csv"
    format: csv
    encoding: gbk
"""

DERIVED = """\
datasets:
  - zone: silver
    name: src_copy
    title: test rows, derived
    owner: platform
    keys: [id]
    write: append
    inputs: [bronze.src]
    transform: tests.integration.concurrent_transforms:passthrough
    engine: arrow
"""

REFINE = """\
name: src_refine
title: test refine
description: derive the test rows
owner: platform
schedule: on_update
builds: [silver.src_copy]
"""


@dataclass(frozen=True)
class Outcome:
    """One finished ``govlake`` process."""

    code: int
    stdout: str
    stderr: str


@dataclass
class Tally:
    """Rows doubled and lost over the trials of a scenario, and how the runs ended."""

    doubled: int = 0
    lost: int = 0
    trials_doubled: int = 0
    refused: int = 0
    both_ok: int = 0


def _at_once(
    conf: Path, *args: str, runs: int = 2, homes: list[Path] | None = None
) -> list[Outcome]:
    """``govlake <args> --conf conf`` in ``runs`` processes started together.

    With ``homes``, each process has its own ``GOVLAKE_HOME`` (its own leases and staging), as
    on separate hosts sharing the lakehouse and the platform DB.
    """
    command = [sys.executable, "-c", "from apps.cli.main import app; app()", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "400"}
    children = [
        subprocess.Popen(
            [*command, "--conf", str(conf)],
            cwd=REPO,
            env={**env, "GOVLAKE_HOME": str(home)} if home else env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for home in (homes or [None] * runs)
    ]
    outcomes = []
    for child in children:
        stdout, stderr = child.communicate(timeout=600)
        outcomes.append(Outcome(child.returncode, stdout, stderr))
    return outcomes


def _judge(outcomes: list[Outcome], table: str, tally: Tally) -> None:
    """At least one run succeeded; a refused one said, in one line, that another holds ``table``."""
    assert any(o.code == 0 for o in outcomes), outcomes
    for outcome in outcomes:
        if outcome.code == 0:
            continue
        # A run that streamed long enough before it lost reported its progress: not an error.
        lines = [x for x in outcome.stderr.strip().splitlines() if not x.startswith("progress: ")]
        assert len(lines) == 1, outcome.stderr
        assert table in lines[0] and "another run holds it" in lines[0], lines[0]
        print(f"refused: {lines[0]}")
        tally.refused += 1
    if all(o.code == 0 for o in outcomes):
        tally.both_ok += 1


def _count(tally: Tally, scenario: str, *, held: int, distinct: int, expected: int) -> None:
    """Record the table's doubled and lost rows after a trial (totals so far)."""
    tally.trials_doubled += held - distinct > tally.doubled
    tally.doubled, tally.lost = held - distinct, expected - distinct
    print(f"{scenario}: {held} rows held, {distinct} distinct, {expected} expected")


@pytest.fixture
def engineer(sign_in: Callable[..., Principal]) -> Callable[[Path], Principal]:
    """Sign in a data engineer of the platform department for ``conf``."""
    return lambda conf: sign_in(conf, "engineer", "data_engineer")


def _source_table(engine: sa.Engine, schema: str) -> sa.Table:
    table = sa.Table(
        "rows",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("title", sa.String(100)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        schema=schema,
    )
    table.create(engine)
    return table


def _add_rows(engine: sa.Engine, table: sa.Table, trial: int) -> int:
    """Add a trial's rows, each newer than the last trial's; returns the total."""
    start = datetime(2024, 1, 1, tzinfo=UTC).replace(tzinfo=None) + timedelta(days=trial)
    first = trial * ROWS_PER_TRIAL
    rows = [
        {"id": first + i, "title": f"第{first + i}条", "updated_at": start + timedelta(seconds=i)}
        for i in range(ROWS_PER_TRIAL)
    ]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    return first + ROWS_PER_TRIAL


def _ids(conf: Path, ref: str) -> tuple[int, int]:
    """Rows held by ``ref`` and how many distinct ids they have."""
    ids = Lakehouse(load_config(conf).lakehouse).read(ref, columns=["id"]).column("id")
    return len(ids), len(pc.unique(ids))


@pytest.fixture
def database_conf(
    postgres_schema: tuple[sa.Engine, str],
    source_conf: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Path, sa.Engine, sa.Table]:
    engine, schema = postgres_schema
    table = _source_table(engine, schema)
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", "postgres://postgres@127.0.0.1:5432/test")
    return source_conf("src", _source(schema, 5000)), engine, table


def test_the_same_database_ingest_twice_at_once_loads_each_row_once(
    database_conf: tuple[Path, sa.Engine, sa.Table], engineer: Callable[[Path], Principal]
) -> None:
    conf, engine, table = database_conf
    engineer(conf)
    tally = Tally()
    for trial in range(TRIALS):
        expected = _add_rows(engine, table, trial)
        _judge(_at_once(conf, "run", "src_ingest"), "bronze.src", tally)
        held, distinct = _ids(conf, "bronze.src")
        _count(tally, f"database trial {trial}", held=held, distinct=distinct, expected=expected)
    print(f"database ingest: {tally}")
    assert (tally.doubled, tally.lost) == (0, 0)


def test_the_same_file_drop_twice_at_once_loads_each_file_once(
    source_conf: Callable[..., Path], tmp_path: Path, engineer: Callable[[Path], Principal]
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    conf = source_conf("src", FILES_SOURCE.format(folder=drop))
    engineer(conf)
    employers = si.synthetic_employers(400, seed=3)
    tally, expected = Tally(), {}
    for trial in range(TRIALS):
        records = si.rows(employers * 10, date(2024, 6, trial + 1), seed=1)
        name = f"social_insurance_2024060{trial + 1}.csv"
        header, body = si.csv_bytes(records, encoding="gbk", seed=trial).split(b"\r\n", 1)
        (drop / name).write_bytes(header + b"\r\n" + body * COPIES)
        expected[name] = len(records) * COPIES
        _judge(_at_once(conf, "run", "src_ingest"), "bronze.src", tally)
        lake = Lakehouse(load_config(conf).lakehouse)
        files = lake.read("bronze.src", columns=["_file"]).column("_file").value_counts()
        held = {f["values"]: f["counts"] for f in files.to_pylist()}
        assert set(held) == set(expected)
        distinct = sum(min(held[f], n) for f, n in expected.items())
        _count(tally, f"file trial {trial}", held=sum(held.values()), distinct=distinct,
               expected=sum(expected.values()))  # fmt: skip
        assert len(lake.collected_files("bronze.src")) == trial + 1
    print(f"file drop: {tally}")
    assert (tally.doubled, tally.lost) == (0, 0)


def test_the_same_derive_twice_at_once_writes_each_row_once(
    database_conf: tuple[Path, sa.Engine, sa.Table], engineer: Callable[[Path], Principal]
) -> None:
    conf, engine, table = database_conf
    (conf / "datasets" / "src_copy.yaml").write_text(DERIVED)
    (conf / "pipelines" / "src_refine.yaml").write_text(REFINE)
    engineer(conf)
    tally = Tally()
    for trial in range(TRIALS):
        expected = _add_rows(engine, table, trial)
        [ingested] = _at_once(conf, "run", "src_ingest", runs=1)
        assert ingested.code == 0 and _ids(conf, "bronze.src") == (expected, expected), ingested
        _judge(_at_once(conf, "run", "src_refine"), "silver.src_copy", tally)
        held, distinct = _ids(conf, "silver.src_copy")
        _count(tally, f"derive trial {trial}", held=held, distinct=distinct, expected=expected)
    print(f"derive: {tally}")
    assert (tally.doubled, tally.lost) == (0, 0)


def test_two_hosts_ingesting_one_table_at_once_load_each_row_once(
    database_conf: tuple[Path, sa.Engine, sa.Table],
    engineer: Callable[[Path], Principal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No shared lease: the pinned Delta commit alone refuses the second build."""
    conf, engine, table = database_conf
    monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_PLATFORM", f"sqlite:///{tmp_path}/platform.db")
    engineer(conf)
    homes = [tmp_path / "host-a", tmp_path / "host-b"]
    expected = _add_rows(engine, table, 0)
    assert _at_once(conf, "run", "src_ingest", homes=homes[:1])[0].code == 0  # the table exists
    tally = Tally()
    for trial in range(1, TRIALS + 1):
        expected = _add_rows(engine, table, trial)
        _judge(_at_once(conf, "run", "src_ingest", homes=homes), "bronze.src", tally)
        held, distinct = _ids(conf, "bronze.src")
        _count(tally, f"two hosts trial {trial}", held=held, distinct=distinct, expected=expected)
    print(f"two hosts: {tally}")
    assert (tally.doubled, tally.lost) == (0, 0)


def _source(schema: str, batch_size: int) -> str:
    """The database source ``src`` over ``<schema>.rows``, read ``batch_size`` rows at a time."""
    table = f"{schema}.rows"
    return SOURCE_YAML.format(name="src", table=table, cursor="updated_at", batch_size=batch_size)
