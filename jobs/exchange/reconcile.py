"""Close the attempts a crash left ``started`` or ``uploading``, by what the target holds.

Run under the subscription's lease before a delivery picks its batch, so no attempt it sees is
still running on this home:

- a file attempt ``uploading`` whose SHA-256 was recorded (the file was sent and renamed to its
  final name) is checked against the target: when the manifest beside the file names the
  attempt's batch and checksum, and the file has the recorded size, or when file and manifest
  are both gone (a receiver takes a file once its manifest is there), the batch reached the
  receiver whole and the attempt is marked ``delivered``, so the batch is not sent again;
- any other unfinished attempt is marked ``failed`` (``interrupted ...``), and the batch goes
  again (the next scheduled delivery sends it; a resend only when resent): its manifest never
  went (it goes last, so a receiver that waits for manifests saw nothing), or it was a table
  push, one transaction of upserts by key, which the next attempt repeats without doubling.

A target that cannot be reached leaves the attempt as it is, and the delivery fails: a batch is
never sent again on a guess. The temporary files a crashed attempt left on the target, and the
working files it left on this machine, are deleted.
"""

from __future__ import annotations

import glob
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from connectors.folders import DropFolder
from govlake.config.exchange import FileEndpoint, Subscription
from govlake.config.project import ProjectConfig
from jobs.exchange.files import MANIFEST_SUFFIX
from jobs.exchange.ledger import DeliveryRecord, Ledger
from jobs.exchange.targets import open_delivery_folder


@dataclass(frozen=True)
class Reconciled:
    """How one unfinished attempt was closed: ``delivered`` or ``failed``, and why."""

    attempt: int
    batch_id: str
    status: str
    reason: str


def working_root(config: ProjectConfig, subscription: str) -> Path:
    """The local folder of the subscription's working files, one subfolder per attempt."""
    return config.home / "exchange" / "outgoing" / subscription


def reconcile(config: ProjectConfig, ledger: Ledger, sub: Subscription) -> list[Reconciled]:
    """Close every unfinished attempt of ``sub``; clear the working files they left."""
    point = config.node(sub.node).endpoint(sub.endpoint)
    done = []
    for record in ledger.unfinished(sub.name):
        if isinstance(point, FileEndpoint) and record.path:
            delivered, why = _file_attempt(point, sub, record)
        elif isinstance(point, FileEndpoint):
            delivered, why = False, "before its file was written"
        else:
            delivered, why = False, "during the table push, which repeats without doubling a row"
        if delivered:
            ledger.finish(record, "delivered")
            done.append(Reconciled(record.id, record.batch_id, "delivered", why))
        else:
            again = "sent again" if record.trigger == "schedule" else "sent again by a resend"
            reason = f"interrupted {why}; the batch is {again}"
            ledger.finish(record, "failed", error=reason)
            done.append(Reconciled(record.id, record.batch_id, "failed", reason))
    shutil.rmtree(working_root(config, sub.name), ignore_errors=True)
    return done


def _name(record: DeliveryRecord) -> str:
    return PurePosixPath(record.path).name if record.path else ""


def _file_attempt(
    point: FileEndpoint, sub: Subscription, record: DeliveryRecord
) -> tuple[bool, str]:
    """Whether the attempt's file reached the target whole, and why (not); its parts go."""
    name = _name(record)
    with open_delivery_folder(point, sub.name) as folder:
        found = _on_target(folder, name, record) if record.checksum else None
        folder.discard_parts(name)
        folder.discard_parts(name + MANIFEST_SUFFIX)
    return found or (False, f"before {name} was sent whole")


def _on_target(folder: DropFolder, name: str, record: DeliveryRecord) -> tuple[bool, str]:
    """Whether the file sent (and renamed: its size is recorded) is announced by its manifest."""
    manifest = name + MANIFEST_SUFFIX
    size = folder.size_of(name)
    found = [f for f in folder.list(glob.escape(manifest)) if f.name == manifest]
    if not found:
        if size is None:  # it was there whole, so the receiver took it, and took it announced
            return True, f"{name} and its manifest were taken by the receiver"
        return False, f"before the manifest of {name} was sent"
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / manifest
        folder.fetch(found[0], local)
        try:
            stated = json.loads(local.read_text(encoding="utf-8"))
        except ValueError:
            return False, f"with {manifest} on the target unreadable"
    if not isinstance(stated, dict) or stated.get("batch_id") != record.batch_id:
        return False, f"with {manifest} on the target naming another batch"
    if stated.get("sha256") != record.checksum or size not in (None, record.bytes):
        return False, f"with {name} on the target not the file sent"
    return True, f"{name} and its manifest found on the target as sent"
