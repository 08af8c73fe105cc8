"""``govlake orgs list``: the organisation tree of conf/departments.yaml."""

from __future__ import annotations

import typer

from apps.cli.common import ConfOption, reports_errors, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from services.identity.organisations import OrgTree
from services.identity.policy import AccessDenied, acting, authorize

orgs_app = typer.Typer(help="The organisation tree (conf/departments.yaml).", no_args_is_help=True)


@orgs_app.command("list")
@reports_errors
def list_organisations(fmt: FormatOption = Format.table, conf: ConfOption = None) -> None:
    """Organisations the logged-in user may read, parents before children."""
    rt = signed_in(conf)
    principal = acting(rt)
    tree = OrgTree.of(rt.config)
    decisions = [
        (n, authorize(rt, principal, "read_metadata", f"organisation:{n.code}")) for n in tree
    ]
    visible = [n for n, d in decisions if d.allowed]
    if not visible:
        raise AccessDenied(decisions[0][1].reason if decisions else "no organisation is declared")
    listing = Listing("organisations", ("code", "name", "level", "parent"))
    for n in visible:
        listing.add(n.code, n.name, n.level, n.parent)
    emit(listing, fmt)
