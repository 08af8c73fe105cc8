"""The token of the logged-in user, kept in ``$XDG_CONFIG_HOME/govlake/token`` (mode 0600).

The file is written atomically with owner-only permissions in an owner-only folder. A token file
that others could read (any group or other permission bit), or that another user owns, is
refused: the token in it may have been copied.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from govlake.errors import GovlakeError


def token_path() -> Path:
    """``$XDG_CONFIG_HOME/govlake/token``; ``~/.config/govlake/token`` when it is unset."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "govlake" / "token"


def save(token: str) -> Path:
    """Write ``token`` readable by its owner only; the path written."""
    path = token_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(token)
    os.replace(partial, path)
    return path


def load() -> str:
    """The saved token, or an error saying to log in (or why the file is refused)."""
    path = token_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise GovlakeError("not logged in: run govlake login") from None
    if info.st_uid != os.getuid():
        raise GovlakeError(f"{path} belongs to another user: refused; log in again")
    if info.st_mode & 0o077:
        raise GovlakeError(
            f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}): refused; "
            "remove it and log in again"
        )
    return path.read_text(encoding="ascii").strip()


def remove() -> None:
    """Forget the saved token."""
    token_path().unlink(missing_ok=True)
