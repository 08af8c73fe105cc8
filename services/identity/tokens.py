"""Signed session tokens: HS256 JWTs carrying who, their organisation, roles and generation.

The signing key comes from ``GOVLAKE_TOKEN_KEY`` or the password of the connection
``govlake_tokens`` (an Airflow Connection, or ``AIRFLOW_CONN_GOVLAKE_TOKENS``): never from conf,
never from the platform DB, and there is no default. Reading a token checks its signature with
HS256 only (so ``alg: none`` and every other algorithm are refused), its issuer, its claims and
its expiry against the injected clock. Whether its user may still use it is the caller's check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from govlake.connections import env_var, secret
from govlake.errors import GovlakeError
from govlake.principal import Principal

ALGORITHM = "HS256"
ISSUER = "govlake"
KEY_VARIABLE = "GOVLAKE_TOKEN_KEY"
KEY_CONNECTION = "govlake_tokens"
MIN_KEY_BYTES = 32  # RFC 7518: an HS256 key at least as long as the hash
CLAIMS = ("iss", "sub", "org", "roles", "gen", "jti", "iat", "exp")


class TokenRejected(GovlakeError):
    """A token that is not, or no longer, a valid session; ``username`` when its claims are read."""

    def __init__(self, message: str, username: str | None = None) -> None:
        super().__init__(message)
        self.username = username


@dataclass(frozen=True)
class Claims:
    """What a verified token says; ``roles`` is informative, the platform DB decides."""

    username: str
    organisation: str
    roles: tuple[str, ...]
    generation: int
    token_id: str
    issued_at: datetime
    expires_at: datetime


def signing_key() -> str:
    """The token signing key, or an error saying where to set it (never what it is)."""
    found = secret(KEY_VARIABLE, KEY_CONNECTION)
    if found is None:
        raise GovlakeError(
            f"no token signing key: set {KEY_VARIABLE}, or the password of the connection "
            f"{KEY_CONNECTION!r} ({env_var(KEY_CONNECTION)} or an Airflow Connection)"
        )
    key = found[0]
    if len(key.encode()) < MIN_KEY_BYTES:
        raise GovlakeError(f"the token signing key must be at least {MIN_KEY_BYTES} bytes long")
    return key


def issue(
    principal: Principal, generation: int, *, key: str, now: datetime, lifetime: timedelta
) -> tuple[str, Claims]:
    """A signed token for ``principal`` at token generation ``generation``, and its claims."""
    claims = Claims(
        username=principal.username,
        organisation=principal.organisation,
        roles=tuple(sorted(str(r) for r in principal.roles)),
        generation=generation,
        token_id=uuid.uuid4().hex,
        issued_at=now,
        expires_at=now + lifetime,
    )
    payload = {
        "iss": ISSUER,
        "sub": claims.username,
        "org": claims.organisation,
        "roles": list(claims.roles),
        "gen": claims.generation,
        "jti": claims.token_id,
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


def read(token: str, *, key: str, now: datetime) -> Claims:
    """The claims of ``token``, or :class:`TokenRejected` saying what is wrong with it."""
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            # Expiry is checked below against the injected clock, not the system's.
            options={"require": list(CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidAlgorithmError:
        raise TokenRejected(f"token refused: it is not signed with {ALGORITHM}") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("token refused: its signature does not match") from None
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"token refused: {exc}") from None
    return _claims(payload, now)


def _claims(payload: dict[str, Any], now: datetime) -> Claims:
    try:
        claims = Claims(
            username=str(payload["sub"]),
            organisation=str(payload["org"]),
            roles=tuple(str(r) for r in payload["roles"]),
            generation=int(payload["gen"]),
            token_id=str(payload["jti"]),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except (TypeError, ValueError):
        raise TokenRejected("token refused: a claim has the wrong type") from None
    if claims.expires_at <= now:
        expired = f"{claims.expires_at:%Y-%m-%d %H:%M} UTC"
        raise TokenRejected(
            f"token refused: it expired at {expired}; log in again", claims.username
        )
    return claims
