"""The catalog in the platform DB: resources, entry versions, workflow events, the search index.

A *resource* is one dataset, with a stable code (``<prefix>-000001``) assigned when it is first
registered. Each change of its definition is a new *entry version*; every status change is an
*event* with who (a username), which department, when and why.

Reviewing, publishing and unpublishing act for a principal: the policy decides who may
(``review`` or ``publish`` on ``catalog:<code>``), the workflow which status may follow which, and
every transition and every refusal is an audit row (``catalog.review``, ``catalog.publish``,
``catalog.unpublish``) before it returns or raises.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from catalog import search as fulltext
from catalog.entry import Definition, EntryStatus, State, diff
from catalog.generate import Generated
from catalog.records import CatalogEntry, CatalogEvent, EntryVersion
from catalog.workflow import Action, WorkflowError, decide
from govlake.errors import GovlakeError
from govlake.platform_db.schema import catalog_entry, catalog_event, catalog_resource
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import trail
from services.identity.policy import require

REGISTRAR = "catalog"
ATTEMPTS = 3
# action -> (the verb the policy is asked, the audit action)
ACTS: dict[Action, tuple[str, str]] = {
    "approve": ("review", "catalog.review"),
    "reject": ("review", "catalog.review"),
    "publish": ("publish", "catalog.publish"),
    "unpublish": ("publish", "catalog.unpublish"),
}


@dataclass(frozen=True)
class Registration:
    """What a build did to one resource."""

    code: str
    dataset: str
    version: int
    outcome: Literal["new", "changed", "unchanged"]
    status: str


@dataclass(frozen=True)
class Filters:
    """List filters; ``None`` means any."""

    department: str | None = None
    category: str | None = None
    classification: str | None = None
    sharing: str | None = None
    status: str | None = None
    published_only: bool = False


class Catalog:
    """Reads and writes the catalog tables through one engine on the platform DB."""

    def __init__(self, rt: Runtime) -> None:
        """Use the platform DB of ``rt``; its conf gives codes, its policy who may act."""
        self.rt = rt
        self.engine = rt.platform_db
        self.config = rt.config

    # -- registration ---------------------------------------------------------------------

    def register(self, generated: Generated) -> Registration:
        """Store a generated entry: a new resource, a new version, or only a state refresh.

        Two DAGs may register at the same time; the one that loses the race for a new code or
        version number tries again on the state the other committed.
        """
        for _ in range(ATTEMPTS - 1):
            try:
                return self._register(generated)
            except sa.exc.IntegrityError:
                continue
        return self._register(generated)

    def _register(self, generated: Generated) -> Registration:
        definition, state = generated.definition, generated.state
        now = datetime.now(UTC)
        with self.engine.begin() as db:
            resource = db.execute(
                sa.select(catalog_resource).where(catalog_resource.c.dataset == definition.dataset)
            ).first()
            if resource is None:
                code = self._next_code(db)
                db.execute(
                    catalog_resource.insert().values(
                        code=code,
                        dataset=definition.dataset,
                        owner=definition.owner,
                        latest_version=1,
                        state=state.model_dump(mode="json"),
                        registered_at=now,
                        refreshed_at=now,
                    )
                )
                self._add_version(db, code, 1, definition, None, now)
                fulltext.index(db, code, definition)
                return Registration(code, definition.dataset, 1, "new", "registered")
            code, version = resource.code, resource.latest_version
            latest = self._entry(db, code, version)
            db.execute(
                catalog_resource.update()
                .where(catalog_resource.c.code == code)
                .values(state=state.model_dump(mode="json"), refreshed_at=now)
            )
            if latest.fingerprint == definition.fingerprint():
                return Registration(code, definition.dataset, version, "unchanged", latest.status)
            previous = Definition.model_validate(latest.definition)
            if latest.status == "registered":
                self._move(
                    db, code, version, action="supersede", from_status="registered",
                    to_status="superseded", actor=REGISTRAR,
                    comment=f"replaced by version {version + 1} before review", at=now,
                )  # fmt: skip
            self._add_version(db, code, version + 1, definition, diff(previous, definition), now)
            db.execute(
                catalog_resource.update()
                .where(catalog_resource.c.code == code)
                .values(latest_version=version + 1, owner=definition.owner)
            )
            fulltext.index(db, code, definition)
            return Registration(code, definition.dataset, version + 1, "changed", "registered")

    def _next_code(self, db: sa.Connection) -> str:
        prefix = self.config.catalog.resource_code_prefix + "-"
        codes = db.scalars(
            sa.select(catalog_resource.c.code).where(catalog_resource.c.code.startswith(prefix))
        )
        numbers = [int(c.removeprefix(prefix)) for c in codes if c.removeprefix(prefix).isdigit()]
        return f"{prefix}{max(numbers, default=0) + 1:06d}"

    def _add_version(
        self,
        db: sa.Connection,
        code: str,
        version: int,
        definition: Definition,
        changes: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        db.execute(
            catalog_entry.insert().values(
                code=code,
                version=version,
                definition=definition.model_dump(mode="json"),
                fingerprint=definition.fingerprint(),
                diff=changes,
                status="registered",
                registered_at=now,
            )
        )
        db.execute(
            catalog_event.insert().values(
                code=code,
                version=version,
                action="register",
                from_status=None,
                to_status="registered",
                actor=REGISTRAR,
                department=None,
                comment="new resource" if changes is None else "definition changed",
                at=now,
            )
        )

    # -- workflow -------------------------------------------------------------------------

    def review(
        self,
        code: str,
        *,
        approve: bool,
        actor: Principal,
        comment: str | None,
        version: int | None,
    ) -> EntryStatus:
        """Approve or reject a registered version (default: the latest)."""
        return self._transition(code, version, "approve" if approve else "reject", actor, comment)

    def publish(self, code: str, *, actor: Principal, version: int | None = None) -> EntryStatus:
        """Publish an approved (or unpublished) version, superseding the one published before."""
        return self._transition(code, version, "publish", actor, None)

    def unpublish(self, code: str, *, actor: Principal, comment: str | None = None) -> EntryStatus:
        """Withdraw the published version."""
        return self._transition(code, None, "unpublish", actor, comment)

    def _transition(
        self, code: str, version: int | None, action: Action, actor: Principal, comment: str | None
    ) -> EntryStatus:
        """Ask the policy, then apply the workflow's rule in one transaction; audited either way."""
        verb, audited_as = ACTS[action]
        with trail.audited(self.rt, audited_as, code, actor, step=action) as noted:
            with self.engine.connect() as db:
                resource = self._resource(db, code)
            require(self.rt, actor, verb, f"catalog:{resource.code}")
            with self.engine.begin() as db:
                resource = self._resource(db, resource.code)
                number = self._version_for(resource, version, action)
                noted["version"] = number
                to_status = self._apply(db, resource, number, action, actor, comment)
            noted["to_status"] = to_status
            return to_status

    @staticmethod
    def _version_for(resource: sa.Row[Any], version: int | None, action: Action) -> int:
        """The version ``action`` applies to: the published one to unpublish, else the latest."""
        if action != "unpublish":
            return version or int(resource.latest_version)
        if resource.published_version is None:
            raise WorkflowError(f"{resource.code} has no published version")
        return int(resource.published_version)

    def _apply(
        self,
        db: sa.Connection,
        resource: sa.Row[Any],
        number: int,
        action: Action,
        actor: Principal,
        comment: str | None,
    ) -> EntryStatus:
        """Move version ``number`` by ``action`` as the workflow allows, recording the events."""
        now = datetime.now(UTC)
        entry = self._entry(db, resource.code, number)
        to_status = decide(
            entry=f"{resource.code} version {number} ({resource.dataset})",
            status=entry.status,
            action=action,
            comment=comment,
        )
        by = {"actor": actor.username, "department": actor.organisation, "at": now}
        published = resource.published_version
        if action == "publish" and published is not None and published != number:
            self._move(
                db, resource.code, published, action="supersede", from_status="published",
                to_status="superseded", comment=f"version {number} published", **by,
            )  # fmt: skip
        self._move(
            db, resource.code, number, action=action, from_status=entry.status,
            to_status=to_status, comment=comment, **by,
        )  # fmt: skip
        if action in ("publish", "unpublish"):
            db.execute(
                catalog_resource.update()
                .where(catalog_resource.c.code == resource.code)
                .values(published_version=number if action == "publish" else None)
            )
        return to_status

    def _move(self, db: sa.Connection, code: str, version: int, **event: Any) -> None:
        """Set a version's status to ``event["to_status"]`` and record the event."""
        db.execute(
            catalog_entry.update()
            .where(catalog_entry.c.code == code, catalog_entry.c.version == version)
            .values(status=event["to_status"])
        )
        db.execute(catalog_event.insert().values(code=code, version=version, **event))

    # -- queries --------------------------------------------------------------------------

    def resource(self, code: str, *, published: bool = False) -> CatalogEntry:
        """The resource ``code`` (or dataset ``zone.name``) with its latest or published entry."""
        with self.engine.connect() as db:
            resource = self._resource(db, code)
            version = resource.published_version if published else resource.latest_version
            if version is None:
                raise GovlakeError(f"{code} is not published")
            entry = self._entry(db, resource.code, version)
        return _summary(resource, entry)

    def entries(
        self, filters: Filters | None = None, codes: list[str] | None = None
    ) -> list[CatalogEntry]:
        """Resources with the entry a reader sees: the published one, else the latest."""
        filters = filters or Filters()
        shown: sa.ColumnElement[Any] = sa.func.coalesce(
            catalog_resource.c.published_version, catalog_resource.c.latest_version
        )
        if filters.published_only:
            shown = catalog_resource.c.published_version
        columns = [c for c in catalog_resource.c if c.name != "registered_at"]
        entry_columns = [
            catalog_entry.c[n] for n in ("version", "status", "registered_at", "definition")
        ]
        query = sa.select(*columns, *entry_columns).join(
            catalog_entry,
            sa.and_(
                catalog_entry.c.code == catalog_resource.c.code, catalog_entry.c.version == shown
            ),
        )
        if filters.status:
            query = query.where(catalog_entry.c.status == filters.status)
        if codes is not None:
            query = query.where(catalog_resource.c.code.in_(codes))
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(catalog_resource.c.code)).all()
        found = [_summary(row, row) for row in rows]
        wanted = {
            "owner": filters.department,
            "category": filters.category,
            "classification": filters.classification,
        }
        return [
            entry
            for entry in found
            if all(v is None or getattr(entry.definition, k) == v for k, v in wanted.items())
            and (filters.sharing is None or entry.definition.sharing.type == filters.sharing)
        ]

    def search(
        self, query: str, filters: Filters | None = None, limit: int = 20
    ) -> list[CatalogEntry]:
        """Entries matching every word of ``query``, best first, each with its ``rank``."""
        with self.engine.connect() as db:
            rank = dict(fulltext.search(db, query, limit))
        found = [replace(e, rank=rank[e.code]) for e in self.entries(filters, codes=list(rank))]
        return sorted(found, key=lambda e: -(e.rank or 0))

    def versions(self, code: str) -> list[EntryVersion]:
        """Every entry version of a resource, oldest first, with its diff."""
        rows = self._rows_of(code, catalog_entry, catalog_entry.c.version)
        return [
            EntryVersion(**{**r._mapping, "definition": Definition.model_validate(r.definition)})
            for r in rows
        ]

    def events(self, code: str) -> list[CatalogEvent]:
        """The workflow history of a resource, oldest first."""
        return [
            CatalogEvent(**r._mapping)
            for r in self._rows_of(code, catalog_event, catalog_event.c.id)
        ]

    def _rows_of(self, code: str, table: sa.Table, order: sa.Column[Any]) -> list[sa.Row[Any]]:
        with self.engine.connect() as db:
            resource = self._resource(db, code)
            query = sa.select(table).where(table.c.code == resource.code).order_by(order)
            return list(db.execute(query))

    def _resource(self, db: sa.Connection, code: str) -> sa.Row[Any]:
        column = catalog_resource.c.dataset if "." in code else catalog_resource.c.code
        # No code or dataset holds a NUL (a PostgreSQL text cannot): such a name is not asked for.
        row = (
            None
            if "\x00" in code
            else db.execute(sa.select(catalog_resource).where(column == code)).first()
        )
        if row is None:
            raise GovlakeError(
                f"no catalog resource {code!r}: run `govlake catalog build` after the dataset "
                "is built, and `govlake catalog list` for the codes"
            )
        return row

    def _entry(self, db: sa.Connection, code: str, version: int) -> sa.Row[Any]:
        row = db.execute(
            sa.select(catalog_entry).where(
                catalog_entry.c.code == code, catalog_entry.c.version == version
            )
        ).first()
        if row is None:
            raise GovlakeError(f"{code} has no version {version}")
        return row


def _summary(resource: Any, entry: Any) -> CatalogEntry:
    return CatalogEntry(
        code=resource.code,
        dataset=resource.dataset,
        version=entry.version,
        latest_version=resource.latest_version,
        published_version=resource.published_version,
        status=entry.status,
        registered_at=entry.registered_at,
        refreshed_at=resource.refreshed_at,
        definition=Definition.model_validate(entry.definition),
        state=State.model_validate(resource.state),
    )
