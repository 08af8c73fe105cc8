"""Authentication settings and the clock, both injectable so that tests never sleep.

Defaults: lock an account for 15 minutes after 5 failed logins in a row; tokens live 8 hours;
a new password may not be one of the last 5. Operators change them with ``GOVLAKE_LOCKOUT_AFTER``,
``GOVLAKE_LOCKOUT_MINUTES``, ``GOVLAKE_TOKEN_HOURS`` and ``GOVLAKE_PASSWORD_HISTORY``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from govlake.errors import GovlakeError

Clock = Callable[[], datetime]
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def utc_now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC: SQLite gives back the UTC time it stored without its zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class AuthSettings:
    """Lockout, token lifetime and password history."""

    lockout_after: int = 5
    lockout: timedelta = timedelta(minutes=15)
    token_lifetime: timedelta = timedelta(hours=8)
    password_history: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AuthSettings:
        """The defaults, with the ``GOVLAKE_*`` variables set in ``env`` applied."""
        return cls(
            lockout_after=_positive(env, "GOVLAKE_LOCKOUT_AFTER", cls.lockout_after),
            lockout=_positive(env, "GOVLAKE_LOCKOUT_MINUTES", cls.lockout // MINUTE) * MINUTE,
            token_lifetime=_positive(env, "GOVLAKE_TOKEN_HOURS", cls.token_lifetime // HOUR) * HOUR,
            password_history=_positive(env, "GOVLAKE_PASSWORD_HISTORY", cls.password_history),
        )


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise GovlakeError(f"{name} must be a positive whole number, not {text!r}")
    return int(text)
