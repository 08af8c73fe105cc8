"""The audit trail of identity: one ledger row for every action, whatever its outcome.

:func:`audited` wraps an action: it first checks that the audit key is configured (so nothing
is done that could not be recorded: the action fails closed with the audit's one-line error),
then records ``success`` when the action returns, ``refused`` with the reason when it raises a
:class:`~govlake.errors.GovlakeError` (a refusal, a rule, an unknown name), and ``failed`` with
the error's type for anything else, and re-raises. Reasons never hold a secret: no message of
the identity service quotes a password, a token or a key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.audit.keys import chain_key
from services.audit.records import Outcome

ANONYMOUS = "anonymous"
PRINCIPAL_LENGTH = 128


def ready() -> None:
    """Refuse to go on when the audit key is not configured (the audit's one-line error)."""
    chain_key()


def write(
    rt: Runtime,
    who: Principal | str | None,
    action: str,
    object: str,
    outcome: Outcome,
    details: Mapping[str, Any] | None = None,
    *,
    client: str | None = None,
) -> None:
    """Append one identity event for ``who`` (a principal, a claimed name, or nobody)."""
    if isinstance(who, Principal):
        name, organisation = who.username, who.organisation
    else:
        name, organisation = (who or ANONYMOUS)[:PRINCIPAL_LENGTH], None
    audit.record(
        rt,
        principal=name,
        organisation=organisation,
        action=action,
        object=object[:255],
        outcome=outcome,
        client=client,
        details=details,
    )


@contextmanager
def audited(
    rt: Runtime,
    action: str,
    object: str,
    who: Principal | str | None = None,
    **details: Any,
) -> Iterator[dict[str, Any]]:
    """Record ``action`` on ``object`` by ``who`` (default: the runtime's principal) once done.

    The body may add to the yielded details (an id it created, say) before it ends.
    """
    ready()
    actor = who if who is not None else rt.principal
    noted: dict[str, Any] = dict(details)
    try:
        yield noted
    except GovlakeError as exc:
        write(rt, actor, action, object, "refused", {**noted, "reason": str(exc)})
        raise
    except Exception as exc:
        write(rt, actor, action, object, "failed", {**noted, "error": type(exc).__name__})
        raise
    write(rt, actor, action, object, "success", noted)
