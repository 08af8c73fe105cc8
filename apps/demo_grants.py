"""The demo's share grants: each receiving department applies for its subscription's resource.

Conf declares the three flows; grants authorise them. Once the catalog is published, the
department of each subscription's node applies for the subscription's dataset, as its analyst,
in the mode its endpoint implies (``subscription`` for files, ``table`` for a database), asking
for the subscription's columns; the platform's steward accepts, the owning department's steward
approves, the platform's steward authorises. Each logs in with the password the demo made for
them, so a later run (which made nobody) keeps the grants it finds in force and applies for
none. The sensitive columns are masked in what is delivered: no grant here gives them in clear.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apps.demo_people import Person, login
from catalog.sharing import applications as chain
from catalog.sharing.subscriptions import authorisation, mode_of
from catalog.sharing.terms import Request
from catalog.store import Catalog
from govlake.runtime import Runtime
from services.identity.stewards import STEWARD

PERIOD = timedelta(days=365)


def grant_subscriptions(rt: Runtime, made: list[Person], progress: Callable[[str], None]) -> None:
    """Walk each subscription without a grant in force through the workflow, printing each."""
    platform = rt.config.catalog.platform_department
    hub = login(rt, made, STEWARD, platform)
    for sub in rt.config.subscriptions.values():
        found = authorisation(rt, sub.name, datetime.now(UTC))
        if found.standing in ("in force", "own data"):
            progress(f"sharing: {sub.name}: {found.standing}"
                     + (f" (grant {found.grant.id})" if found.grant else ""))  # fmt: skip
            continue
        owner = rt.config.dataset(sub.dataset).owner
        applicant = login(rt, made, "analyst", found.department)
        approver = login(rt, made, STEWARD, owner)
        if hub is None or applicant is None or approver is None:
            progress(f"sharing: {sub.name}: {found.standing}; its department applies with "
                     f"govlake apply --mode {found.mode}")  # fmt: skip
            continue
        entry = Catalog(rt).resource(sub.dataset, published=True)
        request = Request(
            matter=sub.title, scenario=f"按订阅接收{entry.definition.title}",
            purpose=f"{rt.config.departments[found.department].name}业务使用",
            mode=mode_of(rt, sub), fields=list(sub.columns or []), update_cycle=sub.schedule,
            until=(datetime.now(UTC) + PERIOD).date(),
        )  # fmt: skip
        as_hub = rt.acting_as(hub)
        made_one = chain.apply(rt.acting_as(applicant), entry.code, request)
        chain.act(as_hub, made_one.code, "accept", "材料齐全")
        chain.act(rt.acting_as(approver), made_one.code, "approve", "同意共享")
        grant = chain.authorize_application(as_hub, made_one.code, chain.Grant(), "同意授权")
        progress(f"sharing: {made_one.code} {found.department} applies for {entry.code} by "
                 f"{found.mode}")  # fmt: skip
        progress(f"sharing: {made_one.code} accepted, authorised by {hub}; approved by {approver}")
        progress(f"sharing: {made_one.code} grant {grant.id} in force for {sub.name}")
