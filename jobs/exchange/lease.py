"""One delivery of a subscription at a time: a lease, held as an exclusive ``flock``.

The lease is the file ``$GOVLAKE_HOME/leases/exchange.<subscription>.lease``, locked without
waiting: a second delivery or resend of the same subscription on this home is refused at once,
naming the subscription, and sends nothing. The kernel drops the lock when its holder ends,
however it ends, so a crashed delivery never keeps the subscription. Deliveries running on
other machines share the lease only if they share the home (a common file system with working
``flock``, as NFSv4 has).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from govlake.errors import GovlakeError


class DeliveryBusy(GovlakeError):
    """Another delivery of the subscription holds its lease: nothing was sent."""


def lease_path(home: Path, subscription: str) -> Path:
    """The lease file of ``subscription``."""
    return home / "leases" / f"exchange.{subscription}.lease"


@contextmanager
def held(home: Path, subscription: str) -> Iterator[None]:
    """Hold the subscription's lease for the block; refused when another delivery holds it."""
    path = lease_path(home, subscription)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            raise DeliveryBusy(
                f"subscription {subscription}: another delivery holds it (process {holder}, "
                f"lease {path}); nothing sent"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
