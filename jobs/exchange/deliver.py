"""Deliver a subscription's next batch (or resend a past one) and account for it in the ledger.

The batch is the dataset's current version: whole for a full subscription, the changes since
the last delivered version for an incremental one. A batch already delivered is not sent again
unless resent. A node that is not approved gets nothing, and the ledger says why. Every attempt
is a ledger row: started, then delivered (rows, bytes, SHA-256) or failed (the error).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connectors.folders import DropFolder, open_folder
from govlake.config.exchange import DatabaseEndpoint, FileEndpoint, FileSettings, Subscription
from govlake.config.project import ProjectConfig
from govlake.connections import database_url, endpoint
from govlake.errors import GovlakeError
from govlake.lakehouse import Lakehouse
from govlake.runtime import Runtime
from jobs.exchange import extract, files
from jobs.exchange.extract import Batch
from jobs.exchange.ledger import Attempt, Ledger

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Delivery:
    """What one call did: ``delivered``, ``already_delivered``, ``nothing_new`` or ``refused``."""

    subscription: str
    batch_id: str | None
    status: str
    rows: int = 0
    bytes: int = 0
    target: str = ""
    reason: str = ""
    """Why nothing was sent, for a refusal."""


def deliver(
    rt: Runtime,
    name: str,
    *,
    resend: str | None = None,
    progress: Progress = lambda _: None,
) -> Delivery:
    """Send the subscription's next batch; ``resend`` a past batch id (or ``"last"``) instead."""
    config, lake = rt.config, rt.lake
    sub = config.subscription(name)
    ledger = Ledger(rt.platform_db)
    ledger.sync_nodes(config)
    if not lake.exists(sub.dataset):
        raise GovlakeError(f"subscription {name}: dataset {sub.dataset} does not exist yet")
    batch = _past_batch(ledger, sub, resend) if resend else _next_batch(ledger, lake, sub)
    if isinstance(batch, Delivery):
        progress(f"{name}: {batch.status.replace('_', ' ')} ({batch.batch_id})")
        return batch
    status = ledger.node_status(sub.node)
    target = describe_target(config, sub)
    if status != "approved":
        attempt = _start(ledger, sub, batch, target, trigger="resend" if resend else "schedule")
        why = f"node {sub.node} is {status}" + ("" if status == "disabled" else ", not approved")
        ledger.finish(attempt, "refused", error=why)
        progress(f"{name}: refused: {why}")
        return Delivery(name, batch.batch_id, "refused", target=target, reason=why)
    attempt = _start(ledger, sub, batch, target, trigger="resend" if resend else "schedule")
    progress(f"{name}: batch {batch.batch_id} to {target} (attempt {attempt.attempt})")
    try:
        done = _send(config, lake, sub, batch, target)
    except Exception as exc:
        ledger.finish(attempt, "failed", error=f"{type(exc).__name__}: {exc}"[:4000])
        raise
    ledger.finish(attempt, "delivered", rows=done.rows, bytes=done.bytes, checksum=done.checksum)
    progress(f"{name}: delivered {done.rows} rows, {done.bytes} bytes")
    return Delivery(name, batch.batch_id, "delivered", done.rows, done.bytes, target)


def _next_batch(ledger: Ledger, lake: Lakehouse, sub: Subscription) -> Batch | Delivery:
    current = lake.table(sub.dataset).version()
    past = ledger.delivered(sub.name)
    last = past[0].to_version if past else None
    if last is not None and last >= current:
        return Delivery(sub.name, past[0].batch_id, "already_delivered")
    start = last if sub.mode == "incremental" else None
    return Batch(sub.name, start, current)


def _past_batch(ledger: Ledger, sub: Subscription, batch_id: str) -> Batch:
    past = ledger.delivered(sub.name)
    if batch_id == "last":
        if not past:
            raise GovlakeError(f"subscription {sub.name}: nothing was delivered yet to resend")
        batch_id = past[0].batch_id
    batch = Batch.parse(batch_id)
    if batch.subscription != sub.name:
        raise GovlakeError(f"batch {batch_id} belongs to subscription {batch.subscription}")
    return batch


def _start(
    ledger: Ledger, sub: Subscription, batch: Batch, target: str, *, trigger: str
) -> Attempt:
    return ledger.start(
        subscription=sub.name,
        node=sub.node,
        endpoint=sub.endpoint,
        dataset=sub.dataset,
        batch_id=batch.batch_id,
        from_version=batch.from_version,
        to_version=batch.to_version,
        target=target,
        trigger=trigger,
    )


@dataclass(frozen=True)
class _Sent:
    rows: int
    bytes: int
    checksum: str | None


def describe_target(config: ProjectConfig, sub: Subscription) -> str:
    """Where the subscription's batches go, without secrets."""
    point = config.node(sub.node).endpoint(sub.endpoint)
    if isinstance(point, FileEndpoint):
        return f"{endpoint(point.conn_id, point.default_url)}{point.folder}"
    url = database_url(point.conn_id, point.default_url)
    from sqlalchemy.engine import make_url

    return f"{make_url(url).render_as_string(hide_password=True)}#{sub.table or _table(sub)}"


def _table(sub: Subscription) -> str:
    return sub.dataset.partition(".")[2]


def _send(
    config: ProjectConfig, lake: Lakehouse, sub: Subscription, batch: Batch, target: str
) -> _Sent:
    point = config.node(sub.node).endpoint(sub.endpoint)
    reader = extract.rows(lake, sub, batch)
    if isinstance(point, DatabaseEndpoint):
        import sqlalchemy as sa

        from jobs.exchange.tables import push

        engine = sa.create_engine(database_url(point.conn_id, point.default_url))
        try:
            rows = push(
                reader,
                engine,
                sub.table or _table(sub),
                config.dataset(sub.dataset).keys,
                schema=point.database_schema,
            )
        finally:
            engine.dispose()
        return _Sent(rows, 0, None)
    settings = sub.file or FileSettings()
    outgoing = config.home / "exchange" / "outgoing" / sub.name
    outgoing.mkdir(parents=True, exist_ok=True)
    path = outgoing / files.file_name(sub.name, batch.from_version, batch.to_version, settings)
    try:
        rows = files.write(reader, path, settings)
        manifest = files.manifest_for(
            path,
            rows=rows,
            schema=reader.schema,
            settings=settings,
            subscription=sub.name,
            dataset=sub.dataset,
            batch_id=batch.batch_id,
            from_version=batch.from_version,
            to_version=batch.to_version,
        )
        manifest_path = path.with_name(path.name + files.MANIFEST_SUFFIX)
        manifest_path.write_text(manifest.to_json(), encoding="utf-8")
        with open_delivery_folder(point, sub.name) as folder:
            folder.upload(path, path.name)
            folder.upload(manifest_path, manifest_path.name)  # last: the file is complete
    finally:
        shutil.rmtree(outgoing, ignore_errors=True)
    return _Sent(rows, manifest.bytes, manifest.sha256)


def open_delivery_folder(point: FileEndpoint, subscription: str) -> DropFolder:
    """The endpoint's folder: SFTP, FTP(S), or a local folder for ``file://`` (created)."""
    server = endpoint(point.conn_id, point.default_url)
    label = f"subscription {subscription}"
    if server.scheme == "file":
        local = Path(server.path) / point.folder.lstrip("/")
        return open_folder("local", str(local), label=label, create=True)
    return open_folder(server.scheme, point.folder, server=server, label=label)
