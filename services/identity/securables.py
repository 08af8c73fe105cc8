"""What a verb acts on, written ``kind:name``, and the organisation that owns it.

``organisation:<code>`` is owned by itself, ``dataset:<zone.table>`` by its owner in conf,
``node:<name>`` by its department, ``catalog:<code>`` by the owner of the catalog resource, and
``audit`` by no one: only a role that reaches everywhere acts on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast, get_args

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import catalog_resource
from govlake.runtime import Runtime

Kind = Literal["organisation", "dataset", "node", "catalog", "audit"]
KINDS: tuple[Kind, ...] = get_args(Kind)
FORMS = "organisation:<code>, dataset:<zone.table>, node:<name>, catalog:<code> or audit"


class UnknownSecurable(GovlakeError):
    """A securable that is malformed or names nothing declared."""


@dataclass(frozen=True)
class Securable:
    """A parsed securable: its kind and name (empty for ``audit``)."""

    kind: Kind
    name: str

    @classmethod
    def parse(cls, text: str) -> Securable:
        """``kind:name`` (or ``audit``), or an error naming the forms."""
        if text == "audit":
            return cls("audit", "")
        kind, _, name = text.partition(":")
        if kind in KINDS and kind != "audit" and name:
            return cls(cast(Kind, kind), name)
        raise UnknownSecurable(f"{text!r} is not a securable: use {FORMS}")

    def __str__(self) -> str:
        return self.kind if self.kind == "audit" else f"{self.kind}:{self.name}"


def owner(rt: Runtime, securable: Securable) -> str | None:
    """The organisation owning ``securable``; ``None`` for the audit; an error if undeclared."""
    if securable.kind == "audit":
        return None
    found = _OWNER_OF[securable.kind](rt, securable.name)
    if found is None:
        raise UnknownSecurable(f"unknown {securable.kind} {securable.name!r}")
    return found


def _organisation(rt: Runtime, code: str) -> str | None:
    declared = code in rt.config.departments or code in rt.config.organisations
    return code if declared else None


def _dataset(rt: Runtime, ref: str) -> str | None:
    dataset = rt.config.datasets.get(ref)
    return dataset.owner if dataset else None


def _node(rt: Runtime, name: str) -> str | None:
    node = rt.config.nodes.get(name)
    return node.department if node else None


def _catalog_resource(rt: Runtime, code: str) -> str | None:
    with rt.platform_db.connect() as conn:
        return conn.scalar(
            sa.select(catalog_resource.c.owner).where(catalog_resource.c.code == code)
        )


_OWNER_OF: dict[Kind, Callable[[Runtime, str], str | None]] = {
    "organisation": _organisation,
    "dataset": _dataset,
    "node": _node,
    "catalog": _catalog_resource,
}
