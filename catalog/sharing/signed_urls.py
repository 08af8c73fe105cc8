"""Signed, expiring addresses of a grant's files: a share table's, or a file download's export.

A file address names the route serving it (``files``: a share table's file, for the Delta
Sharing client; ``exports``: an export's), the grant, the file's path inside the grant's
folder, the principal it was issued to, and when it expires; ``signature`` is HMAC-SHA256
over those with the key of
``GOVLAKE_SHARE_URL_KEY`` (else the password of the connection ``govlake_share_urls``), which
is never in conf or the platform DB. Changing any part, or using it after it expires, is
refused; so is a path that could leave the share table, even signed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from urllib.parse import quote, urlencode

from govlake.connections import env_var, secret
from govlake.errors import GovlakeError

KEY_VARIABLE = "GOVLAKE_SHARE_URL_KEY"
KEY_CONNECTION = "govlake_share_urls"
MIN_KEY_BYTES = 32
LIFETIME = timedelta(minutes=15)


class UrlRefused(GovlakeError):
    """A file address that is tampered with, expired, or outside its share table."""


@dataclass(frozen=True)
class FileAddress:
    """What a signed file address says: grant, path in its folder, holder, expiry, route."""

    grant_id: int
    path: str
    holder: str
    expires: int  # Unix seconds
    route: str = "files"

    def payload(self) -> bytes:
        """The bytes signed: an address of one route is no address of another."""
        fields = (self.route, self.grant_id, self.path, self.holder, self.expires)
        return "\n".join(str(f) for f in fields).encode()


def url_key() -> bytes:
    """The signing key, or an error saying how to set it (never showing a key)."""
    found = secret(KEY_VARIABLE, KEY_CONNECTION)
    if found is None:
        raise GovlakeError(
            f"signed share URLs need a key: set {KEY_VARIABLE} or the password of the connection "
            f"{KEY_CONNECTION!r} ({env_var(KEY_CONNECTION)} or an Airflow Connection), at least "
            f"{MIN_KEY_BYTES} bytes"
        )
    value, origin = found
    if len(value.encode()) < MIN_KEY_BYTES:
        raise GovlakeError(f"the share URL key in {origin} is shorter than {MIN_KEY_BYTES} bytes")
    return value.encode()


def signed_url(base: str, address: FileAddress) -> str:
    """``base`` + the file's route and its signed query."""
    query = urlencode({"holder": address.holder, "expires": address.expires,
                       "signature": _signature(address)})  # fmt: skip
    return f"{base}/{address.route}/{address.grant_id}/{quote(address.path)}?{query}"


def expiry(now: datetime) -> int:
    """The expiry of an address issued at ``now``."""
    return int((now + LIFETIME).timestamp())


def checked(
    address: FileAddress,
    signature: str,
    now: datetime,
    *,
    safe: Callable[[str], PurePosixPath] | None = None,
) -> FileAddress:
    """``address`` when its path is ``safe``, its signature holds and it is unexpired.

    ``safe`` (default: :func:`safe_path`, a share table's file) refuses a path that could
    leave the grant's folder.
    """
    (safe or safe_path)(address.path)
    if not hmac.compare_digest(_signature(address), signature):
        raise UrlRefused("the file address's signature does not match")
    if now.timestamp() >= address.expires:
        raise UrlRefused("the file address has expired: query the table again")
    return address


def safe_path(path: str) -> PurePosixPath:
    """``path`` as a relative path to a Parquet file that cannot leave its table's folder."""
    parts = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or "\x00" in path
        or parts.is_absolute()
        or any(p in ("..", ".", "") for p in path.split("/"))
        or parts.suffix != ".parquet"
        or parts.parts[0] == "_delta_log"
    ):
        raise UrlRefused(f"not a file of the share: {path!r}")
    return parts


def _signature(address: FileAddress) -> str:
    return hmac.new(url_key(), address.payload(), hashlib.sha256).hexdigest()
