"""Who acts: the principal every floor can carry, from a CLI command down to a DAG task.

A :class:`Principal` is a plain frozen value built by the identity service from the platform DB
(never from a token's claims alone), so it is safe to pass around and compare. The policy check
(``services.identity.policy``) decides what it may do; nothing here grants anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

PrincipalKind = Literal["user", "service"]


class ScopedRole(NamedTuple):
    """A role held over an organisation's subtree (``scope`` is the organisation's code)."""

    role: str
    scope: str

    def __str__(self) -> str:
        return f"{self.role}@{self.scope}"


@dataclass(frozen=True)
class Principal:
    """A user, or a service (a DAG task, an exchange node), with the roles it holds."""

    id: int
    username: str
    kind: PrincipalKind
    organisation: str
    roles: frozenset[ScopedRole] = frozenset()

    def __str__(self) -> str:
        return self.username

    def holds(self, role: str) -> bool:
        """Whether the principal holds ``role`` over any scope."""
        return any(r.role == role for r in self.roles)
