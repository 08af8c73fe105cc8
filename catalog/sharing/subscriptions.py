"""Which grant authorises an exchange subscription, and what it lets a delivery carry.

Conf declares a flow (``conf/exchange/subscriptions.yaml``); a grant authorises it. The grant
is one in force, when the delivery starts, for the department of the subscription's node (or
an organisation above it) on the subscription's dataset, in the mode its endpoint implies:
``subscription`` for a drop folder, ``table`` for a database. Revocation and expiry so take
effect on the next delivery. A flow to a node of the dataset's owning department delivers the
owner's own data and needs none; a ``not_shared`` dataset can never go to another department.

The delivery carries the granted columns (the subscription's own, when it names some, must all
be granted; a table push must get the keys it upserts by), the grant's row filter, and the
sensitive columns masked unless the grant gives them in clear (:mod:`jobs.masking`, as in
every share path). Without a grant the terms carry only the refusal: which subscription,
department and dataset, and how to apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from catalog.sharing import grants
from catalog.sharing.grants import ShareGrant
from catalog.sharing.terms import ShareMode
from catalog.store import Catalog
from govlake.config.catalog import sharing_of
from govlake.config.exchange import DatabaseEndpoint, Subscription
from govlake.errors import GovlakeError
from govlake.runtime import Runtime
from jobs.exchange.terms import DeliveryTerms
from jobs.masking import masks_for
from services.identity.organisations import OrgTree

Standing = Literal["in force", "own data", "none", "expired", "revoked", "not shared"]


@dataclass(frozen=True)
class Authorisation:
    """Where a subscription stands: the grant in force (else the latest one), and why."""

    subscription: str
    department: str
    dataset: str
    mode: ShareMode
    standing: Standing
    grant: ShareGrant | None = None


def mode_of(rt: Runtime, sub: Subscription) -> ShareMode:
    """``table`` for a subscription to a database, ``subscription`` for one to a drop folder."""
    endpoint = rt.config.node(sub.node).endpoint(sub.endpoint)
    return "table" if isinstance(endpoint, DatabaseEndpoint) else "subscription"


def authorisation(rt: Runtime, name: str, now: datetime) -> Authorisation:
    """How subscription ``name`` is authorised at ``now``."""
    config = rt.config
    sub = config.subscription(name)
    department = config.node(sub.node).department
    dataset = config.dataset(sub.dataset)
    tree = OrgTree.of(config)
    found = Authorisation(name, department, sub.dataset, mode_of(rt, sub), "none")
    if tree.within(department, dataset.owner):
        return _as(found, "own data")
    if sharing_of(dataset) == "not_shared":
        return _as(found, "not shared")
    with rt.platform_db.connect() as conn:
        lineage = tree.lineage(department)
        current = grants.in_force(conn, lineage, sub.dataset, now, found.mode)
        if current:
            return _as(found, "in force", current[0])
        past = [g for g in grants.listed(conn) if g.organisation in lineage
                and g.dataset == sub.dataset and g.mode == found.mode]  # fmt: skip
    if not past:
        return found
    last = past[-1]
    return _as(found, "revoked" if last.status == "revoked" else "expired", last)


def terms_for(rt: Runtime, name: str, now: datetime) -> DeliveryTerms:
    """What a delivery of subscription ``name`` at ``now`` may carry, or why it may not."""
    found = authorisation(rt, name, now)
    if found.standing == "own data":
        return DeliveryTerms()
    if found.standing != "in force":
        return DeliveryTerms(refused=_refusal(rt, found))
    assert found.grant is not None
    grant, sub = found.grant, rt.config.subscription(name)
    granted = grant.terms.columns
    withheld = [c for c in sub.columns or [] if c not in granted]
    if withheld:
        return DeliveryTerms(grant=grant.id, refused=(
            f"subscription {name}: grant {grant.id} ({grant.application}) does not give "
            f"{', '.join(withheld)}; it gives {', '.join(granted)}"))  # fmt: skip
    columns = tuple(sub.columns or granted)
    keys = rt.config.dataset(sub.dataset).keys
    unkeyed = [k for k in keys if k not in columns]
    if found.mode == "table" and unkeyed:
        return DeliveryTerms(grant=grant.id, refused=(
            f"subscription {name}: a table push upserts by {', '.join(keys)}, which grant "
            f"{grant.id} ({grant.application}) does not give"))  # fmt: skip
    rules = rt.config.catalog.sensitive_columns
    return DeliveryTerms(
        grant=grant.id,
        columns=columns,
        row_filter=grant.terms.row_filter,
        masks=masks_for(columns, rules, clear=grant.terms.clear),
    )


def _as(found: Authorisation, standing: Standing, grant: ShareGrant | None = None) -> Authorisation:
    return Authorisation(found.subscription, found.department, found.dataset, found.mode,
                         standing, grant)  # fmt: skip


def _refusal(rt: Runtime, found: Authorisation) -> str:
    """One line: the subscription, department and dataset, why, and how to apply."""
    head = f"subscription {found.subscription}: {found.department} holds no grant in force on "
    if found.standing == "not shared":
        return (f"subscription {found.subscription}: {found.dataset} is not shared (不予共享): "
                f"it cannot go to {found.department}")  # fmt: skip
    try:
        code = Catalog(rt).resource(found.dataset, published=True).code
    except GovlakeError:
        return (head + f"{found.dataset} by {found.mode}, and it is not a published catalog "
                "resource yet: publish it, then its department applies")  # fmt: skip
    past = f" (grant {found.grant.id} {found.standing})" if found.grant else ""
    return (head + f"{found.dataset} ({code}) by {found.mode}{past}: a user of "
            f"{found.department} applies with govlake apply {code} --mode {found.mode} "
            "--matter ... --scenario ... --purpose ... --until YYYY-MM-DD")  # fmt: skip
