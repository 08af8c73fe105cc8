"""Grants for exchange subscriptions, made through the real application workflow.

:func:`publish` puts datasets in the catalog as their owners' stewards review them and the
platform's steward publishes them; :func:`grant_subscription` has the receiving department
apply for a subscription's dataset in the mode its endpoint implies, the platform accept and
authorise, the owner's steward approve.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from catalog.build import build_catalog
from catalog.sharing import applications as chain
from catalog.sharing.grants import ShareGrant
from catalog.sharing.subscriptions import mode_of
from catalog.sharing.terms import Request
from catalog.store import Catalog
from govlake.runtime import Runtime


def publish(steward: dict[str, Runtime], refs: list[str]) -> None:
    """Build the catalog entries of ``refs``; review each as its owner's, publish as platform's.

    ``steward`` maps each department to a runtime acting as its data steward.
    """
    rt = steward["platform"]
    build_catalog(rt, refs)
    catalog = Catalog(rt)
    for ref in refs:
        entry = catalog.resource(ref)
        reviewer = steward[entry.definition.owner].principal
        assert reviewer is not None and rt.principal is not None
        catalog.review(entry.code, approve=True, actor=reviewer, comment=None, version=None)
        catalog.publish(entry.code, actor=rt.principal)


def grant_subscription(
    applicant: Runtime,
    steward: dict[str, Runtime],
    subscription: str,
    terms: chain.Grant | None = None,
) -> ShareGrant:
    """The grant ``applicant``'s department gets for ``subscription``, through the workflow."""
    sub = applicant.config.subscription(subscription)
    entry = Catalog(applicant).resource(sub.dataset, published=True)
    request = Request(
        matter="数据交换", scenario=f"{sub.title}", purpose="按订阅接收数据",
        mode=mode_of(applicant, sub), fields=list(sub.columns or []),
        until=datetime.now(UTC).date() + timedelta(days=90),
    )  # fmt: skip
    made = chain.apply(applicant, entry.code, request)
    hub = steward["platform"]
    chain.act(hub, made.code, "accept")
    chain.act(steward[entry.definition.owner], made.code, "approve")
    return chain.authorize_application(hub, made.code, terms or chain.Grant())
