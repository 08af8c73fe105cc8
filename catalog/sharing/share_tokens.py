"""The bearer tokens of Delta Sharing profile files: issued per grant, checked on every call.

A user of the organisation a ``share_interface`` grant belongs to asks for a profile
(:func:`issue`): a fresh random token, of which only the SHA-256 digest is stored, replaces
the grant's previous one and expires with the grant. Every request of the share server calls
:func:`holder`, which finds the token (an unknown or replaced one is :class:`TokenUnknown`, a
401), re-reads its user (disabled or locked: 401), and then :func:`in_force`, which refuses,
audited, a grant revoked, expired or out of its period (403). So revocation and expiry take
effect on the next call.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from catalog.sharing import applications, grants
from catalog.sharing.grants import ShareGrant
from govlake.errors import GovlakeError
from govlake.platform_db.schema import share_token
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import accounts, trail
from services.identity.organisations import OrgTree
from services.identity.policy import AccessDenied, acting
from services.identity.settings import Clock, utc_now

PREFIX = "gls_"
MODE = "share_interface"


class TokenUnknown(GovlakeError):
    """No share token in force has this value, or its user may not sign in."""


@dataclass(frozen=True)
class Issued:
    """A token just issued (shown once), its grant, and when it expires."""

    token: str
    grant: ShareGrant
    expires_at: datetime


def issue(rt: Runtime, application: str, *, clock: Clock = utc_now) -> Issued:
    """A new bearer token for the grant of ``application``, replacing the grant's previous one."""
    actor = acting(rt)
    with trail.audited(rt, "sharing.profile", f"application:{application}", actor) as noted:
        _, _, grant = applications.show(rt, application)
        now = clock()
        if grant is None or grant.mode != MODE:
            raise GovlakeError(f"{application} has no grant by {MODE}: no profile to issue")
        in_force(rt, actor, grant, now)
        token = PREFIX + secrets.token_urlsafe(32)
        with rt.platform_db.begin() as conn:
            conn.execute(
                share_token.update()
                .where(share_token.c.grant_id == grant.id, share_token.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            made = conn.execute(
                share_token.insert().values(
                    grant_id=grant.id, token_sha256=_digest(token), principal=actor.username,
                    issued_at=now, expires_at=grant.valid_until,
                ).returning(share_token.c.id)
            ).scalar_one()  # fmt: skip
        noted.update(grant=grant.id, token_id=int(made), expires_at=grant.valid_until.isoformat())
    return Issued(token, grant, grant.valid_until)


def holder(rt: Runtime, token: str) -> tuple[Principal, ShareGrant]:
    """The principal a share token was issued to and its grant, or :class:`TokenUnknown`."""
    with rt.platform_db.connect() as conn:
        row = conn.execute(
            sa.select(share_token).where(
                share_token.c.token_sha256 == _digest(token), share_token.c.revoked_at.is_(None)
            )
        ).one_or_none()
        if row is None:
            raise TokenUnknown("share token refused: unknown or replaced")
        account = accounts.find(conn, row.principal)
        if account is None or account.status != "active":
            raise TokenUnknown(f"share token refused: user {row.principal} may not sign in")
        grant = grants.by_id(conn, row.grant_id)
        assert grant is not None  # a foreign key
        return accounts.principal(conn, account), grant


def in_force(rt: Runtime, actor: Principal, grant: ShareGrant, now: datetime) -> None:
    """Refuse, audited, unless ``grant`` is in force now for ``actor``'s organisation."""
    lineage = OrgTree.of(rt.config).lineage(actor.organisation)
    why = (
        "an auditor reads the audit and nothing else" if actor.holds("auditor")
        else f"the grant is for {grant.organisation}" if grant.organisation not in lineage
        else f"the grant is {grant.status}" if grant.status != "active"
        else "the grant is outside its period" if not grant.in_force(now)
        else None
    )  # fmt: skip
    if why is None:
        return
    reason = f"{actor} may not read {grant.resource} by {MODE}: {why}"
    details = {"verb": "read_data", "mode": MODE, "grant": grant.id, "reason": reason}
    trail.write(rt, actor, "access.denied", f"catalog:{grant.resource}", "refused", details)
    raise AccessDenied(reason)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
