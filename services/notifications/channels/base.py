"""What every channel is given and what it may raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from govlake.errors import GovlakeError


@dataclass(frozen=True)
class Outgoing:
    """One delivery to send: the message's text and where it goes.

    ``key`` is the delivery's idempotency key; a resend has a key of its own.
    """

    key: str
    event: str
    object: str
    subject: str
    body: str
    created_at: datetime
    recipient: str
    name: str
    address: str


class SendFailed(GovlakeError):
    """An attempt that did not deliver; ``permanent`` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    """An open channel: sends one delivery at a time, closed at the end of the batch."""

    def send(self, item: Outgoing) -> None:
        """Deliver ``item`` or raise :class:`SendFailed`."""

    def close(self) -> None:
        """Release the connection."""
