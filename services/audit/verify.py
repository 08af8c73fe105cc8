"""Verify the ledger, and checkpoint the head that verified.

:func:`verify` walks every row by id, streaming, and checks that

- ids run 1, 2, 3, ...: a missing id is a deleted row, an id before 1 an inserted one;
- each row's hash is the HMAC of its ``prev_hash`` and fields: a changed field, a row forged
  without the key, or a row moved to another id fails here;
- each row's ``prev_hash`` is the hash of the row before it: a row re-sealed with the chain key
  breaks the link to the next;
- against the latest checkpoint whose signature verifies, the row at its ``last_id`` carries its
  ``last_hash`` (nobody rewrote the ledger up to there, even with the chain key) and the ledger
  reaches that row (its tail was not cut off).

It reports the first bad row by id, what is wrong with it, and how many rows verified before
it; a checkpoint file that does not verify is reported too. Rows appended after the latest
checkpoint and cut off before the next cannot be told from rows never written: checkpoint on a
schedule.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.runtime import Runtime
from services.audit import checkpoints
from services.audit.chain import GENESIS, seal
from services.audit.checkpoints import Checkpoint
from services.audit.keys import chain_key, signing_key
from services.audit.read import decode, in_chain_order
from services.audit.records import instant


@dataclass(frozen=True)
class Problem:
    """What is wrong, at the first bad ``row`` (``None`` for a checkpoint file)."""

    row: int | None
    what: str

    def __str__(self) -> str:
        """``row N: what``, or ``what`` alone."""
        return self.what if self.row is None else f"row {self.row}: {self.what}"


@dataclass(frozen=True)
class Verification:
    """The outcome of a walk: ``events`` rows verified up to ``last_id`` (sealed ``last_hash``).

    ``checkpoint`` is the latest valid checkpoint compared (``None``: there is none, and a cut
    tail could not be seen); ``problems`` the bad checkpoint files, then the first bad row.
    """

    events: int
    last_id: int
    last_hash: str
    checkpoint: Checkpoint | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems


def verify(rt: Runtime) -> Verification:
    """Walk the whole ledger and its checkpoints; see the module for what is checked.

    Raises:
        GovlakeError: no chain key, or checkpoint files but no key to check them.
    """
    key = chain_key()
    found = checkpoints.read(checkpoints.folder(rt.config))
    anchor = found.latest
    events, last_id, last_hash, broken = _walk(in_chain_order(rt.platform_db), key, anchor)
    bad = [Problem(None, text) for text in found.bad]
    return Verification(
        events=events,
        last_id=last_id,
        last_hash=last_hash,
        checkpoint=anchor,
        problems=(*bad, *([broken] if broken else [])),
    )


def checkpoint(rt: Runtime) -> tuple[Checkpoint, Path]:
    """Verify the ledger, then sign its head into a new checkpoint file; both, with the path.

    Raises:
        GovlakeError: no signing key, or the ledger does not verify (nothing is signed).
    """
    key = signing_key()
    result = verify(rt)
    if not result.ok:
        raise GovlakeError(
            f"no checkpoint written, the ledger does not verify: {result.problems[0]}"
        )
    head = Checkpoint(result.events, result.last_id, result.last_hash, datetime.now(UTC))
    return head, checkpoints.write(checkpoints.folder(rt.config), head, key)


def _walk(
    rows: Iterable[sa.Row[Any]], key: bytes, anchor: Checkpoint | None
) -> tuple[int, int, str, Problem | None]:
    """Rows verified, the last good id and hash, and the first problem met."""
    events, last_id, last_hash = 0, 0, GENESIS
    for row in rows:
        problem = _check(row, last_id, last_hash, key) or _departs(anchor, row)
        if problem is not None:
            return events, last_id, last_hash, problem
        events, last_id, last_hash = events + 1, row.id, row.hash
    return events, last_id, last_hash, _short_of(anchor, last_id)


def _check(row: sa.Row[Any], last_id: int, last_hash: str, key: bytes) -> Problem | None:
    """What is wrong with ``row``, following the row ``last_id`` sealed ``last_hash``."""
    expected = last_id + 1
    if row.id > expected:
        upto = f" with the rows up to {row.id - 1}" if row.id > expected + 1 else ""
        return Problem(expected, f"missing{upto} (deleted); the next row present is {row.id}")
    if row.id < expected:
        return Problem(row.id, "not part of the chain (ids start at 1): inserted")
    try:
        event = decode(row)
        sealed = seal(key, event.prev_hash, event.sealed_fields())
    except (ValueError, TypeError, AttributeError) as exc:
        return Problem(row.id, f"unreadable ({exc}): altered outside the platform")
    if not hmac.compare_digest(sealed, str(row.hash)):
        return Problem(row.id, "its hash does not match its content: altered, forged or moved")
    if row.prev_hash != last_hash:
        before = f"the hash of row {last_id}" if last_id else "the genesis value"
        return Problem(row.id, f"its prev_hash is not {before}: a row before it was re-sealed")
    return None


def _departs(anchor: Checkpoint | None, row: sa.Row[Any]) -> Problem | None:
    """Whether ``row`` is the checkpoint's last row but carries another hash."""
    if anchor is None or row.id != anchor.last_id or row.hash == anchor.last_hash:
        return None
    return Problem(
        row.id,
        f"its hash differs from the checkpoint of {instant(anchor.at)}: the ledger was "
        "rewritten at or before this row",
    )


def _short_of(anchor: Checkpoint | None, last_id: int) -> Problem | None:
    """Whether a ledger ending at ``last_id`` stops before the checkpoint's last row."""
    if anchor is None or last_id >= anchor.last_id:
        return None
    return Problem(
        last_id + 1,
        f"missing (cut off): the ledger ends at row {last_id} but the checkpoint of "
        f"{instant(anchor.at)} covers {anchor.last_id} rows",
    )
