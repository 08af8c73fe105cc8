"""``govlake apply`` and ``govlake applications``: the resource application chain.

A user applies for a published catalog resource for their organisation; the platform accepts
(or rejects), the owning organisation approves (or rejects), the platform authorises (setting
the grant's columns, row filter, columns in clear, quota and period) or refuses; the platform or
the owner may revoke. Every command acts as the logged-in user and is decided by the policy.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from apps.cli.common import ConfOption, out, reports_errors, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from catalog.sharing import applications as chain
from catalog.sharing import exports, profile_file, share_tokens
from catalog.sharing.terms import SHARE_MODES, Request
from govlake.errors import GovlakeError

applications_app = typer.Typer(
    help="Resource applications: list, show, accept, approve, authorize, reject, revoke, profile, "
    "download.",
    no_args_is_help=True,
)
Code = Annotated[str, typer.Argument(help="The application's code, e.g. AP-000001.")]
Comment = Annotated[str | None, typer.Option("--comment", help="Recorded with the step.")]
Fields = Annotated[list[str] | None, typer.Option("--field", help="A column wanted (repeat).")]
Materials = Annotated[
    list[str] | None, typer.Option("--material", help="A supporting material (repeat).")
]
Columns = Annotated[
    list[str] | None,
    typer.Option("--column", help="A granted column (repeat; default: the fields applied for)."),
]
RowFilter = Annotated[
    str | None, typer.Option("--filter", help="Rows granted, e.g. \"region_code LIKE '3701%'\".")
]
Clear = Annotated[
    list[str] | None, typer.Option("--clear", help="A sensitive column given unmasked (repeat).")
]


@reports_errors
def apply(
    resource: Annotated[str, typer.Argument(help="The catalog code, e.g. GL-000004.")],
    mode: Annotated[str, typer.Option(help=f"Share mode: {', '.join(SHARE_MODES)}.")],
    matter: Annotated[str, typer.Option(help="The matter (事项) the data serves.")],
    scenario: Annotated[str, typer.Option(help="The application scenario (应用场景).")],
    purpose: Annotated[str, typer.Option(help="What the data is used for.")],
    until: Annotated[str, typer.Option(help="Last day of the period, YYYY-MM-DD.")],
    field: Fields = None,
    material: Materials = None,
    cycle: Annotated[str | None, typer.Option(help="Update cycle wanted.")] = None,
    conf: ConfOption = None,
) -> None:
    """Apply for a published catalog resource, for your organisation."""
    try:
        request = Request(
            matter=matter, scenario=scenario, purpose=purpose, mode=mode,  # type: ignore[arg-type]
            until=_day(until, "--until"), fields=field or [], materials=material or [],
            update_cycle=cycle,
        )  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise GovlakeError(f"--{where.replace('_', '-')}: {first['msg']}") from None
    made = chain.apply(signed_in(conf), resource, request)
    out.print(f"{made.code}: {made.status} ({made.resource} {made.dataset} by {made.request.mode})")


@applications_app.command("list")
@reports_errors
def list_applications(
    status: Annotated[str | None, typer.Option("--status")] = None,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """The applications you may see: your organisation's and those you decide."""
    listing = Listing("resource applications", ("code", "status", "resource", "dataset", "mode",
                      "organisation", "applicant", "submitted (UTC)"))  # fmt: skip
    for a in chain.listed(signed_in(conf), status):  # type: ignore[arg-type]
        listing.add(a.code, a.status, a.resource, a.dataset, a.request.mode, a.organisation,
                    a.applicant, a.submitted_at)  # fmt: skip
    emit(listing, fmt)


@applications_app.command("show")
@reports_errors
def show(code: Code, conf: ConfOption = None) -> None:
    """One application: the form, every step, and its grant."""
    found, events, grant = chain.show(signed_in(conf), code)
    r = found.request
    out.print(f"[bold]{found.code}[/bold] {found.status}: {found.organisation} ({found.applicant}) "
              f"applies for {found.resource} {found.dataset} of {found.provider} by {r.mode}",
              highlight=False)  # fmt: skip
    out.print(f"matter: {r.matter} · scenario: {r.scenario} · purpose: {r.purpose} · until "
              f"{r.until} · fields: {', '.join(r.fields) or 'all'} · materials: "
              f"{', '.join(r.materials) or '-'} · sources: {', '.join(found.sources)}",
              highlight=False)  # fmt: skip
    for e in events:
        out.print(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.action} -> {e.to_status} by {e.actor}"
                  f"{' (' + e.organisation + ')' if e.organisation else ''}"
                  f"{': ' + e.comment if e.comment else ''}", highlight=False)  # fmt: skip
    if grant is not None:
        t = grant.terms
        out.print(f"grant {grant.id} {grant.status}: columns {', '.join(t.columns)} · filter "
                  f"{t.row_filter or '-'} · in clear {', '.join(t.clear) or '-'} · "
                  f"{t.per_minute or 'no'} calls/min limit · {grant.valid_from:%Y-%m-%d} to "
                  f"{grant.valid_until:%Y-%m-%d}", highlight=False)  # fmt: skip


@applications_app.command("accept")
@reports_errors
def accept(code: Code, comment: Comment = None, conf: ConfOption = None) -> None:
    """Accept a submitted application, as the platform."""
    _step(code, "accept", comment, conf)


@applications_app.command("approve")
@reports_errors
def approve(code: Code, comment: Comment = None, conf: ConfOption = None) -> None:
    """Approve an accepted application, as the owning organisation."""
    _step(code, "approve", comment, conf)


@applications_app.command("reject")
@reports_errors
def reject(code: Code, comment: Comment = None, conf: ConfOption = None) -> None:
    """Say no at the decision due (acceptance, approval or authorisation), with a comment."""
    _step(code, "reject", comment, conf)


@applications_app.command("revoke")
@reports_errors
def revoke(code: Code, comment: Comment = None, conf: ConfOption = None) -> None:
    """Revoke an authorised application and its grant, with a comment; the next read fails."""
    _step(code, "revoke", comment, conf)


@applications_app.command("authorize")
@reports_errors
def authorize(
    code: Code,
    column: Columns = None,
    row_filter: RowFilter = None,
    clear: Clear = None,
    per_minute: Annotated[int | None, typer.Option(help="Calls allowed per minute.")] = None,
    until: Annotated[str | None, typer.Option(help="End the grant earlier: YYYY-MM-DD.")] = None,
    comment: Comment = None,
    conf: ConfOption = None,
) -> None:
    """Authorise an approved application, as the platform: its grant is in force from now."""
    end = datetime.combine(_day(until, "--until"), time(), UTC) if until else None
    terms = chain.Grant(column, row_filter, tuple(clear or ()), per_minute, end)
    grant = chain.authorize_application(signed_in(conf), code, terms, comment)
    out.print(f"{code}: active; grant {grant.id} on {grant.dataset} for {grant.organisation} "
              f"until {grant.valid_until:%Y-%m-%d}")  # fmt: skip


@applications_app.command("expire")
@reports_errors
def expire(conf: ConfOption = None) -> None:
    """Mark the applications whose period has ended expired, warn those ending within 7 days."""
    rt = signed_in(conf)
    for code in chain.expire(rt):
        out.print(f"{code}: expired")
    for code in chain.warn_expiring(rt):
        out.print(f"{code}: applicant told the grant ends within 7 days")


@applications_app.command("profile")
@reports_errors
def profile(
    code: Code,
    endpoint: Annotated[
        str, typer.Option(help="The share server's address, as the recipient reaches it.")
    ] = "http://127.0.0.1:8090/delta-sharing",
    output: Annotated[
        Path | None, typer.Option("--out", help="The profile file (default: CODE.share).")
    ] = None,
    conf: ConfOption = None,
) -> None:
    """Write a Delta Sharing profile file (0600) for a grant by share_interface of yours.

    Its bearer token replaces the grant's previous one and expires with the grant.
    """
    issued = share_tokens.issue(signed_in(conf), code)
    target = output or Path(f"{code}.share")
    written = profile_file.save(target, endpoint.rstrip("/"), issued.token, issued.expires_at)
    grant = issued.grant
    out.print(f"{code}: profile {written} for share {grant.application.lower()}, table "
              f"{grant.dataset}, until {issued.expires_at:%Y-%m-%d %H:%M} UTC",
              highlight=False)  # fmt: skip


@applications_app.command("download")
@reports_errors
def download(
    code: Code,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or xlsx.")],
    encoding: Annotated[str, typer.Option(help="CSV's encoding: utf-8 or gbk.")] = "utf-8",
    row_filter: Annotated[
        str | None, typer.Option("--filter", help="Fewer rows, over granted columns.")
    ] = None,
    field: Annotated[
        list[str] | None, typer.Option("--field", help="A granted column (repeat; default: all).")
    ] = None,
    to: Annotated[Path, typer.Option("--to", help="The folder to write the files to.")] = Path(),
    conf: ConfOption = None,
) -> None:
    """Export a grant by file_download of yours and save the file and its manifest.

    Each file's SHA-256 is checked against the manifest.
    """
    try:
        asked = exports.Asked(format=fmt, encoding=encoding, filter=row_filter, fields=field)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "format"
        raise GovlakeError(f"--{where}: {first['msg']}") from None
    rt = signed_in(conf)
    _, _, grant = chain.show(rt, code)
    if grant is None or grant.mode != exports.MODE:
        raise GovlakeError(f"{code} has no grant by {exports.MODE}: nothing to download")
    done = exports.export(rt, grant.resource, asked)
    data, manifest = exports.saved(rt, done, to)
    out.print(f"{code}: {done.rows} rows of {grant.resource} -> {data}, manifest {manifest}; "
              "sha256 verified", highlight=False)  # fmt: skip


def _step(code: str, action: chain.Action, comment: str | None, conf: ConfOption) -> None:
    done = chain.act(signed_in(conf), code, action, comment)
    out.print(f"{done.code}: {done.status}")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise GovlakeError(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None
