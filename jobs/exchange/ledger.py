"""The exchange ledger: node status and one row per delivery attempt, in the platform DB.

An attempt is ``started`` (with the principal that acts), then, for a file, ``uploading`` with
the file's path on the target, recorded before a byte is sent, and with its rows, bytes and
SHA-256 once the file is sent and before its manifest goes; it ends ``delivered``, ``failed``
(the error) or ``refused`` (the reason). An attempt left ``started`` or ``uploading`` by a
crash is :meth:`Ledger.unfinished` until the next delivery reconciles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from govlake.config.project import ProjectConfig
from govlake.errors import GovlakeError
from govlake.platform_db.schema import delivery, exchange_node, node_event

COUNTS = ("delivered", "rows", "bytes", "failed", "refused")
UNFINISHED = ("started", "uploading")
# Allowed node status changes: (from, to) -> the event recorded.
TRANSITIONS = {
    ("registered", "approved"): "approved",
    ("registered", "disabled"): "disabled",
    ("approved", "disabled"): "disabled",
    ("disabled", "approved"): "enabled",
}


@dataclass(frozen=True)
class Attempt:
    """A delivery attempt just started: the handle :meth:`Ledger.finish` closes."""

    id: int
    batch_id: str
    status: str
    attempt: int


@dataclass(frozen=True)
class ExchangeNode:
    """A node as the ledger knows it: its department and approval status."""

    name: str
    department: str
    status: str
    changed_at: datetime
    changed_by: str


@dataclass(frozen=True)
class NodeEvent:
    """One change of a node's status."""

    id: int
    node: str
    action: str
    actor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery attempt: the batch, where it went, and how it ended."""

    id: int
    subscription: str
    node: str
    endpoint: str
    dataset: str
    batch_id: str
    from_version: int | None
    to_version: int
    target: str
    rows: int | None
    bytes: int | None
    checksum: str | None
    status: str
    attempt: int
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    actor: str | None
    """The principal that delivered or resent (``node.<name>`` for a node's DAG)."""
    path: str | None
    """The file's path on the target, recorded before the upload (``None`` for a table)."""
    grant_id: int | None
    """The share grant delivered under (``None``: the owner's own data, or none found)."""


@dataclass(frozen=True)
class NodeDay:
    """A node's exchange on one day: delivered batches, rows and bytes; failed and refused."""

    day: str
    node: str
    delivered: int
    rows: int
    bytes: int
    failed: int
    refused: int


class Ledger:
    """Reads and writes the ledger tables through one engine."""

    def __init__(self, engine: sa.Engine) -> None:
        """Use the platform DB behind ``engine`` (migrated)."""
        self.engine = engine

    def sync_nodes(self, config: ProjectConfig, actor: str = "conf") -> None:
        """Register the nodes declared in conf that the ledger does not know yet."""
        with self.engine.begin() as db:
            known = set(db.scalars(sa.select(exchange_node.c.name)))
            for node in config.nodes.values():
                if node.name not in known:
                    now = datetime.now(UTC)
                    db.execute(
                        exchange_node.insert().values(
                            name=node.name,
                            department=node.department,
                            status="registered",
                            changed_at=now,
                            changed_by=actor,
                        )
                    )
                    db.execute(
                        node_event.insert().values(
                            node=node.name, action="registered", actor=actor, at=now
                        )
                    )

    def node_status(self, name: str) -> str:
        """``registered``, ``approved`` or ``disabled``."""
        with self.engine.connect() as db:
            status = db.scalar(
                sa.select(exchange_node.c.status).where(exchange_node.c.name == name)
            )
        if status is None:
            raise GovlakeError(f"exchange node {name} is not registered")
        return str(status)

    def set_status(self, name: str, status: str, *, actor: str, reason: str | None) -> str:
        """Change a node's status; returns the event recorded. Refuses other transitions."""
        current = self.node_status(name)
        action = TRANSITIONS.get((current, status))
        if action is None:
            raise GovlakeError(f"exchange node {name} is {current}; it cannot become {status}")
        now = datetime.now(UTC)
        with self.engine.begin() as db:
            db.execute(
                exchange_node.update()
                .where(exchange_node.c.name == name)
                .values(status=status, changed_at=now, changed_by=actor)
            )
            db.execute(
                node_event.insert().values(
                    node=name, action=action, actor=actor, reason=reason, at=now
                )
            )
        return action

    def nodes(self) -> list[ExchangeNode]:
        """Every registered node with its status."""
        with self.engine.connect() as db:
            result = db.execute(sa.select(exchange_node).order_by(exchange_node.c.name))
            return [ExchangeNode(**r._mapping) for r in result]

    def events(self, node: str) -> list[NodeEvent]:
        """A node's status history, oldest first."""
        with self.engine.connect() as db:
            query = sa.select(node_event).where(node_event.c.node == node).order_by(node_event.c.id)
            return [NodeEvent(**r._mapping) for r in db.execute(query)]

    def start(self, **values: Any) -> Attempt:
        """Record an attempt as started; its number follows the batch's earlier attempts."""
        with self.engine.begin() as db:
            earlier = db.scalar(
                sa.select(sa.func.count()).where(delivery.c.batch_id == values["batch_id"])
            )
            number = int(earlier or 0) + 1
            row_id = db.execute(
                delivery.insert().values(
                    **values, status="started", attempt=number, started_at=datetime.now(UTC)
                )
            ).inserted_primary_key
        assert row_id is not None
        return Attempt(int(row_id[0]), values["batch_id"], "started", number)

    def uploading(self, attempt: Attempt, path: str) -> None:
        """Record, before the upload, that the attempt sends its file to ``path``."""
        self._update(attempt.id, status="uploading", path=path)

    def sent(self, attempt: Attempt, *, rows: int, bytes: int, checksum: str) -> None:
        """Record what the file upload sent, before the manifest goes."""
        self._update(attempt.id, rows=rows, bytes=bytes, checksum=checksum)

    def finish(self, attempt: Attempt | DeliveryRecord, status: str, **values: Any) -> None:
        """Close an attempt: ``delivered``, ``failed`` or ``refused``, with counts or error."""
        self._update(attempt.id, status=status, finished_at=datetime.now(UTC), **values)

    def _update(self, attempt_id: int, **values: Any) -> None:
        with self.engine.begin() as db:
            db.execute(delivery.update().where(delivery.c.id == attempt_id).values(**values))

    def unfinished(self, subscription: str) -> list[DeliveryRecord]:
        """The subscription's attempts still ``started`` or ``uploading``, oldest first."""
        return [a for a in self.attempts(subscription) if a.status in UNFINISHED]

    def attempts(self, subscription: str) -> list[DeliveryRecord]:
        """Every attempt of the subscription, oldest first."""
        with self.engine.connect() as db:
            query = (
                sa.select(delivery)
                .where(delivery.c.subscription == subscription)
                .order_by(delivery.c.id)
            )
            return [DeliveryRecord(**r._mapping) for r in db.execute(query)]

    def delivered(self, subscription: str) -> list[DeliveryRecord]:
        """The subscription's delivered attempts, newest first."""
        return [a for a in reversed(self.attempts(subscription)) if a.status == "delivered"]

    def failures(
        self, *, node: str | None = None, since: date | None = None
    ) -> list[DeliveryRecord]:
        """Failed and refused attempts, oldest first, of ``node`` and ``since`` if given."""
        query = sa.select(delivery).where(delivery.c.status.in_(("failed", "refused")))
        if node:
            query = query.where(delivery.c.node == node)
        if since:
            query = query.where(delivery.c.started_at >= _midnight(since))
        with self.engine.connect() as db:
            return [DeliveryRecord(**r._mapping) for r in db.execute(query.order_by(delivery.c.id))]

    def report(self, *, node: str | None = None, since: date | None = None) -> list[NodeDay]:
        """Per node and day: delivered batches, rows and bytes, and failed or refused attempts."""
        day = sa.func.substr(sa.cast(delivery.c.started_at, sa.String), 1, 10).label("day")
        delivered = delivery.c.status == "delivered"
        query = sa.select(
            delivery.c.node,
            day,
            sa.func.sum(sa.case((delivered, 1), else_=0)).label("delivered"),
            sa.func.sum(sa.case((delivered, delivery.c.rows), else_=0)).label("rows"),
            sa.func.sum(sa.case((delivered, delivery.c.bytes), else_=0)).label("bytes"),
            sa.func.sum(sa.case((delivery.c.status == "failed", 1), else_=0)).label("failed"),
            sa.func.sum(sa.case((delivery.c.status == "refused", 1), else_=0)).label("refused"),
        ).group_by(delivery.c.node, day)
        if node:
            query = query.where(delivery.c.node == node)
        if since:
            query = query.where(delivery.c.started_at >= _midnight(since))
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(day, delivery.c.node)).all()
        return [
            NodeDay(
                day=str(r.day),
                node=str(r.node),
                **{k: int(getattr(r, k) or 0) for k in COUNTS},
            )
            for r in rows
        ]


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
