"""``govlake quality``: validate a table now, report results, list and re-process quarantines."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from apps.cli.common import ConfOption, out, reports_errors, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from govlake.errors import GovlakeError

quality_app = typer.Typer(
    help="Validation suites, results and quality scores.", no_args_is_help=True
)


@quality_app.command("run")
@reports_errors
def quality_run(
    dataset: Annotated[str, typer.Argument(help="zone.table")], conf: ConfOption = None
) -> None:
    """Validate a table's current version with its suite and record the results."""
    from apps.guarded import validate
    from jobs.runner import manual_run_id

    validation = validate(signed_in(conf), dataset, run_id=manual_run_id())
    view = Table(title=f"{dataset}: suite {validation.suite}")
    for column in ("expectation", "success", "unexpected", "observed"):
        view.add_column(column)
    for o in validation.outcomes:
        view.add_row(
            o.label,
            "yes" if o.success else ("WARN" if not o.blocking else "NO"),
            str(o.unexpected_count),
            o.observed or "",
        )
    out.print(view)
    out.print(
        f"score {validation.score} in {validation.seconds:.2f} s; Data Docs: {validation.docs}"
    )


@quality_app.command("report")
@reports_errors
def quality_report(
    dataset: Annotated[str | None, typer.Argument(help="zone.table")] = None,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """Latest validation of each dataset (or of one): score, failures, action."""
    from apps.guarded import permitted
    from jobs.quality.results import latest

    rt = signed_in(conf)
    if dataset:
        rt.config.dataset(dataset)
    permitted(rt, "read_metadata", [dataset] if dataset else rt.config.datasets)
    rows = latest(rt.lake, dataset).to_pylist()
    if not rows:
        raise GovlakeError("no validation recorded yet" + (f" for {dataset}" if dataset else ""))
    columns = ("dataset", "version", "score", "passed", "failed", "action", "validated at (UTC)")
    listing = Listing("Latest validations", columns, right=frozenset({"version", "score"}))
    for ref in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == ref]
        failed = [f"{r['expectation']}({r['column'] or ''})" for r in mine if not r["success"]]
        first = mine[0]
        score = round(first["score"], 2)
        listing.add(ref, first["version"], score, len(mine) - len(failed),
                    "\n".join(failed) if fmt is Format.table else failed, first["action"],
                    first["validated_at"])  # fmt: skip
    emit(listing, fmt)


@quality_app.command("quarantine")
@reports_errors
def quality_quarantine(
    dataset: Annotated[str, typer.Argument(help="zone.table")],
    limit: int = 50,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """A table's quarantined rows: keys, why, and where each came from.

    Rows a cleaning step rejected show the step; lines a collector could not read show the
    file, the line number and the raw text.
    """
    from apps.guarded import permitted, record_reads
    from govlake.lakehouse import QUARANTINE_SUFFIX

    rt = signed_in(conf)
    config, lake = rt.config, rt.lake
    config.dataset(dataset)
    actor = permitted(rt, "read_data", [dataset])
    if not lake.exists(dataset + QUARANTINE_SUFFIX):
        out.print(f"{dataset}: nothing quarantined")
        return
    table = lake.dataset(dataset + QUARANTINE_SUFFIX)
    names = table.schema.names
    columns = [k for k in config.dataset(dataset).keys if k in names]
    columns += [c for c in ("_stage", "_file", "_line", "_reason", "_raw") if c in names]
    held = table.head(limit, columns=columns)
    total = table.count_rows()
    record_reads(rt, actor, [dataset + QUARANTINE_SUFFIX], "success", {"rows": held.num_rows})
    listing = Listing(f"{dataset}__quarantine ({held.num_rows} of {total} rows)",
                      [c.removeprefix("_") for c in columns])  # fmt: skip
    for row in held.to_pylist():
        listing.add(*row.values())
    emit(listing, fmt)


@quality_app.command("reprocess")
@reports_errors
def quality_reprocess(
    dataset: Annotated[str, typer.Argument(help="zone.table")], conf: ConfOption = None
) -> None:
    """Send quarantined rows through the step that rejected them again, after a fix."""
    from apps.guarded import reprocess
    from jobs.runner import manual_run_id

    done = reprocess(signed_in(conf), dataset, run_id=manual_run_id())
    out.print(
        f"{done.ref}: {done.read} quarantined rows re-processed, {done.published} "
        f"published, {done.still_quarantined} still quarantined"
    )
