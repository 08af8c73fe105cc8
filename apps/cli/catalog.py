"""``govlake catalog``: build, list, show, search, review, publish, unpublish, export, serve.

Every command but ``serve`` acts as the logged-in user (``govlake login``). The reading ones
show what that user may see (an entry not yet published only to who may review or publish
it, as the API does); ``build`` needs ``build`` on each dataset; ``review``, ``publish`` and
``unpublish`` are decided by the policy, and the catalog's history names who acted.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from apps.cli.common import ConfOption, out, reports_errors, runtime, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from catalog.labels import CLASSIFICATION_NAMES, OPEN_NAMES, SHARING_NAMES, STATUS_NAMES
from services.identity.policy import acting

if TYPE_CHECKING:
    from apps.catalog_view import View
    from catalog.records import CatalogEntry, CatalogEvent, EntryVersion
    from catalog.store import Catalog
    from govlake.principal import Principal

catalog_app = typer.Typer(
    help="The data catalog: entries generated from pipeline metadata, reviewed and published.",
    no_args_is_help=True,
)
Version = Annotated[int | None, typer.Option("--version", help="Entry version (default: latest).")]


def _view(conf: Path | None) -> View:
    """The catalog as the logged-in user may read it."""
    from apps.catalog_view import View

    catalog, actor = _signed_in(conf)
    return View(catalog, actor)


def _signed_in(conf: Path | None) -> tuple[Catalog, Principal]:
    """The catalog and the logged-in user who acts on it."""
    from catalog.store import Catalog

    rt = signed_in(conf)
    return Catalog(rt), acting(rt)


def _entries(entries: list[CatalogEntry], title: str, fmt: Format) -> None:
    """The entries; a table names grades, sharing and status in Chinese, other formats by code."""
    columns = ("code", "dataset", "title", "owner", "category", "class.", "sharing", "v", "status")
    listing = Listing(title, columns)
    named = fmt is Format.table
    for e in entries:
        d = e.definition
        listing.add(e.code, e.dataset, d.title, d.owner, d.category,
                    CLASSIFICATION_NAMES[d.classification] if named else d.classification,
                    SHARING_NAMES[d.sharing.type] if named else d.sharing.type, e.version,
                    STATUS_NAMES[e.status] if named else e.status)  # fmt: skip
    emit(listing, fmt)


@catalog_app.command("build")
@reports_errors
def build(
    datasets: Annotated[list[str] | None, typer.Argument(help="Datasets (default: all).")] = None,
    conf: ConfOption = None,
) -> None:
    """Generate entries from metadata and register new and changed ones for review."""
    from apps.guarded import register_in_catalog

    report = register_in_catalog(signed_in(conf), datasets)
    for r in report.registrations:
        out.print(f"{r.code} {r.dataset}: {r.outcome}, version {r.version}, {r.status}")
    for ref in report.not_built:
        out.print(f"{ref}: not built yet, no entry")
    for warning in report.warnings:
        out.print(f"[yellow]warning[/yellow]: {warning}", highlight=False)


@catalog_app.command("list")
@reports_errors
def list_entries(
    department: Annotated[str | None, typer.Option("--department")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    classification: Annotated[str | None, typer.Option("--classification")] = None,
    sharing: Annotated[str | None, typer.Option("--sharing")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """Entries (the published version, else the latest), filtered."""
    from catalog.store import Filters

    chosen = Filters(department, category, classification, sharing, status, published_only=False)
    _entries(_view(conf).entries(chosen), "data catalog", fmt)


@catalog_app.command("show")
@reports_errors
def show(
    code: Annotated[str, typer.Argument(help="Resource code or dataset (zone.name).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the entry as JSON.")] = False,
    conf: ConfOption = None,
) -> None:
    """One entry: schema, lineage, quality, versions with their changes, and history."""
    view = _view(conf)
    entry = view.latest_seen(code)
    catalog = view.catalog
    versions = [v for v in catalog.versions(code) if v.version <= entry.version]
    events = [e for e in catalog.events(code) if e.version <= entry.version]
    if as_json:
        document = {
            **asdict(entry),
            "definition": entry.definition.model_dump(mode="json"),
            "state": entry.state.model_dump(mode="json"),
            "versions": [
                {**asdict(v), "definition": v.definition.model_dump(mode="json")} for v in versions
            ],
            "events": [asdict(e) for e in events],
        }
        out.print_json(json.dumps(document, default=str, ensure_ascii=False))
        return
    _show(entry, versions, events)


def _show(entry: CatalogEntry, versions: list[EntryVersion], events: list[CatalogEvent]) -> None:
    d, state = entry.definition, entry.state
    out.print(f"[bold]{entry.code}[/bold] {d.title} ({entry.dataset})")
    out.print(d.description, highlight=False)
    out.print(
        f"owner {d.owner_name} · category {d.category_name} · "
        f"{CLASSIFICATION_NAMES[d.classification]} ({d.classification}) · "
        f"{SHARING_NAMES[d.sharing.type]} ({d.sharing.type}) · "
        f"{OPEN_NAMES[d.sharing.open]} ({d.sharing.open}) · "
        f"update {d.update_cycle.label} · keys {', '.join(d.keys) or '-'}",
        highlight=False,
    )
    updated = state.model_dump(mode="json")["last_updated"]
    out.print(
        f"version {entry.version} {STATUS_NAMES[entry.status]} ({entry.status}) · published "
        f"version {entry.published_version or '-'} · rows {state.rows} · Delta version "
        f"{state.delta_version} · updated {updated} ({state.freshness}) · "
        f"quality {state.quality_score if state.quality_score is not None else '-'}",
        highlight=False,
    )
    schema = Table(title="schema (Delta log)")
    for column in ("column", "type", "null", "description", "sensitive"):
        schema.add_column(column)
    for c in d.columns:
        schema.add_row(c.name, c.type, "yes" if c.nullable else "no", c.comment, c.sensitive or "")
    out.print(schema)
    lineage = state.lineage
    sources = [f"{s.kind}:{s.name}.{s.stream}" for s in lineage.sources]
    delivered = [f"{s.subscription} -> {s.node} ({s.format})" for s in lineage.subscriptions]
    out.print(
        f"lineage: sources {sources} -> upstream {lineage.upstream} -> [bold]"
        f"{entry.dataset}[/bold] (DAG {lineage.producer_dag}) -> downstream "
        f"{lineage.downstream} -> exchange {delivered}",
        highlight=False,
    )
    for v in versions:
        out.print(
            f"version {v.version} {v.status} {str(v.registered_at)[:19]}: "
            f"{json.dumps(v.diff, ensure_ascii=False) if v.diff else 'first version'}",
            highlight=False,
        )
    for e in events:
        out.print(
            f"  {str(e.at)[:19]} v{e.version} {e.action} -> {e.to_status} by "
            f"{e.actor}{' (' + e.department + ')' if e.department else ''}"
            f"{': ' + e.comment if e.comment else ''}",
            highlight=False,
        )


@catalog_app.command("search")
@reports_errors
def search(
    words: Annotated[str, typer.Argument(help="Words to find, Chinese or not.")],
    limit: Annotated[int, typer.Option("--limit")] = 20,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """Full-text search over names, descriptions and column names and descriptions."""
    from catalog.store import Filters

    found = _view(conf).search(words, Filters(published_only=False), limit)
    _entries(found, f"search: {words}", fmt)


@catalog_app.command("review")
@reports_errors
def review(
    code: str,
    approve: Annotated[bool, typer.Option("--approve/--reject")],
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    version: Version = None,
    conf: ConfOption = None,
) -> None:
    """Approve or reject a registered entry, as a data steward of its owning department."""
    catalog, actor = _signed_in(conf)
    status = catalog.review(code, approve=approve, actor=actor, comment=comment, version=version)
    out.print(f"{code}: {status}")


@catalog_app.command("publish")
@reports_errors
def publish(code: str, version: Version = None, conf: ConfOption = None) -> None:
    """Publish an approved entry, as a data steward of the platform department."""
    catalog, actor = _signed_in(conf)
    out.print(f"{code}: {catalog.publish(code, actor=actor, version=version)}")


@catalog_app.command("unpublish")
@reports_errors
def unpublish(
    code: str,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    conf: ConfOption = None,
) -> None:
    """Withdraw the published entry, as a data steward of the platform department."""
    catalog, actor = _signed_in(conf)
    out.print(f"{code}: {catalog.unpublish(code, actor=actor, comment=comment)}")


@catalog_app.command("export")
@reports_errors
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
    include_unpublished: Annotated[bool, typer.Option("--all", help="Not only published.")] = False,
    conf: ConfOption = None,
) -> None:
    """The catalogue as JSON (schema: catalog/export.schema.json)."""
    from catalog.export import catalogue_document
    from catalog.store import Filters

    published_only = not include_unpublished
    entries = _view(conf).entries(Filters(published_only=published_only))
    document = catalogue_document(entries, published_only=published_only)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        out.print(f"{len(document['resources'])} resources -> {output}")


@catalog_app.command("serve")
@reports_errors
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8090,
    conf: ConfOption = None,
) -> None:
    """Serve the read-only catalog API (OpenAPI at /docs)."""
    import uvicorn

    from apps.catalog_api import create_app

    uvicorn.run(create_app(runtime(conf)), host=host, port=port)
