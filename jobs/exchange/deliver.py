"""Deliver a subscription's next batch (or resend a past one) and account for it in the ledger.

The batch is the dataset's current version: whole for a full subscription, the changes since
the last delivered version for an incremental one. A batch already delivered is not sent again
unless resent. A node that is not approved gets nothing, and the ledger says why; so does a
delivery the entry point refused (no grant in force): the terms it passes
(:class:`~jobs.exchange.terms.DeliveryTerms`) carry the reason, or the columns, rows and masks
the grant allows and its id, which the ledger row and the manifest record.

One delivery of a subscription runs at a time (:mod:`~jobs.exchange.lease`); it first closes
what a crashed one left (:mod:`~jobs.exchange.reconcile`). Every attempt is a ledger row naming
the principal that acts: started; for a file, ``uploading`` with the file's path before a byte
goes, its size and SHA-256 as uploaded (read from the bytes sent) before the manifest goes;
then delivered (rows, bytes, SHA-256) or failed (the error). Each attempt writes its files in a
working folder of its own and uploads them under temporary names of their own.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from govlake.config.exchange import DatabaseEndpoint, FileEndpoint, FileSettings, Subscription
from govlake.config.project import ProjectConfig
from govlake.connections import database_url
from govlake.errors import GovlakeError
from govlake.lakehouse import Lakehouse
from govlake.progress import tracked
from govlake.runtime import Runtime
from jobs.exchange import extract, files, lease
from jobs.exchange.extract import Batch
from jobs.exchange.ledger import Attempt, Ledger
from jobs.exchange.reconcile import Reconciled, reconcile, working_root
from jobs.exchange.targets import describe_target, open_delivery_folder, target_table
from jobs.exchange.terms import DeliveryTerms

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
    reconciled: list[Reconciled] = field(default_factory=list)
    """The attempts a crash had left unfinished, closed first."""


def deliver(
    rt: Runtime,
    name: str,
    *,
    terms: DeliveryTerms,
    resend: str | None = None,
    progress: Progress = lambda _: None,
) -> Delivery:
    """Send the subscription's next batch (``resend``: a past batch id, or ``"last"``).

    Only what ``terms`` allow is sent; terms that say why not are a refusal in the ledger.

    Raises:
        DeliveryBusy: Another delivery of the subscription is running; nothing was sent.
    """
    config, lake = rt.config, rt.lake
    sub = config.subscription(name)
    ledger = Ledger(rt.platform_db)
    ledger.sync_nodes(config)
    if not lake.exists(sub.dataset):
        raise GovlakeError(f"subscription {name}: dataset {sub.dataset} does not exist yet")
    actor = rt.principal.username if rt.principal else None
    with lease.held(config.home, sub.name):
        closed = reconcile(config, ledger, sub)
        for r in closed:
            progress(f"{name}: attempt {r.attempt} ({r.batch_id}) {r.status}: {r.reason}")
        done = _deliver(config, lake, ledger, sub, terms, resend, actor, progress)
    return replace(done, reconciled=closed)


def _deliver(
    config: ProjectConfig,
    lake: Lakehouse,
    ledger: Ledger,
    sub: Subscription,
    terms: DeliveryTerms,
    resend: str | None,
    actor: str | None,
    progress: Progress,
) -> Delivery:
    name = sub.name
    batch = _past_batch(ledger, sub, resend) if resend else _next_batch(ledger, lake, sub)
    if isinstance(batch, Delivery):
        progress(f"{name}: {batch.status.replace('_', ' ')} ({batch.batch_id})")
        return batch
    status = ledger.node_status(sub.node)
    target = describe_target(config, sub)
    trigger = "resend" if resend else "schedule"
    attempt = _start(ledger, sub, batch, target, trigger=trigger, actor=actor, grant=terms.grant)
    why = terms.refused
    if status != "approved":
        why = f"node {sub.node} is {status}" + ("" if status == "disabled" else ", not approved")
    if why is not None:
        ledger.finish(attempt, "refused", error=why)
        progress(f"{name}: refused: {why}")
        return Delivery(name, batch.batch_id, "refused", target=target, reason=why)
    progress(f"{name}: batch {batch.batch_id} to {target} (attempt {attempt.attempt})")
    try:
        done = _send(config, lake, ledger, attempt, sub, batch, terms)
    except Exception as exc:
        ledger.finish(attempt, "failed", error=f"{type(exc).__name__}: {exc}"[:4000])
        raise
    ledger.finish(attempt, "delivered", rows=done.rows, bytes=done.bytes, checksum=done.checksum)
    progress(f"{name}: delivered {done.rows} rows, {done.bytes} bytes")
    return Delivery(name, batch.batch_id, "delivered", done.rows, done.bytes, target)


def _next_batch(ledger: Ledger, lake: Lakehouse, sub: Subscription) -> Batch | Delivery:
    current = lake.table(sub.dataset).version()
    past = ledger.delivered(sub.name)
    # the furthest version delivered: a resend of an older batch does not move it back
    latest = max(past, key=lambda a: a.to_version, default=None)
    last = latest.to_version if latest else None
    if latest is not None and latest.to_version >= current:
        return Delivery(sub.name, latest.batch_id, "already_delivered")
    start = last if sub.mode == "incremental" else None
    return Batch(sub.name, start, current)


def _past_batch(ledger: Ledger, sub: Subscription, batch_id: str) -> Batch:
    """The delivered batch ``batch_id`` names (``last``: the latest); refused for any other."""
    past = ledger.delivered(sub.name)
    if not past:
        raise GovlakeError(f"subscription {sub.name}: nothing was delivered yet to resend")
    if batch_id == "last":
        return Batch.parse(past[0].batch_id)
    batch = Batch.parse(batch_id)
    if batch.subscription != sub.name:
        raise GovlakeError(f"batch {batch_id} belongs to subscription {batch.subscription}")
    if batch_id not in {p.batch_id for p in past}:
        raise GovlakeError(
            f"subscription {sub.name}: batch {batch_id} was never delivered; resend takes a "
            f"delivered batch (the last is {past[0].batch_id})"
        )
    return batch


def _start(
    ledger: Ledger,
    sub: Subscription,
    batch: Batch,
    target: str,
    *,
    trigger: str,
    actor: str | None,
    grant: int | None,
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
        actor=actor,
        grant_id=grant,
    )


@dataclass(frozen=True)
class _Sent:
    rows: int
    bytes: int
    checksum: str | None


def _send(
    config: ProjectConfig,
    lake: Lakehouse,
    ledger: Ledger,
    attempt: Attempt,
    sub: Subscription,
    batch: Batch,
    terms: DeliveryTerms,
) -> _Sent:
    point = config.node(sub.node).endpoint(sub.endpoint)
    source = extract.rows(lake, sub, batch, terms)
    reader = pa.RecordBatchReader.from_batches(
        source.schema, tracked(source, f"{sub.name} -> {sub.node}: delivering")
    )
    if isinstance(point, DatabaseEndpoint):
        import sqlalchemy as sa

        from jobs.exchange.tables import push

        engine = sa.create_engine(database_url(point.conn_id, point.default_url))
        try:
            rows = push(
                reader,
                engine,
                target_table(sub),
                config.dataset(sub.dataset).keys,
                schema=point.database_schema,
            )
        finally:
            engine.dispose()
        return _Sent(rows, 0, None)
    work = working_root(config, sub.name) / str(attempt.id)  # this attempt's own
    work.mkdir(parents=True)
    try:
        return _send_file(ledger, attempt, point, sub, batch, terms, reader, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _send_file(
    ledger: Ledger,
    attempt: Attempt,
    point: FileEndpoint,
    sub: Subscription,
    batch: Batch,
    terms: DeliveryTerms,
    reader: pa.RecordBatchReader,
    work: Path,
) -> _Sent:
    settings = sub.file or FileSettings()
    path = work / files.file_name(sub.name, batch.from_version, batch.to_version, settings)
    rows = files.write(reader, path, settings)
    ledger.uploading(attempt, f"{point.folder.rstrip('/')}/{path.name}")
    with open_delivery_folder(point, sub.name) as folder:
        sent = folder.upload(path, path.name)
        manifest = files.manifest_for(
            path.name,
            rows=rows,
            schema=reader.schema,
            settings=settings,
            subscription=sub.name,
            dataset=sub.dataset,
            batch_id=batch.batch_id,
            from_version=batch.from_version,
            to_version=batch.to_version,
            bytes=sent.bytes,
            sha256=sent.sha256,
            grant=terms.grant,
            masked=sorted(terms.masks),
        )
        ledger.sent(attempt, rows=rows, bytes=sent.bytes, checksum=sent.sha256)
        manifest_path = work / (path.name + files.MANIFEST_SUFFIX)
        manifest_path.write_text(manifest.to_json(), encoding="utf-8")
        folder.upload(manifest_path, manifest_path.name)  # last: the file is complete
    return _Sent(rows, sent.bytes, sent.sha256)
