"""The organisation tree of ``conf/departments.yaml``, and its copy in the platform DB.

Conf is the source of truth: the policy walks the tree built from it. The platform DB holds a
copy, synced before rows that name an organisation are written, so users, role scopes and grants
reference declared organisations. Organisations removed from conf stay in the copy (rows may
name them) but are no longer in the tree, so no authority reaches them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from govlake.config.project import ProjectConfig
from govlake.errors import GovlakeError
from govlake.platform_db.schema import organisation


@dataclass(frozen=True)
class OrgNode:
    """One organisation of the tree."""

    code: str
    name: str
    level: str
    parent: str | None


@dataclass(frozen=True)
class OrgTree:
    """Organisations by code, parents before children."""

    nodes: dict[str, OrgNode]

    @classmethod
    def of(cls, config: ProjectConfig) -> OrgTree:
        """The tree declared in conf: provinces, then cities, then departments."""
        upper = sorted(config.organisations.values(), key=lambda o: o.level != "province")
        nodes = [OrgNode(o.code, o.name, o.level, o.parent) for o in upper]
        nodes += [
            OrgNode(d.code, d.name, "department", d.parent) for d in config.departments.values()
        ]
        return cls({n.code: n for n in nodes})

    def __iter__(self) -> Iterator[OrgNode]:
        return iter(self.nodes.values())

    def node(self, code: str) -> OrgNode:
        """The organisation ``code``, or an error naming the declared ones."""
        try:
            return self.nodes[code]
        except KeyError:
            known = ", ".join(self.nodes) or "none"
            raise GovlakeError(f"unknown organisation {code!r}; declared: {known}") from None

    def lineage(self, code: str) -> list[str]:
        """``code`` and its ancestors up to its root; empty when ``code`` is not declared."""
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in self.nodes and current not in chain:
            chain.append(current)
            current = self.nodes[current].parent
        return chain

    def within(self, code: str, scope: str) -> bool:
        """Whether ``code`` is ``scope`` or lies under it."""
        return scope in self.lineage(code)


def sync(db: sa.Engine, tree: OrgTree) -> None:
    """Insert or update every organisation of ``tree`` in the platform DB, parents first."""
    with db.begin() as conn:
        present = set(conn.scalars(sa.select(organisation.c.code)))
        for node in tree:
            values = {"name": node.name, "level": node.level, "parent": node.parent}
            if node.code in present:
                conn.execute(
                    organisation.update().where(organisation.c.code == node.code).values(values)
                )
            else:
                conn.execute(organisation.insert().values(code=node.code, **values))
