"""The demo's shares beyond the exchange flows: one department per query-style share mode.

The credit centre applies for the credit profile by the share interface (Delta Sharing) and
gets a profile file; human resources applies for the enterprise registry by the service API,
its legal representatives and addresses masked (the grant gives no column in clear). Each
application goes through the whole chain (apply, accept, approve, authorise) as the people the
demo made, and the service API is called once, so the demo shows a record as human resources
receives it. A later run, which made nobody, finds the grants in force and says how to call them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apps.demo_people import Person, login
from catalog.records import CatalogEntry
from catalog.sharing import applications as chain
from catalog.sharing import grants, profile_file, reads, share_tokens
from catalog.sharing.grants import ShareGrant
from catalog.sharing.terms import Request, ShareMode
from catalog.store import Catalog
from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity.organisations import OrgTree
from services.identity.stewards import STEWARD

PERIOD = timedelta(days=365)
SERVER = "http://127.0.0.1:8090"  # where govlake catalog serve listens by default


@dataclass(frozen=True)
class DemoShare:
    """A department's application for a dataset in a share mode, and what it asks for."""

    department: str
    dataset: str
    mode: ShareMode
    fields: tuple[str, ...]
    scenario: str


SHARES = (
    DemoShare("credit_center", "gold.enterprise_credit_profile", "share_interface", (),
              "公共信用信息平台按共享接口同步企业信用画像"),
    DemoShare("human_resources", "silver.enterprise_registry", "service_api",
              ("uscc", "name", "legal_representative", "address", "status"),
              "劳动保障监察按服务接口核验用人单位登记信息"),
)  # fmt: skip


@dataclass(frozen=True)
class ShareAccess:
    """A share in force: who holds it, by which application, and how to call it."""

    department: str
    mode: ShareMode
    application: str
    resource: str
    dataset: str
    profile: Path | None  # the share interface's profile file, where the demo wrote it


def grant_shares(
    rt: Runtime, made: list[Person], progress: Callable[[str], None]
) -> list[ShareAccess]:
    """Walk each demo share without a grant in force through the chain; each one's access."""
    platform = rt.config.catalog.platform_department
    hub = login(rt, made, STEWARD, platform)
    catalog = Catalog(rt)
    found = []
    for share in SHARES:
        try:
            entry = catalog.resource(share.dataset, published=True)
        except GovlakeError as exc:
            progress(f"sharing: {share.department} cannot apply for {share.dataset}: {exc}")
            continue
        grant = _in_force(rt, share)
        analyst = login(rt, made, "analyst", share.department)
        approver = login(rt, made, STEWARD, rt.config.dataset(share.dataset).owner)
        if grant is None and hub is not None and analyst is not None and approver is not None:
            grant = _through_the_chain(rt, share, entry, (analyst, hub, approver), progress)
        elif grant is not None:
            progress(f"sharing: {share.department} {share.mode}: in force (grant {grant.id})")
        if grant is None:
            progress(f"sharing: {share.department} has no grant by {share.mode} on {entry.code}; "
                     f"it applies with govlake apply {entry.code} --mode {share.mode}")  # fmt: skip
            continue
        if analyst is not None:
            _first_call(rt.acting_as(analyst), entry.code, grant.application, share, progress)
        profile = profile_path(rt, share) if share.mode == "share_interface" else None
        found.append(ShareAccess(share.department, share.mode, grant.application, entry.code,
                                 share.dataset, profile))  # fmt: skip
    return found


def _through_the_chain(
    rt: Runtime,
    share: DemoShare,
    entry: CatalogEntry,
    people: tuple[Principal, Principal, Principal],
    progress: Callable[[str], None],
) -> ShareGrant:
    """Apply as the analyst, accept and authorise as the hub, approve as the owner's steward."""
    analyst, hub, approver = people
    request = Request(
        matter=entry.definition.title, scenario=share.scenario, mode=share.mode,
        purpose=f"{rt.config.departments[share.department].name}业务使用",
        fields=list(share.fields), until=(datetime.now(UTC) + PERIOD).date(),
    )  # fmt: skip
    made = chain.apply(rt.acting_as(analyst), entry.code, request)
    chain.act(rt.acting_as(hub), made.code, "accept", "材料齐全")
    chain.act(rt.acting_as(approver), made.code, "approve", "同意共享")
    grant = chain.authorize_application(rt.acting_as(hub), made.code, chain.Grant(), "同意授权")
    progress(f"sharing: {made.code} {share.department} applies for {entry.code} by {share.mode}")
    progress(f"sharing: {made.code} grant {grant.id} in force for {share.mode}")
    return grant


def profile_path(rt: Runtime, share: DemoShare) -> Path:
    """Where the demo keeps the department's Delta Sharing profile file (0600)."""
    return rt.config.home / "shares" / f"{share.department}.share"


def _first_call(
    rt: Runtime, code: str, application: str, share: DemoShare, progress: Callable[[str], None]
) -> None:
    """Use the share once as the department's analyst: a profile file, or one record."""
    if share.mode == "share_interface":
        issued = share_tokens.issue(rt, application)
        path = profile_file.save(profile_path(rt, share), f"{SERVER}/delta-sharing",
                                 issued.token, issued.expires_at)  # fmt: skip
        progress(f"sharing: {share.department} profile file {path} (until "
                 f"{issued.expires_at:%Y-%m-%d})")  # fmt: skip
        return
    page = reads.read(rt, code, share.mode, reads.Selection(limit=1))
    record = page.rows.to_pylist()[0] if page.rows.num_rows else {}
    shown = ", ".join(f"{k}={v}" for k, v in record.items())
    progress(f"sharing: {share.department} reads {code} by {share.mode}: {shown}")


def _in_force(rt: Runtime, share: DemoShare) -> ShareGrant | None:
    """The department's grant in force on the dataset in the share's mode, if any."""
    lineage = OrgTree.of(rt.config).lineage(share.department)
    with rt.platform_db.connect() as conn:
        held = grants.in_force(conn, lineage, share.dataset, datetime.now(UTC), share.mode)
    return held[-1] if held else None
