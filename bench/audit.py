"""The audit ledger: what one audited write costs over a plain insert, and verifying 100k rows.

Arms, each in a fresh process, on the platform DB of the scenario (a SQLite file, or a schema of
the local PostgreSQL), opened through the runtime before the clock starts:
- ``plain``: single-row inserts of the same event into a copy of ``audit_event``, one
  transaction each, through the platform DB's engine: the floor;
- ``audited``: the same events through ``services.audit.record``: the append lock, the head
  read, the database clock, the HMAC seal, then the same insert;
- ``verify``: ``services.audit.verify`` over a ledger of 100,000 rows sealed beforehand,
  streaming in id order and recomputing every hash.

*rows/s* of the write arms is writes per second; ``us_per_write`` in the result files is the
work time divided by the writes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import POSTGRES
from bench.harness import serve_arm
from govlake.platform_db.schema import audit_event
from govlake.runtime import Runtime
from services.audit import record, verify
from services.audit.chain import GENESIS, seal
from services.audit.records import AuditEvent

ARMS = ["plain", "audited", "verify"]
REFERENCE = "plain"
KEY = "bench-audit-chain-key-not-a-secret-0123456789"
FLOOR = audit_event.to_metadata(sa.MetaData(), name="audit_event_floor")
EVENT = {
    "principal": "li.na",
    "organisation": "platform",
    "action": "catalog.publish",
    "object": "GL-000004",
    "outcome": "success",
    "client": "10.0.0.1",
    "request_id": "req-1",
    "details": {"版本": 2, "comment": "发布"},
}
BATCH = 5000


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return (
        f"Audit ledger on {params['backend']}: {params['writes']:,} audited writes against plain "
        f"inserts; verifying {params['rows']:,} rows"
    )


def _conf(folder: Path, url: str) -> Path:
    """A conf folder whose platform DB is ``url``."""
    folder.mkdir(parents=True)
    (folder / "lakehouse.yaml").write_text(f"root: {folder.parent}/lake\n")
    (folder / "departments.yaml").write_text("departments:\n  - {code: platform, name: 平台}\n")
    (folder / "platform.yaml").write_text(
        f"database: {{conn_id: bench_audit, default_url: '{url}'}}\n"
    )
    return folder


def _fill(engine: sa.Engine, rows: int) -> None:
    """A ledger of ``rows`` sealed events, inserted in batches."""
    start, prev_hash, batch = datetime.now(UTC), GENESIS, []
    key = KEY.encode()
    for n in range(1, rows + 1):
        event = AuditEvent(n, start + timedelta(milliseconds=n), **EVENT, prev_hash=prev_hash,
                           hash="")  # fmt: skip
        prev_hash = seal(key, prev_hash, event.sealed_fields())
        batch.append({**event.sealed_fields(), "at": event.at, "hash": prev_hash})
        if len(batch) == BATCH or n == rows:
            with engine.begin() as db:
                db.execute(audit_event.insert(), batch)
            batch = []


@contextmanager
def _databases(backend: str, work: Path) -> Iterator[dict[str, str]]:
    """URLs of two empty platform DBs, ``writes`` and ``verify``, removed afterwards."""
    if backend == "sqlite":
        yield {name: f"sqlite:///{work}/{name}.db" for name in ("writes", "verify")}
        return
    schemas = {name: f"bench_audit_{name}_{uuid.uuid4().hex[:8]}" for name in ("writes", "verify")}
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as db:
        for schema in schemas.values():
            db.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield {n: f"{POSTGRES}?options=-csearch_path%3D{s}" for n, s in schemas.items()}
    finally:
        with admin.begin() as db:
            for schema in schemas.values():
                db.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The two platform DBs migrated, the floor table made, the verify ledger filled."""
    work = Path(tempfile.mkdtemp(prefix="govlake-bench-audit-"))
    saved = {name: os.environ.get(name) for name in ("GOVLAKE_AUDIT_KEY", "GOVLAKE_HOME")}
    os.environ.update(GOVLAKE_AUDIT_KEY=KEY, GOVLAKE_HOME=str(work / "home"))  # arms inherit
    try:
        with _databases(params["backend"], work) as urls:
            confs = {name: _conf(work / name, url) for name, url in urls.items()}
            FLOOR.create(Runtime.load(confs["writes"]).platform_db)
            _fill(Runtime.load(confs["verify"]).platform_db, params["rows"])
            yield {**params, **{f"{name}_conf": str(conf) for name, conf in confs.items()}}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
        shutil.rmtree(work, ignore_errors=True)


@cache
def _runtime(conf: str) -> Runtime:
    """The arm's runtime, its platform DB open and migrated (before the clock starts)."""
    runtime = Runtime.load(conf)
    assert runtime.platform_db
    return runtime


def _warm(params: dict[str, Any]) -> None:
    _runtime(params["writes_conf"])
    _runtime(params["verify_conf"])


def arm_plain(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The event inserted ``writes`` times, a transaction each, without lock, clock or seal."""
    engine = _runtime(params["writes_conf"]).platform_db
    with engine.connect() as db:
        start = db.scalar(sa.select(sa.func.coalesce(sa.func.max(FLOOR.c.id), 0)))
    started = time.perf_counter()
    for n in range(start + 1, start + params["writes"] + 1):
        with engine.begin() as db:
            db.execute(FLOOR.insert().values(
                id=n, at=datetime.now(UTC), **EVENT, prev_hash=GENESIS, hash=GENESIS
            ))  # fmt: skip
    return _per_write(params["writes"], started)


def arm_audited(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The event recorded ``writes`` times through the ledger."""
    rt = _runtime(params["writes_conf"])
    started = time.perf_counter()
    for _ in range(params["writes"]):
        record(rt, **EVENT)
    return _per_write(params["writes"], started)


def arm_verify(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The whole prepared ledger verified."""
    result = verify(_runtime(params["verify_conf"]))
    if not result.ok or result.events != params["rows"]:
        raise RuntimeError(f"the bench ledger does not verify: {result}")
    return {"rows": result.events}


def _per_write(writes: int, started: float) -> dict[str, Any]:
    return {"rows": writes, "us_per_write": round((time.perf_counter() - started) / writes * 1e6)}


if __name__ == "__main__":
    warm = dict.fromkeys(ARMS, _warm)
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, None, warm)
