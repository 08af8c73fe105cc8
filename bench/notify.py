"""The message worker: e-mails per second to a local SMTP server, and none lost or sent twice.

Arms, each in a fresh process, against one aiosmtpd server on loopback (in the parent process,
plain SMTP, keeping every ``Message-ID`` it accepts in a file):
- ``smtplib``: the same messages composed by the e-mail channel and sent in one SMTP session
  with ``smtplib``, no platform DB: the floor;
- ``worker``: ``services.notifications.worker.run`` over as many pending e-mail deliveries in
  the platform DB of the scenario (a SQLite file, or a schema of the local PostgreSQL), made
  fresh before the clock starts: claims in batches, one SMTP session per batch, one settling
  update per delivery.

*rows/s* is messages per second. Each run checks the server's file against its own keys:
``lost`` (keys never received) and ``doubled`` (keys received more than once) are in the
result files.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from bench.common import platform_database
from bench.harness import serve_arm
from govlake.platform_db.schema import notify_delivery, notify_message
from govlake.runtime import Runtime
from services.notifications.channels import Outgoing
from services.notifications.channels.email import compose
from services.notifications.outbox import delivery_row
from services.notifications.worker import run

ARMS = ["smtplib", "worker"]
REFERENCE = "smtplib"
SENDER = "政务数据平台 <noreply@platform.gov.cn>"
SUBJECT, BODY = "【通知】交换节点 tax_bureau 已批准", "交换节点 tax_bureau（税务局）已批准。" * 4


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return (
        f"Message worker on {params['backend']}: {params['messages']:,} e-mails to a local SMTP "
        "server against smtplib alone"
    )


class _Keeper:
    """The SMTP server's handler: appends each accepted Message-ID to a file."""

    def __init__(self, log: Path) -> None:
        self.log = log

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.log.open("ab") as kept:
                    kept.write(line.split(b":", 1)[1].strip() + b"\n")
                break
        return "250 OK"


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The SMTP server started, the platform DB migrated, its connection in the environment."""
    from aiosmtpd.controller import Controller

    from apps.local_servers import LOOPBACK, free_port

    work = Path(tempfile.mkdtemp(prefix="govlake-bench-notify-"))
    port, log = free_port(), work / "received.log"
    log.touch()
    smtp = {"conn_type": "smtp", "host": LOOPBACK, "port": port,
            "extra": {"from_email": SENDER, "disable_ssl": True, "disable_tls": True}}  # fmt: skip
    saved = {n: os.environ.get(n) for n in ("AIRFLOW_CONN_GOVLAKE_SMTP", "GOVLAKE_HOME")}
    os.environ.update(AIRFLOW_CONN_GOVLAKE_SMTP=json.dumps(smtp), GOVLAKE_HOME=str(work / "home"))
    server = Controller(_Keeper(log), hostname=LOOPBACK, port=port)
    server.start()
    try:
        with platform_database(params["backend"], work, "notify") as url:
            conf = work / "conf"
            conf.mkdir()
            (conf / "lakehouse.yaml").write_text(f"root: {work}/lake\n")
            (conf / "departments.yaml").write_text(
                "departments:\n  - {code: platform, name: 平台}\n"
            )
            (conf / "platform.yaml").write_text(
                f"database: {{conn_id: bench_notify, default_url: '{url}'}}\n"
            )
            assert Runtime.load(conf).platform_db
            yield {**params, "conf": str(conf), "port": port, "log": str(log)}
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
        shutil.rmtree(work, ignore_errors=True)


@cache
def _runtime(conf: str) -> Runtime:
    runtime = Runtime.load(conf)
    assert runtime.platform_db
    return runtime


def _items(count: int) -> list[Outgoing]:
    now = datetime.now(UTC)
    return [
        Outgoing(uuid.uuid4().hex, "node.status", "node:tax_bureau", SUBJECT, BODY, now, f"u{n}",
                 f"用户{n}", f"u{n}@example.gov.cn")
        for n in range(count)
    ]  # fmt: skip


_KEYS: list[str] = []


def _warm_worker(params: dict[str, Any]) -> None:
    """``messages`` fresh pending e-mail deliveries of one message, the only ones in the DB."""
    db = _runtime(params["conf"]).platform_db
    now = datetime.now(UTC)
    with db.begin() as conn:
        conn.execute(notify_delivery.delete())
        conn.execute(notify_message.delete())
        message = conn.execute(notify_message.insert().values(
            event="node.status", object="node:tax_bureau", subject=SUBJECT, body=BODY,
            recipients=["org:tax"], created_by="bench", created_at=now,
        ).returning(notify_message.c.id)).scalar_one()  # fmt: skip
        rows = [delivery_row(message, f"u{n}", "email", f"u{n}@example.gov.cn", now)
                for n in range(params["messages"])]  # fmt: skip
        conn.execute(notify_delivery.insert(), rows)
        _KEYS[:] = [r["idempotency_key"] for r in rows]


def arm_smtplib(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The messages sent in one session with smtplib."""
    items = _items(params["messages"])
    with smtplib.SMTP("127.0.0.1", params["port"], timeout=10) as session:
        for item in items:
            session.send_message(compose(item, SENDER))
    return _checked(params, [item.key for item in items])


def arm_worker(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The prepared deliveries sent by the worker."""
    from services.identity.settings import utc_now

    report = run(_runtime(params["conf"]), limit=None, worker="bench", clock=utc_now)
    if report.outcomes != Counter(sent=params["messages"]):
        raise RuntimeError(f"the worker did not send every delivery: {report}")
    return _checked(params, _KEYS)


def _checked(params: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    got = Counter(line.strip("<>") for line in Path(params["log"]).read_text().split())
    mine = Counter({k: got[f"{k}@govlake"] for k in keys})
    lost = sum(1 for n in mine.values() if n == 0)
    doubled = sum(1 for n in mine.values() if n > 1)
    return {"rows": len(keys), "lost": lost, "doubled": doubled}


if __name__ == "__main__":
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, None, {"worker": _warm_worker})
