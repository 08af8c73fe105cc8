"""``govlake grants``: add, list and revoke grants of a verb on a securable.

A grant goes to one user or to every user of an organisation's subtree; it is made only by whoever
administers the securable's owner and holds the verb there themselves.
"""

from __future__ import annotations

from typing import Annotated

import typer

from apps.cli.common import ConfOption, out, reports_errors, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from services.identity import delegation

grants_app = typer.Typer(help="Grants of verbs on securables.", no_args_is_help=True)


@grants_app.command("add")
@reports_errors
def add(
    verb: Annotated[str, typer.Argument(help="read_metadata, read_data, review, publish...")],
    securable: Annotated[
        str, typer.Argument(help="organisation:<code>, dataset:<zone.table>, node:<name>...")
    ],
    user: Annotated[str | None, typer.Option("--user", help="The user granted.")] = None,
    organisation: Annotated[
        str | None, typer.Option("--org", help="The organisation granted (its whole subtree).")
    ] = None,
    conf: ConfOption = None,
) -> None:
    """Grant a verb on a securable to a user or an organisation."""
    given = delegation.grant(signed_in(conf), verb, securable, user=user, organisation=organisation)
    out.print(f"grant {given.id}: {given.verb} on {given.securable} to {given.grantee}")


@grants_app.command("list")
@reports_errors
def list_grants(
    securable: Annotated[str | None, typer.Option("--securable", help="One securable.")] = None,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """Grants on what the logged-in user administers."""
    listing = Listing("grants", ("id", "verb", "securable", "grantee", "by", "at (UTC)"))
    for g in delegation.listed_grants(signed_in(conf), securable):
        listing.add(g.id, g.verb, g.securable, g.grantee, g.granted_by, g.granted_at)
    emit(listing, fmt)


@grants_app.command("revoke")
@reports_errors
def revoke(
    grant_id: Annotated[int, typer.Argument(help="The grant's id (govlake grants list).")],
    conf: ConfOption = None,
) -> None:
    """Withdraw a grant."""
    given = delegation.revoke_grant(signed_in(conf), grant_id)
    out.print(f"grant {given.id} withdrawn: {given.verb} on {given.securable} from {given.grantee}")
