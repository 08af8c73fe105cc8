"""The tamper-evident audit ledger: who did what to which object, when, and how it ended.

Every event is one row of ``audit_event`` in the platform DB, appended under a lock, stamped by
the database clock and sealed in a hash chain (HMAC-SHA256 under a key kept outside the DB and
conf). Nothing updates or deletes a row. :func:`verify` recomputes the chain and compares it
with Ed25519-signed checkpoints kept outside the DB, so a changed, removed, inserted or moved
row, or a cut-off tail, is found and named by id (docs/adr/0013-audit-ledger.md).

    from services import audit

    audit.record(rt, principal="li.na", action="catalog.publish", object="GL-000004",
                 outcome="success", organisation="platform")
    audit.events(rt, object="GL-000004")
    audit.verify(rt).ok
"""

from services.audit.append import record
from services.audit.checkpoints import Checkpoint
from services.audit.read import events
from services.audit.records import AuditEvent, Outcome
from services.audit.verify import Problem, Verification, checkpoint, verify

__all__ = [
    "AuditEvent",
    "Checkpoint",
    "Outcome",
    "Problem",
    "Verification",
    "checkpoint",
    "events",
    "record",
    "verify",
]
