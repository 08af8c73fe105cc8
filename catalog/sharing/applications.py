"""Resource applications: apply, then each step of the workflow, by a principal allowed to take it.

Applying needs ``apply`` for one's own organisation and ``read_metadata`` on the resource, which
must be published and shared (not ``not_shared``), and owned by another organisation; the
fields asked for must be its columns. Each later step needs the verb the workflow names for it
on ``catalog:<code>`` (:mod:`catalog.sharing.workflow`): the platform accepts and authorises,
the owner approves, either revokes. Authorising writes the grant, with the columns (default:
the fields asked for), a row filter parsed over the dataset's columns, the sensitive columns
given in clear, a quota and the period; the grant is in force from that moment. Every step is
one event row and one audit row (``sharing.<action>``), allowed or not, and its messages, in
the same transaction: the next handler is told, and the applicant of every decision
(:mod:`catalog.sharing.notices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from catalog.records import CatalogEntry
from catalog.sharing import grants, notices
from catalog.sharing.grants import ShareGrant
from catalog.sharing.terms import Request, Status, Terms
from catalog.sharing.workflow import Action, StepRefused, step
from catalog.store import Catalog
from govlake import row_filter
from govlake.errors import GovlakeError
from govlake.platform_db.schema import share_application, share_application_event
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import trail
from services.identity.organisations import OrgTree
from services.identity.policy import acting, authorize, require
from services.identity.settings import Clock, as_utc, utc_now

CODE_PREFIX = "AP"
OPEN: tuple[Status, ...] = ("submitted", "accepted", "approved", "authorized", "active")
CLOCK_ACTOR = "govlake (the grant's period)"
EXPIRY_WARNING = timedelta(days=7)


@dataclass(frozen=True)
class Application:
    """One application and where it stands."""

    id: int
    code: str
    applicant: str
    organisation: str
    resource: str
    dataset: str
    owner: str
    request: Request
    provider: str
    sources: list[str]
    status: Status
    submitted_at: datetime
    changed_at: datetime


@dataclass(frozen=True)
class Event:
    """One step taken on an application."""

    action: str
    from_status: str | None
    to_status: str
    actor: str
    organisation: str | None
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class Grant:
    """What authorising allows beyond the application: each ``None`` keeps the default."""

    columns: list[str] | None = None
    row_filter: str | None = None
    clear: tuple[str, ...] = ()
    per_minute: int | None = None
    until: datetime | None = None


def apply(rt: Runtime, resource: str, request: Request, *, clock: Clock = utc_now) -> Application:
    """Apply for ``resource`` (a catalog code) for the acting principal's organisation."""
    actor = acting(rt)
    with trail.audited(rt, "sharing.apply", f"catalog:{resource}", actor,
                       mode=request.mode) as noted:  # fmt: skip
        require(rt, actor, "apply", f"organisation:{actor.organisation}")
        entry = _published(rt, resource)
        require(rt, actor, "read_metadata", f"catalog:{entry.code}")
        _may_apply(rt, actor, entry, request)
        now = clock()
        with rt.platform_db.begin() as conn:
            _no_open_one(conn, actor.organisation, entry.code, request)
            made = _insert(conn, actor, entry, request, now)
            noted["application"] = made
            noted["messages"] = notices.tell(rt, conn, _find_in(conn, made), "submitted",
                                             actor.username)  # fmt: skip
        return show(rt, made)[0]


def act(
    rt: Runtime, code: str, action: Action, comment: str | None = None, *, clock: Clock = utc_now
) -> Application:
    """Accept, approve, reject or revoke application ``code`` as the acting principal."""
    if action == "authorize":
        raise GovlakeError("authorising sets the grant's terms: use authorize_application")
    actor = acting(rt)
    with trail.audited(rt, f"sharing.{action}", f"application:{code}", actor) as noted:
        found = _find(rt, code)
        to_status = _allowed_step(rt, actor, found, action, comment)
        now = clock()
        with rt.platform_db.begin() as conn:
            _move(conn, found, action, to_status, actor, comment, now)
            if to_status == "revoked":
                grants.end(conn, found.id, "revoked", by=actor.username, now=now)
            noted["messages"] = notices.tell(rt, conn, found, to_status, actor.username, comment)
        noted["to_status"] = to_status
    return _find(rt, code)


def authorize_application(
    rt: Runtime, code: str, grant: Grant, comment: str | None = None, *, clock: Clock = utc_now
) -> ShareGrant:
    """Authorise application ``code``: write its grant, in force from now."""
    actor = acting(rt)
    with trail.audited(rt, "sharing.authorize", f"application:{code}", actor) as noted:
        found = _find(rt, code)
        _allowed_step(rt, actor, found, "authorize", comment)
        terms, until = _terms(rt, found, grant)
        now = clock()
        with rt.platform_db.begin() as conn:
            _move(conn, found, "authorize", "authorized", actor, comment, now)
            grant_id = grants.add(
                conn, application_id=found.id, organisation=found.organisation,
                resource=found.resource, dataset=found.dataset, mode=found.request.mode,
                terms=terms, valid_from=now, valid_until=until, by=actor.username, now=now,
            )  # fmt: skip
            activated = _find_in(conn, code)
            _move(conn, activated, "activate", "active", CLOCK_ACTOR, None, now)
            made = grants.of_application(conn, found.id)
            noted["messages"] = notices.tell(rt, conn, found, "active", actor.username, comment)
        noted.update(grant=grant_id, columns=terms.columns, row_filter=terms.row_filter)
    assert made is not None
    return made


def expire(rt: Runtime, *, clock: Clock = utc_now) -> list[str]:
    """Mark every application whose period has ended expired; their codes.

    The platform does it (``accept`` held in the platform department), as its clock says.
    """
    actor = acting(rt)
    require(rt, actor, "accept", f"organisation:{rt.config.catalog.platform_department}")
    now = clock()
    ended = []
    with rt.platform_db.begin() as conn:
        for grant in grants.listed(conn):
            if grant.status == "active" and grant.valid_until <= now:
                found = _find_in(conn, grant.application)
                _move(conn, found, "expire", "expired", CLOCK_ACTOR, None, now)
                grants.end(conn, found.id, "expired", by=CLOCK_ACTOR, now=now)
                notices.tell(rt, conn, found, "expired", CLOCK_ACTOR)
                ended.append(found.code)
    for code in ended:
        trail.write(rt, CLOCK_ACTOR, "sharing.expire", f"application:{code}", "success")
    return ended


def warn_expiring(
    rt: Runtime, *, within: timedelta = EXPIRY_WARNING, clock: Clock = utc_now
) -> list[str]:
    """Tell each applicant whose grant ends within ``within``, once; the codes told now.

    The platform does it, as :func:`expire` (``accept`` held in the platform department).
    """
    actor = acting(rt)
    require(rt, actor, "accept", f"organisation:{rt.config.catalog.platform_department}")
    now = clock()
    warned = []
    with rt.platform_db.begin() as conn:
        for grant in grants.listed(conn):
            if grant.status == "active" and now < grant.valid_until <= now + within:
                found = _find_in(conn, grant.application)
                until = f"{grant.valid_until:%Y-%m-%d %H:%M}"
                if notices.warn_expiry(rt, conn, found, until, actor.username):
                    warned.append(found.code)
    for code in warned:
        trail.write(rt, actor, "sharing.expiry_warning", f"application:{code}", "success")
    return warned


def waiting_in(conn: sa.Connection, statuses: tuple[Status, ...]) -> list[Application]:
    """Every application in one of ``statuses``, whoever may see it (for the platform's checks)."""
    query = sa.select(share_application).where(share_application.c.status.in_(statuses))
    return [_application(row._mapping) for row in conn.execute(query.order_by("id"))]


def listed(rt: Runtime, status: Status | None = None) -> list[Application]:
    """The applications the acting principal may see: its organisation's, and those it decides."""
    actor = acting(rt)
    query = sa.select(share_application)
    if status is not None:
        query = query.where(share_application.c.status == status)
    with rt.platform_db.connect() as conn:
        rows = conn.execute(query.order_by(share_application.c.id)).all()
    found = [_application(row._mapping) for row in rows]
    return [a for a in found if _sees(rt, actor, a)]


def show(rt: Runtime, code: str) -> tuple[Application, list[Event], ShareGrant | None]:
    """Application ``code``, its steps and its grant, for a principal that may see it."""
    actor = acting(rt)
    found = _find(rt, code)
    if not _sees(rt, actor, found):
        require(rt, actor, "accept", f"catalog:{found.resource}")  # the refusal, audited
    with rt.platform_db.connect() as conn:
        rows = conn.execute(
            sa.select(share_application_event)
            .where(share_application_event.c.application == found.id)
            .order_by(share_application_event.c.id)
        ).all()
        grant = grants.of_application(conn, found.id)
    events = [
        Event(r.action, r.from_status, r.to_status, r.actor, r.organisation, r.comment,
              as_utc(r.at))
        for r in rows
    ]  # fmt: skip
    return found, events, grant


def _published(rt: Runtime, code: str) -> CatalogEntry:
    try:
        return Catalog(rt).resource(code, published=True)
    except GovlakeError as exc:
        raise GovlakeError(f"{exc}: only published catalog resources can be applied for") from None


def _may_apply(rt: Runtime, actor: Principal, entry: CatalogEntry, request: Request) -> None:
    definition = entry.definition
    if definition.sharing.type == "not_shared":
        raise GovlakeError(f"{entry.code} ({entry.dataset}) is not shared (不予共享)")
    if OrgTree.of(rt.config).within(actor.organisation, definition.owner):
        raise GovlakeError(
            f"{entry.code} belongs to {definition.owner}: {actor.organisation} reads it already"
        )
    columns = [c.name for c in definition.columns if not c.system]
    unknown = [f for f in request.fields if f not in columns]
    if unknown:
        raise GovlakeError(
            f"fields {', '.join(unknown)} are not columns of {entry.code}: {', '.join(columns)}"
        )


def _no_open_one(conn: sa.Connection, organisation: str, resource: str, request: Request) -> None:
    rows = conn.execute(
        sa.select(share_application.c.code, share_application.c.request).where(
            share_application.c.organisation == organisation,
            share_application.c.resource == resource,
            share_application.c.status.in_(OPEN),
        )
    ).all()
    for row in rows:
        if row.request["mode"] == request.mode:
            raise GovlakeError(
                f"{organisation} has application {row.code} for {resource} by {request.mode} "
                "open already"
            )


def _insert(
    conn: sa.Connection, actor: Principal, entry: CatalogEntry, request: Request, now: datetime
) -> str:
    sources = [f"{s.kind}:{s.name}.{s.stream}" for s in entry.state.lineage.sources]
    recorded = {**request.model_dump(mode="json"), "provider": entry.definition.owner_name,
                "sources": sources}  # fmt: skip
    inserted = conn.execute(
        share_application.insert().values(
            code=f"pending-{now.timestamp()}-{actor.id}", applicant=actor.username,
            organisation=actor.organisation, resource=entry.code, dataset=entry.dataset,
            owner=entry.definition.owner, request=recorded, status="submitted",
            submitted_at=now, changed_at=now,
        ).returning(share_application.c.id)
    )  # fmt: skip
    number = int(inserted.scalar_one())
    code = f"{CODE_PREFIX}-{number:06d}"
    conn.execute(
        share_application.update().where(share_application.c.id == number).values(code=code)
    )
    conn.execute(
        share_application_event.insert().values(
            application=number, action="apply", from_status=None, to_status="submitted",
            actor=actor.username, organisation=actor.organisation, comment=None, at=now,
        )
    )  # fmt: skip
    return code


def _allowed_step(
    rt: Runtime, actor: Principal, found: Application, action: Action, comment: str | None
) -> Status:
    """The status the step leads to, once the workflow and the policy allow it."""
    to_status, verbs = step(found.code, found.status, action, comment)
    securable = f"catalog:{found.resource}"
    if not any(authorize(rt, actor, verb, securable).allowed for verb in verbs):
        require(rt, actor, verbs[0], securable)  # the refusal, audited
    return to_status


def _terms(rt: Runtime, found: Application, grant: Grant) -> tuple[Terms, datetime]:
    definition = Catalog(rt).resource(found.resource).definition
    columns = [c.name for c in definition.columns if not c.system]
    chosen = grant.columns or found.request.fields or columns
    for name in (*chosen, *grant.clear):
        if name not in columns:
            raise GovlakeError(f"{name} is not a column of {found.resource}: {', '.join(columns)}")
    if grant.row_filter is not None:
        try:
            row_filter.render(grant.row_filter, columns, where=f"row filter of {found.code}")
        except ValueError as exc:
            raise GovlakeError(str(exc)) from None
    asked_until = datetime.combine(found.request.until + timedelta(days=1), time(), UTC)
    until = min(asked_until, grant.until) if grant.until else asked_until
    terms = Terms(columns=list(chosen), row_filter=grant.row_filter, clear=list(grant.clear),
                  per_minute=grant.per_minute)  # fmt: skip
    return terms, until


def _move(
    conn: sa.Connection,
    found: Application,
    action: str,
    to_status: Status,
    actor: Principal | str,
    comment: str | None,
    now: datetime,
) -> None:
    name = actor.username if isinstance(actor, Principal) else actor
    organisation = actor.organisation if isinstance(actor, Principal) else None
    moved = conn.execute(
        share_application.update()
        .where(share_application.c.id == found.id, share_application.c.status == found.status)
        .values(status=to_status, changed_at=now)
    )
    if moved.rowcount != 1:
        raise StepRefused(f"{found.code} changed meanwhile: look at it again")
    conn.execute(
        share_application_event.insert().values(
            application=found.id, action=action, from_status=found.status, to_status=to_status,
            actor=name, organisation=organisation, comment=comment, at=now,
        )
    )  # fmt: skip


def _sees(rt: Runtime, actor: Principal, found: Application) -> bool:
    """Applicants see their organisation's subtree's; the owner and the platform see theirs."""
    if authorize(rt, actor, "apply", f"organisation:{found.organisation}").allowed:
        return True
    securable = f"catalog:{found.resource}"
    return any(authorize(rt, actor, verb, securable).allowed for verb in ("accept", "approve"))


def _find(rt: Runtime, code: str) -> Application:
    with rt.platform_db.connect() as conn:
        return _find_in(conn, code)


def _find_in(conn: sa.Connection, code: str) -> Application:
    row = conn.execute(
        sa.select(share_application).where(share_application.c.code == code)
    ).one_or_none()
    if row is None:
        raise GovlakeError(f"no application {code!r}")
    return _application(row._mapping)


def _application(row: sa.RowMapping | dict[str, Any]) -> Application:
    recorded = dict(row["request"])
    provider, sources = recorded.pop("provider"), recorded.pop("sources")
    recorded["until"] = date.fromisoformat(recorded["until"])  # stored valid; may be past now
    return Application(
        id=row["id"],
        code=row["code"],
        applicant=row["applicant"],
        organisation=row["organisation"],
        resource=row["resource"],
        dataset=row["dataset"],
        owner=row["owner"],
        request=Request.model_construct(**recorded),
        provider=provider,
        sources=sources,
        status=row["status"],
        submitted_at=as_utc(row["submitted_at"]),
        changed_at=as_utc(row["changed_at"]),
    )
