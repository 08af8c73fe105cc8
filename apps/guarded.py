"""The jobs a person or a DAG task starts, each behind the policy check and into the audit.

The CLI and the DAG tasks call these, never the jobs directly, so both ask the same question
of :func:`~services.identity.policy.require` for the runtime's principal:

- writing a table (collect, derive, validate, reprocess, maintain, register its catalog
  entry) needs ``build`` on its dataset and is recorded as ``dataset.build``;
- reading rows (SQL, quarantined rows) needs ``read_data`` on every dataset read and is
  recorded as ``data.read``, one row per dataset, with the SQL's digest and the rows returned;
- listing tables needs ``read_metadata``.

Delivering needs ``deliver`` on the subscription's node and, for a node of another department
than the dataset's owner, a share grant in force (:mod:`catalog.sharing.subscriptions`): without
one the delivery is refused and recorded as such in the exchange ledger; with one it carries
what the grant allows, and its id goes into the ledger, the manifest and the audit row.
Approving or disabling a node tells its operators, and so does a delivery refused or failed;
a quality gate that blocks a commit tells who may build and review the table (the message
service). The platform's own tables (``platform.*``) belong to the platform
department. Every refusal
is audited before it is raised (``access.denied``), and nothing runs until every check of a
command has passed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from govlake.errors import GovlakeError
from govlake.lakehouse import QUARANTINE_SUFFIX, WriteResult
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.audit.records import Outcome
from services.identity import trail
from services.identity.policy import acting, authorize, require
from services.identity.settings import utc_now
from services.notifications import Notice, notify

if TYPE_CHECKING:
    import pyarrow as pa

    from catalog.build import BuildReport
    from jobs.exchange.deliver import Delivery
    from jobs.maintenance import MaintenanceResult
    from jobs.quality.on_demand import Validation
    from jobs.reprocess import Reprocessed

T = TypeVar("T")
Progress = Callable[[str], None]


def securable(rt: Runtime, ref: str) -> str:
    """The securable a table is: its dataset (a quarantine's too), or the platform department."""
    if ref.startswith("platform."):
        return f"organisation:{rt.config.catalog.platform_department}"
    return f"dataset:{ref.removesuffix(QUARANTINE_SUFFIX)}"


def permitted(rt: Runtime, verb: str, refs: Iterable[str]) -> Principal:
    """The acting principal, once ``verb`` is allowed on every table of ``refs``."""
    actor = acting(rt)
    for target in dict.fromkeys(securable(rt, ref) for ref in refs):
        require(rt, actor, verb, target)
    return actor


def readable(rt: Runtime, verb: str, refs: Iterable[str]) -> list[str]:
    """The tables of ``refs`` the acting principal may ``verb``; refused when there are none."""
    actor = acting(rt)
    refs = list(refs)
    allowed = [r for r in refs if authorize(rt, actor, verb, securable(rt, r)).allowed]
    if refs and not allowed:
        require(rt, actor, verb, securable(rt, refs[0]))  # the refusal, audited
    return allowed


def build_dataset(rt: Runtime, ref: str, *, pipeline: str, run_id: str) -> list[WriteResult]:
    """Collect or derive ``ref``, as a principal allowed to build it."""
    from jobs.runner import build_dataset as build

    permitted(rt, "build", [ref])
    return _building(rt, ref, lambda: build(rt, ref, pipeline=pipeline, run_id=run_id),
                     pipeline=pipeline, run_id=run_id)  # fmt: skip


@dataclass(frozen=True)
class PipelineRun:
    """How one pipeline of a run ended: its writes, or why it failed or was skipped."""

    name: str
    results: list[WriteResult]
    error: Exception | None = None
    skipped_for: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every dataset of the pipeline was built."""
        return self.error is None and self.skipped_for is None


def run_pipelines(
    rt: Runtime, names: list[str], *, run_id: str, progress: Progress
) -> Iterator[PipelineRun]:
    """Build every dataset of the pipelines ``names`` in order, once all may be built.

    A pipeline that fails does not stop the others: the ones that read what it builds are
    skipped, the independent ones still run.
    """
    pipelines = [rt.config.pipeline(name) for name in names]
    permitted(rt, "build", [ref for p in pipelines for ref in p.builds])
    stopped: set[str] = set()
    for pipeline in pipelines:
        blocked = sorted(rt.config.graph.upstream(pipeline.name) & stopped)
        if blocked:
            stopped.add(pipeline.name)
            yield PipelineRun(pipeline.name, [], skipped_for=blocked[0])
            continue
        results: list[WriteResult] = []
        try:
            for ref in pipeline.builds:
                progress(f"{pipeline.name}: building {ref}")
                results += build_dataset(rt, ref, pipeline=pipeline.name, run_id=run_id)
        except Exception as exc:  # one pipeline's failure, reported by the caller
            stopped.add(pipeline.name)
            yield PipelineRun(pipeline.name, results, error=exc)
            continue
        yield PipelineRun(pipeline.name, results)


def maintain(
    rt: Runtime, refs: list[str] | None, *, optimize: bool = True, vacuum: bool = True
) -> list[MaintenanceResult]:
    """Compact and vacuum ``refs`` (default: every table), each allowed to be built."""
    from jobs.maintenance import maintain as run_maintenance

    targets = rt.lake.existing(refs) if refs else rt.lake.present(rt.config.datasets)
    actor = permitted(rt, "build", targets)
    trail.ready()
    try:
        done = run_maintenance(rt, refs, optimize=optimize, vacuum=vacuum)
    except Exception as exc:
        for ref in targets:
            _record(rt, actor, "dataset.maintain", ref, "failed", {"error": type(exc).__name__})
        raise
    for r in done:
        outcome: Outcome = "failed" if r.problem else "success"
        _record(rt, actor, "dataset.maintain", r.ref, outcome, {"problem": r.problem} if r.problem
                else {"added": r.files_added, "removed": r.files_removed,
                      "vacuumed": r.files_vacuumed})  # fmt: skip
    return done


def validate(rt: Runtime, ref: str, *, run_id: str) -> Validation:
    """Validate ``ref``'s current version with its suite and record the results."""
    from jobs.quality.on_demand import validate_table

    permitted(rt, "build", [ref])
    return _building(rt, ref, lambda: validate_table(rt, ref, run_id=run_id), step="validate")


def reprocess(rt: Runtime, ref: str, *, run_id: str) -> Reprocessed:
    """Send ``ref``'s quarantined rows through their step again."""
    from jobs.reprocess import reprocess as run_reprocess

    permitted(rt, "build", [ref])
    return _building(rt, ref, lambda: run_reprocess(rt, ref, run_id=run_id), step="reprocess")


def register_in_catalog(rt: Runtime, refs: list[str] | None) -> BuildReport:
    """Generate and register the catalog entries of ``refs`` (default: every dataset)."""
    from catalog.build import build_catalog

    targets = refs if refs is not None else list(rt.config.datasets)
    for ref in targets:
        rt.config.dataset(ref)
    actor = permitted(rt, "build", targets)
    trail.ready()
    report = build_catalog(rt, refs)
    for r in report.registrations:
        _record(rt, actor, "catalog.build", r.dataset, "success",
                {"code": r.code, "outcome": r.outcome, "version": r.version})  # fmt: skip
    return report


def set_node_status(rt: Runtime, name: str, status: str, reason: str | None) -> str:
    """Approve (``approved``) or disable (``disabled``) node ``name``; what the ledger says."""
    from jobs.exchange.ledger import Ledger

    actor = acting(rt)
    change = "exchange.node_approve" if status == "approved" else "exchange.node_disable"
    with trail.audited(rt, change, f"node:{name}", actor, reason=reason) as noted:
        rt.config.node(name)
        require(rt, actor, "approve_node", f"node:{name}")
        ledger = Ledger(rt.platform_db)
        ledger.sync_nodes(rt.config)
        noted["result"] = ledger.set_status(name, status, actor=actor.username, reason=reason)
        node = rt.config.node(name)
        department = rt.config.departments.get(node.department)
        noted["message"] = notify(rt, Notice("node.status", f"node:{name}", [
            f"may:approve_node@node:{name}"], {
            "node": name, "department": department.name if department else node.department,
            "outcome": "已批准" if status == "approved" else "已停用", "actor": actor.username,
            "reason": reason,
        }), by=actor.username)  # fmt: skip
    return str(noted["result"])


class DeliveryRefused(GovlakeError):
    """A delivery the exchange refused (node not approved, no grant in force): nothing sent."""


def deliver(
    rt: Runtime, subscription: str, *, resend: str | None = None, progress: Progress = print
) -> Delivery:
    """Deliver (or resend) ``subscription``'s batch as its grant allows, once ``deliver`` is.

    ``deliver`` on its node is asked of the policy; the grant in force, of
    :func:`~catalog.sharing.subscriptions.terms_for`. Raises :class:`DeliveryRefused` when the
    exchange refused it (recorded in the ledger).
    """
    from catalog.sharing.subscriptions import terms_for
    from jobs.exchange.deliver import deliver as run_delivery

    actor = acting(rt)
    action = "exchange.resend" if resend else "exchange.deliver"
    with trail.audited(rt, action, f"subscription:{subscription}", actor) as noted:
        node = rt.config.subscription(subscription).node
        noted.update(node=node, resend=resend)
        require(rt, actor, "deliver", f"node:{node}")
        terms = terms_for(rt, subscription, utc_now())
        noted["grant"] = terms.grant
        try:
            done = run_delivery(rt, subscription, terms=terms, resend=resend, progress=progress)
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"
            _delivery_failed(rt, actor, subscription, node, None, why, "失败")
            raise
        noted.update(status=done.status, batch=done.batch_id, rows=done.rows, bytes=done.bytes)
        if done.reconciled:  # what a crashed attempt left, closed by this one
            noted["reconciled"] = [[r.attempt, r.batch_id, r.status] for r in done.reconciled]
        if done.status == "refused":
            _delivery_failed(rt, actor, subscription, node, done.batch_id, done.reason, "被拒绝")
            raise DeliveryRefused(f"{subscription}: nothing sent ({done.batch_id}): {done.reason}")
    return done


def _delivery_failed(
    rt: Runtime,
    actor: Principal,
    subscription: str,
    node: str,
    batch: str | None,
    why: str,
    outcome: str,
) -> None:
    """Tell the node's operators (and the platform administrators) a delivery did not arrive."""
    context = {"subscription": subscription, "node": node, "batch": batch or "（未生成）",
               "reason": why[:500], "outcome": outcome}  # fmt: skip
    notice = Notice("exchange.failed", f"subscription:{subscription}",
                    [f"may:approve_node@node:{node}"], context)  # fmt: skip
    notify(rt, notice, by=actor.username)


def query(rt: Runtime, statement: str) -> pa.Table:
    """The result of analyst SQL, reading only datasets the principal may read the data of."""
    from jobs.query import query as run_query
    from jobs.query import tables_named

    actor = acting(rt)
    reads = sorted(tables_named(statement, rt.config.datasets))
    for target in dict.fromkeys(securable(rt, ref) for ref in reads):
        verb = "read_data" if target.startswith("dataset:") else "read_metadata"
        require(rt, actor, verb, target)
    trail.ready()
    datasets = {ref.removesuffix(QUARANTINE_SUFFIX) for ref in reads} & set(rt.config.datasets)
    details = {"sql_sha256": hashlib.sha256(statement.encode()).hexdigest()}
    try:
        result = run_query(rt.lake, sorted(datasets), statement)
    except Exception as exc:
        record_reads(rt, actor, reads, "failed", {**details, "error": str(exc)[:200]})
        raise
    record_reads(rt, actor, reads, "success", {**details, "rows": result.num_rows})
    return result


def record_reads(
    rt: Runtime, actor: Principal, refs: Iterable[str], outcome: Outcome, details: dict[str, Any]
) -> None:
    """One ``data.read`` audit row per table of ``refs`` read by ``actor``."""
    for ref in refs:
        _record(rt, actor, "data.read", ref, outcome, details)


def _building(rt: Runtime, ref: str, work: Callable[[], T], **details: Any) -> T:
    with trail.audited(rt, "dataset.build", securable(rt, ref), **details) as noted:
        try:
            done = work()
        except GovlakeError as exc:
            _tell_if_blocked(rt, ref, exc)
            raise
        if isinstance(done, list):
            noted["tables"] = {r.ref: [r.status, r.rows, r.version] for r in done}
        return done


def _tell_if_blocked(rt: Runtime, ref: str, exc: GovlakeError) -> None:
    """A quality gate that blocked a commit tells who may build the table and who reviews it."""
    from jobs.quality.gate import QualityGateError

    if not isinstance(exc, QualityGateError):
        return
    target = f"dataset:{ref}"
    notice = Notice("quality.blocked", target, [f"may:build@{target}", f"may:review@{target}"],
                    {"dataset": ref, "reason": str(exc)[:1000]})  # fmt: skip
    notify(rt, notice, by=acting(rt).username)


def _record(
    rt: Runtime, actor: Principal, action: str, ref: str, outcome: Outcome, details: dict[str, Any]
) -> None:
    trail.write(rt, actor, action, securable(rt, ref), outcome, {**details, "table": ref})
