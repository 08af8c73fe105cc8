"""What one principal may see of the catalog: the policy applied to the catalog's entries.

Reading metadata needs ``read_metadata`` on ``catalog:<code>``. A version not yet published
(``registered``, ``approved``...) is shown only to whoever may ``review`` or ``publish`` that
resource; everyone else sees its published version, or nothing when there is none, and is
refused when asking for the unpublished one by code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from catalog.records import CatalogEntry
from catalog.store import Catalog, Filters
from govlake.errors import GovlakeError
from govlake.principal import Principal
from services.identity.policy import authorize, require


class NotFound(GovlakeError):
    """No such resource, or none the principal may see in the form asked for."""


@dataclass(frozen=True)
class View:
    """The catalog as ``principal`` may read it."""

    catalog: Catalog
    principal: Principal

    def entries(self, filters: Filters) -> list[CatalogEntry]:
        """The entries of ``filters``, unpublished ones only where the principal may see them."""
        return self._visible(lambda f: self.catalog.entries(f), filters)

    def search(self, words: str, filters: Filters, limit: int) -> list[CatalogEntry]:
        """Search results as :meth:`entries` shows them, best first."""
        return self._visible(lambda f: self.catalog.search(words, f, limit), filters)

    def resource(self, code: str, *, published_only: bool) -> CatalogEntry:
        """One resource: its published entry, or (when asked and allowed) its latest.

        Raises:
            NotFound: no such resource, or it is not published and published only was asked.
            AccessDenied: no ``read_metadata`` on it, or the latest asked without the right.
        """
        try:
            entry = self.catalog.resource(code, published=published_only)
        except GovlakeError as exc:
            raise NotFound(str(exc)) from None
        securable = f"catalog:{entry.code}"
        require(self.catalog.rt, self.principal, "read_metadata", securable)
        if entry.status != "published" and not self.insider(entry.code):
            require(self.catalog.rt, self.principal, "review", securable)  # refused, and audited
        return entry

    def latest_seen(self, code: str) -> CatalogEntry:
        """The latest version an insider may see, else the published one (or :class:`NotFound`)."""
        try:
            latest = self.catalog.resource(code)
        except GovlakeError as exc:
            raise NotFound(str(exc)) from None
        insider = latest.status == "published" or self.insider(latest.code)
        return self.resource(latest.code, published_only=not insider)

    def insider(self, code: str) -> bool:
        """Whether the principal may review or publish ``code``, so see its unpublished versions."""
        return any(
            authorize(self.catalog.rt, self.principal, verb, f"catalog:{code}").allowed
            for verb in ("review", "publish")
        )

    def _visible(
        self, find: Callable[[Filters], list[CatalogEntry]], filters: Filters
    ) -> list[CatalogEntry]:
        only_published = replace(filters, published_only=True)
        published = {e.code: e for e in find(only_published) if self._readable(e.code)}
        if filters.published_only:
            return list(published.values())
        shown = []
        for entry in find(filters):
            readable = self._readable(entry.code)
            if entry.status != "published" and readable and self.insider(entry.code):
                shown.append(entry)
            elif entry.code in published:
                shown.append(published[entry.code])
        return shown

    def _readable(self, code: str) -> bool:
        return authorize(
            self.catalog.rt, self.principal, "read_metadata", f"catalog:{code}"
        ).allowed
