"""Where people receive e-mail: one address per user, set by the user or an administrator.

Setting an address needs to be that user, or ``administer`` on the user's organisation; each
change is an audit row (``notify.contact``). An address is contact data, not a secret.
"""

from __future__ import annotations

from email.utils import parseaddr

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import notify_contact
from govlake.runtime import Runtime
from services.identity import accounts, trail
from services.identity.policy import acting, require
from services.identity.settings import Clock, utc_now
from services.notifications.outbox import EMAIL


def set_email(rt: Runtime, username: str, address: str, *, clock: Clock = utc_now) -> None:
    """Make ``address`` where ``username`` receives e-mail."""
    actor = acting(rt)
    with trail.audited(rt, "notify.contact", f"user:{username}", actor, channel=EMAIL):
        with rt.platform_db.connect() as conn:
            account = accounts.existing(conn, username)
        if account.username != actor.username:
            require(rt, actor, "administer", f"organisation:{account.organisation}")
        _, parsed = parseaddr(address)
        if parsed != address.strip() or "@" not in parsed or len(parsed) > 255:
            raise GovlakeError(f"{address!r} is not an e-mail address (name@example.org)")
        with rt.platform_db.begin() as conn:
            conn.execute(
                notify_contact.delete().where(
                    notify_contact.c.user_id == account.id, notify_contact.c.channel == EMAIL
                )
            )
            conn.execute(notify_contact.insert().values(
                user_id=account.id, channel=EMAIL, address=parsed, set_by=actor.username,
                set_at=clock(),
            ))  # fmt: skip


def email_of(rt: Runtime, username: str) -> str | None:
    """The address ``username`` receives e-mail at, if any."""
    with rt.platform_db.connect() as conn:
        account = accounts.existing(conn, username)
        return conn.scalar(
            sa.select(notify_contact.c.address).where(
                notify_contact.c.user_id == account.id, notify_contact.c.channel == EMAIL
            )
        )
