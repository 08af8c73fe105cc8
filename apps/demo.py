"""The main job on the embedded default: seed the registry, run the DAGs in Airflow, report.

The pipelines' DAGs run first; then the catalog entries they registered are reviewed and
published, each receiving department applies for its subscription's resource and is granted it
(:mod:`apps.demo_grants`), and only then do the exchange DAGs deliver, under those grants. Last,
two departments are granted shares they read (:mod:`apps.demo_shares`).

Airflow runs in this process (``dag.test()``) against a throwaway SQLite metadata database in
``$GOVLAKE_HOME/airflow``; its own log lines go to ``$GOVLAKE_HOME/demo.log`` so the terminal
shows progress and the summary only. Running the demo again collects nothing new and leaves
every table as it was.
"""

from __future__ import annotations

import logging
import os
import runpy
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from apps import demo_grants, demo_people, demo_shares
from apps.airflow_home import activate, dags_folder
from apps.demo_people import Person
from apps.demo_shares import ShareAccess
from apps.local_servers import LOOPBACK, FtpServer, WebServer
from catalog.records import CatalogEntry
from govlake.config.models import DatabaseSource
from govlake.config.project import ProjectConfig
from govlake.errors import GovlakeError
from govlake.lakehouse import TableInfo
from govlake.runtime import Runtime
from jobs.exchange.ledger import DeliveryRecord, Ledger
from services.audit.verify import Verification
from subjects.enterprise_registry import seed as scenario
from subjects.penalty_notices import site as penalty_site
from subjects.social_insurance import seed as social_insurance

DEMO_SOURCE = "market_registry"
REGISTRY_SEED = 42


@dataclass(frozen=True)
class DagRunSummary:
    """One DAG run of the demo."""

    dag_id: str
    state: str
    seconds: float


@dataclass(frozen=True)
class DemoReport:
    """What the demo did and where everything is."""

    seeded: bool
    began: datetime
    source: Path
    runs: list[DagRunSummary]
    tables: list[TableInfo]
    lakehouse: str
    airflow_home: Path
    log: Path
    seconds: float
    quality: dict[str, float]
    data_docs: Path
    deliveries: list[DeliveryRecord]
    catalog: list[CatalogEntry]
    people: list[Person]
    keys: Path
    waiting: list[str]
    shares: list[ShareAccess]
    audit: Verification


def source_path(config: ProjectConfig) -> Path:
    """The SQLite file behind the demo source's default URL."""
    source = config.sources[DEMO_SOURCE]
    url = source.default_url if isinstance(source, DatabaseSource) else None
    database = make_url(url).database if url else None
    if not database:
        raise GovlakeError(f"source {DEMO_SOURCE} has no SQLite default_url for the demo")
    return Path(database)


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Airflow's task logs included) to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def seed_departments(sources: Path, rows: int, days: int = 5) -> bool:
    """Human resources' daily GBK files and market regulation's penalty site, made once.

    Both draw their enterprises from the seeded registry, as they would in life, credit codes
    typed with the same noise. One file carries a few malformed lines.
    """
    drop, site = sources / "hr_ftp" / "outbox", sources / "penalty_site"
    if drop.exists() and site.exists():
        return False
    registry = scenario.generate(rows, REGISTRY_SEED)
    employers = sorted({(str(r["uscc"]), str(r["name"])) for r in registry})
    drop.mkdir(parents=True, exist_ok=True)
    first_drop = datetime.now(UTC).date() - timedelta(days=days)
    for offset in range(days):
        day = first_drop + timedelta(days=offset)
        records = social_insurance.rows(employers, day, seed=REGISTRY_SEED)
        data = social_insurance.csv_bytes(records, malformed=3 if offset == 1 else 0, seed=offset)
        (drop / f"social_insurance_{day:%Y%m%d}.csv").write_bytes(data)
    notices = penalty_site.notices(employers, count=max(20, rows // 40), seed=REGISTRY_SEED)
    penalty_site.build_site(site, notices)
    return True


@contextmanager
def department_servers(config: ProjectConfig, progress: Callable[[str], None]) -> Iterator[None]:
    """Serve the HR drop folder over FTP and the penalty site over HTTP, on loopback."""
    sources = config.home / "sources"
    with (
        FtpServer.serving(sources / "hr_ftp", config.home / "ftp.log") as ftp,
        WebServer.serving(sources / "penalty_site", config.home / "web.log") as web,
    ):
        os.environ["AIRFLOW_CONN_HR_DROP"] = ftp.url
        os.environ["GOVLAKE_PENALTY_SITE"] = web.url
        progress(f"human_resources: FTP drop folder ftp://{ftp.user}@{LOOPBACK}:{ftp.port}/outbox "
                 "(local pyftpdlib server)")  # fmt: skip
        progress(f"market_regulation: penalty notices website {web.url}/penalties/ "
                 "(local static web server)")  # fmt: skip
        try:
            yield
        finally:
            os.environ.pop("AIRFLOW_CONN_HR_DROP", None)
            os.environ.pop("GOVLAKE_PENALTY_SITE", None)


def run_demo(rt: Runtime, rows: int = 2000, progress: Callable[[str], None] = print) -> DemoReport:
    """Seed the sources if needed, run every pipeline's DAG once in order, and report."""
    started, began = time.perf_counter(), datetime.now(UTC)
    config = rt.config
    progress(f"platform: home {config.home}; keys, platform DB and people first")
    keys = demo_people.keys(config.home)
    made = demo_people.people(rt)
    if made:
        progress(f"identity: {len(made)} people and the DAGs' service principals created")
    source = source_path(config)
    seeded = scenario.seed(source, rows=rows, seed_value=REGISTRY_SEED)
    seeded = seed_departments(config.home / "sources", rows) or seeded
    progress(f"market_regulation: registry database {'seeded' if seeded else 'reusing'} {source}")
    dags = _dags(rt, progress)
    with department_servers(config, progress):
        runs = _run_dags(rt, dags, [p.name for p in config.pipeline_order()], progress)
    waiting = demo_people.publish_catalog(rt, made, progress)
    if config.subscriptions:
        approve_nodes(rt, made, progress)
        demo_grants.grant_subscriptions(rt, made, progress)
        exchange = [f"exchange__{name}" for name in config.subscriptions]
        runs += _run_dags(rt, dags, exchange, progress)
    shares = demo_shares.grant_shares(rt, made, progress)
    _stop_spark(config.home / "demo.log")
    from jobs.quality.results import latest_score

    lake = rt.lake
    tables = [lake.describe(ref) for ref in lake.present(config.datasets)]
    scores = {ref: latest_score(lake, ref) for ref in config.datasets}
    return DemoReport(
        seeded,
        began,
        source,
        runs,
        tables,
        lake.root,
        config.home / "airflow",
        config.home / "demo.log",
        time.perf_counter() - started,
        {ref: score for ref, score in scores.items() if score is not None},
        config.home / "quality" / "data_docs" / "index.html",
        _last_deliveries(rt),
        _catalog_entries(rt),
        made,
        keys,
        waiting,
        shares,
        _verified_audit(rt),
    )


def _verified_audit(rt: Runtime) -> Verification:
    """The audit ledger verified; when sound, its head signed into a checkpoint and re-checked."""
    from services.audit.verify import checkpoint, verify

    found = verify(rt)
    if found.ok:
        checkpoint(rt)
        found = verify(rt)
    return found


def _catalog_entries(rt: Runtime) -> list[CatalogEntry]:
    """The catalog entries the pipeline DAGs registered."""
    from catalog.store import Catalog

    return Catalog(rt).entries()


def _last_deliveries(rt: Runtime) -> list[DeliveryRecord]:
    """Each subscription's latest ledger row."""
    if not rt.config.subscriptions:
        return []

    ledger = Ledger(rt.platform_db)
    return [rows[-1] for name in rt.config.subscriptions if (rows := ledger.attempts(name))]


def approve_nodes(rt: Runtime, made: list[Person], progress: Callable[[str], None]) -> None:
    """Approve the registered exchange nodes as the demo's platform administrator."""
    from apps.guarded import set_node_status
    from jobs.exchange.targets import describe_target

    config = rt.config
    ledger = Ledger(rt.platform_db)
    ledger.sync_nodes(config)
    admin = demo_people.login(rt, made, "platform_admin", config.catalog.platform_department)
    for node in ledger.nodes():
        if node.status != "registered":
            continue
        if admin is None:
            progress(f"exchange: node {node.name} awaits approval (govlake exchange nodes approve)")
            continue
        set_node_status(rt.acting_as(admin), node.name, "approved", "demo setup")
    for sub in config.subscriptions.values():
        progress(f"exchange: {sub.name} delivers to {describe_target(config, sub)}")


def _dags(rt: Runtime, progress: Callable[[str], None]) -> dict[str, object]:
    """The DAG file's namespace, once Airflow's metadata database is ready."""
    config = rt.config
    os.environ["GOVLAKE_RETRIES"] = "0"
    progress("airflow: preparing the metadata database")
    activate(config.home, config.conf_dir)
    dag_file = dags_folder(config.conf_dir) / "govlake_pipelines.py"
    with _output_to(config.home / "demo.log"):
        return runpy.run_path(str(dag_file))


def _run_dags(
    rt: Runtime, dags: dict[str, object], dag_ids: list[str], progress: Callable[[str], None]
) -> list[DagRunSummary]:
    """The DAGs ``dag_ids`` once each, in order, with Airflow's output sent to the log."""
    from airflow.sdk import DAG

    from apps.dag_factory import run_in_process

    log = rt.config.home / "demo.log"
    runs = []
    for dag_id in dag_ids:
        dag = dags.get(dag_id)
        if not isinstance(dag, DAG):
            raise GovlakeError(f"the DAG file defines no DAG {dag_id}")
        count = len(dag.tasks)
        progress(f"airflow: running DAG {dag_id} ({count} task{'' if count == 1 else 's'})")
        begun = time.perf_counter()
        with _output_to(log):
            run = run_in_process(dag)
        state = str(getattr(run.state, "value", run.state))
        runs.append(DagRunSummary(dag_id, state, time.perf_counter() - begun))
        if state != "success":
            raise GovlakeError(f"DAG {dag_id} ended {state}: see {log}")
    return runs


def _stop_spark(log: Path) -> None:
    """Stop Spark while its output still goes to the log."""
    if "jobs.spark.session" in sys.modules:
        from jobs.spark.session import stop_sessions

        with _output_to(log):
            stop_sessions()
        logging.getLogger("py4j").setLevel(logging.WARNING)  # it logs again at interpreter exit
