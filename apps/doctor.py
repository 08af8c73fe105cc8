"""``govlake doctor``: the platform's self-check, one line per check.

It reports whether the files the platform keeps are its owner's only (folders 0700, files 0600:
the lakehouse when local, staging, outgoing exchange files, crawl spools, quality results, the
audit checkpoints, the platform DB file and the demo's keys), whether each key the platform
needs is set (never showing one), whether the platform DB is at the latest migration, and
whether the audit ledger verifies. Every entry point creates files with the umask
:data:`OWNER_ONLY`, so a report of open files means they were made some other way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from govlake.connections import secret
from govlake.errors import GovlakeError
from govlake.runtime import Runtime

OWNER_ONLY = 0o077  # the umask: nothing for group and others
SHOWN = 3  # open paths named per folder
# The folders under GOVLAKE_HOME that hold data, keys or results.
KEPT = ("staging", "exchange", "crawl", "quality", "platform")
# The keys: (variable, connection, what it is for, needed always).
KEYS = (
    ("GOVLAKE_AUDIT_KEY", "govlake_audit", "the audit chain", True),
    ("GOVLAKE_TOKEN_KEY", "govlake_tokens", "login tokens", True),
    ("GOVLAKE_AUDIT_SIGNING_KEY", "govlake_audit_signing", "audit checkpoints", False),
    ("GOVLAKE_MASK_KEY", "govlake_masking", "token masks", False),
    ("GOVLAKE_SHARE_URL_KEY", "govlake_share_urls", "signed share file URLs", False),
)


@dataclass(frozen=True)
class Check:
    """One check: its name, whether it passed, and what was found."""

    name: str
    ok: bool
    detail: str


def owner_only() -> None:
    """Make this process create every file and folder for its owner only."""
    os.umask(OWNER_ONLY)


def checks(rt: Runtime) -> list[Check]:
    """Every check, in order: permissions, keys, the platform DB, the audit ledger."""
    return [*_permissions(rt), *_keys(), _revision(rt), _audit(rt)]


def _permissions(rt: Runtime) -> Iterator[Check]:
    home = rt.config.home
    places = [home / name for name in KEPT] + [home / "platform.db", home / "demo.env"]
    root = rt.config.lakehouse.root
    if "://" not in root or root.startswith("file://"):
        places.append(Path(root.removeprefix("file://")))
    places.append(home / rt.config.platform.audit.checkpoints)
    for place in dict.fromkeys(places):
        if not place.exists():
            continue
        opened = list(_open_to_others(place))
        detail = "owner only" if not opened else (
            f"{len(opened)} path(s) open to others, e.g. "
            + ", ".join(f"{p} ({stat.S_IMODE(p.stat().st_mode):04o})" for p in opened[:SHOWN])
            + f"; fix: chmod -R go-rwx {place}"
        )  # fmt: skip
        yield Check(f"permissions {place}", not opened, detail)


def _open_to_others(place: Path) -> Iterator[Path]:
    if place.stat().st_mode & 0o077:
        yield place
    if not place.is_dir():
        return
    for folder, dirs, files in os.walk(place):
        for name in (*dirs, *files):
            path = Path(folder, name)
            if not path.is_symlink() and path.stat().st_mode & 0o077:
                yield path


def _keys() -> Iterator[Check]:
    for env, conn_id, purpose, needed in KEYS:
        found = secret(env, conn_id)
        where = f"from {found[1]}" if found else f"not set: {env} or connection {conn_id!r}"
        if not found and not needed:
            where += f" (needed only for {purpose})"
        yield Check(f"key for {purpose}", found is not None or not needed, where)


def _revision(rt: Runtime) -> Check:
    from govlake.platform_db.database import head_revision

    head = head_revision()
    try:
        with rt.platform_db.connect() as conn:
            current = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    except GovlakeError as exc:
        return Check("platform DB", False, str(exc))
    return Check("platform DB", current == head, f"at revision {current} (latest {head})")


def _audit(rt: Runtime) -> Check:
    from services.audit import verify

    try:
        found = verify(rt)
    except GovlakeError as exc:
        return Check("audit ledger", False, str(exc))
    if not found.ok:
        return Check("audit ledger", False, f"tampered: {found.problems[0]}")
    anchor = "with a signed checkpoint" if found.checkpoint else "no checkpoint yet"
    return Check("audit ledger", True, f"{found.events} events verify, {anchor}")
