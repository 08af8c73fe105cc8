"""One build of a table at a time: the lease on one host, the pinned Delta commit on any host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from govlake.config.models import LakehouseConfig
from govlake.lakehouse import BUILD_APP_ID, Commit, ConcurrentBuildError, Lakehouse
from govlake.leases import LeaseHeldError, lease
from tests.conftest import REPO

pytestmark = pytest.mark.unit
REF = "bronze.rows"

HOLDER = """\
import sys, time
from pathlib import Path
from govlake.leases import lease
with lease(Path(sys.argv[1]), "table", "bronze.rows", holder="the-other-run"):
    (Path(sys.argv[1]) / "held").touch()
    time.sleep(600)
"""


def _commit(batch: str) -> Commit:
    return Commit(pipeline="p", run_id=f"run-{batch}", batch_id=batch, source="test")


def _rows(ids: list[int]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64())})


def _two_hosts(tmp_path: Path) -> tuple[Lakehouse, Lakehouse]:
    """Two processes' views of one lakehouse: neither sees the other's pins."""
    config = LakehouseConfig(root=str(tmp_path / "lake"))
    return Lakehouse(config), Lakehouse(config)


def test_a_held_lease_refuses_in_one_line_and_a_killed_holder_frees_it(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "held").exists():
            assert time.monotonic() < deadline and other.poll() is None
            time.sleep(0.02)
        with pytest.raises(LeaseHeldError) as refused, lease(tmp_path, "table", REF, holder="me"):
            pytest.fail("the lease was given twice")
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"table {REF}: another run holds it (run the-other-run, pid ")
        os.kill(other.pid, signal.SIGKILL)
        other.wait(timeout=30)
        with lease(tmp_path, "table", REF, holder="me"):  # the dead holder's lease is gone
            record = (tmp_path / "leases" / "table" / f"{REF}.lock").read_text()
            assert '"holder": "me"' in record
    finally:
        other.kill()
        other.wait(timeout=30)


def test_leases_of_other_objects_are_independent(tmp_path: Path) -> None:
    with (
        lease(tmp_path, "table", REF, holder="a"),
        lease(tmp_path, "table", "bronze.other", holder="b"),
        lease(tmp_path, "subscription", REF, holder="c"),
    ):
        assert sorted(p.name for p in (tmp_path / "leases").rglob("*.lock")) == [
            "bronze.other.lock",
            f"{REF}.lock",
            f"{REF}.lock",
        ]


def test_two_builds_pinned_at_one_version_commit_once(tmp_path: Path) -> None:
    first, second = _two_hosts(tmp_path)
    first.write(REF, _rows([1]), _commit("start"), mode="append")
    with first.pinned(REF), second.pinned(REF):
        won = first.write(REF, _rows([2, 3]), _commit("run-a"), mode="append")
        with pytest.raises(ConcurrentBuildError, match=f"^table {REF}: another run holds it"):
            second.write(REF, _rows([2, 3]), _commit("run-b"), mode="append")
        # The winner goes on committing from its own last commit.
        assert first.write(REF, _rows([4]), _commit("run-a2"), mode="append").version == 2
    assert won.version == 1
    assert sorted(first.read(REF).column("id").to_pylist()) == [1, 2, 3, 4]
    assert first.table(REF).transaction_version(BUILD_APP_ID) == 2


def test_a_merge_pinned_behind_another_build_is_refused(tmp_path: Path) -> None:
    first, second = _two_hosts(tmp_path)
    first.write(REF, _rows([1]), _commit("start"), mode="append")
    with second.pinned(REF):
        with first.pinned(REF):
            first.write(REF, _rows([2]), _commit("run-a"), mode="merge", keys=["id"])
        with pytest.raises(ConcurrentBuildError):
            second.write(REF, _rows([2]), _commit("run-b"), mode="merge", keys=["id"])
    assert first.table(REF).version() == 1


def test_a_table_created_by_another_build_since_the_pin_is_refused(tmp_path: Path) -> None:
    first, second = _two_hosts(tmp_path)
    with first.pinned(REF), second.pinned(REF):
        assert first.write(REF, _rows([1]), _commit("run-a"), mode="append").version == 0
        with pytest.raises(ConcurrentBuildError):
            second.write(REF, _rows([1]), _commit("run-b"), mode="append")
    assert first.read(REF).num_rows == 1


def test_unpinned_writes_and_maintenance_do_not_conflict_with_a_build(tmp_path: Path) -> None:
    first, second = _two_hosts(tmp_path)
    first.write(REF, _rows([1]), _commit("start"), mode="append")
    with first.pinned(REF):
        second.write(REF, _rows([2]), _commit("unpinned"), mode="append")
        second.optimize(REF)
        first.write(REF, _rows([3]), _commit("run-a"), mode="append")
    assert sorted(first.read(REF).column("id").to_pylist()) == [1, 2, 3]
