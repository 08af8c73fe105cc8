"""The share interface: a 1M-row share read by the real Delta Sharing client, and its rebuild.

Prepared once: the registry seeded with ``rows`` enterprises and built to its gold directory
(arrow engine), the directory published, and the tax bureau granted it by share_interface
(uscc, name, status, region_code, legal_representative masked, established_on; no filter), its
share table materialised and a profile issued. Arms, each in a fresh process:
- ``local_files``: the client's own pyarrow and pandas (its test-only virtualenv) reading the
  share table's Parquet files from disk into a DataFrame: the floor, no HTTP;
- ``delta_sharing``: ``delta_sharing.load_as_pandas`` of the share through the server (uvicorn
  on loopback, started in the arm's process before the clock): metadata, query, then every
  file fetched by its signed address with HEAD and Range requests;
- ``materialise``: what a rebuild of the share table costs when the source moves: the granted
  rows read, masked and written as a new Delta table (an overwrite; a MERGE costs more).

Both client arms start the client's interpreter (pandas and pyarrow imports included);
``client_s`` in the results is the load alone, timed inside the client.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from bench.harness import serve_arm

ARMS = ["local_files", "delta_sharing", "materialise"]
REFERENCE = "local_files"
REPO = Path(__file__).resolve().parent.parent
CLIENT = "delta-sharing==1.4.2"
COLUMNS = ["uscc", "name", "status", "region_code", "legal_representative", "established_on"]
SERVED = [  # the shipped conf files of departments that need servers
    "sources/social_insurance_drop.yaml", "sources/penalty_notices_site.yaml",
    "datasets/social_insurance.yaml", "datasets/penalty_notices.yaml",
    "datasets/credit_profile.yaml", "pipelines/social_insurance_ingest.yaml",
    "pipelines/social_insurance_refine.yaml", "pipelines/penalty_notices_crawl.yaml",
    "pipelines/penalty_notices_refine.yaml", "pipelines/credit_profile_publish.yaml",
    "exchange/subscriptions.yaml",
]  # fmt: skip
KEYS = {
    "GOVLAKE_AUDIT_KEY": "bench-audit-chain-key-not-a-secret-0123456789",
    "GOVLAKE_TOKEN_KEY": "bench-token-signing-key-not-a-secret-0123456789",
    "GOVLAKE_SHARE_URL_KEY": "bench-share-url-key-not-a-secret-0123456789",
}
PASSWORD = "Bench-Password-2030"
LOAD = """
import json, sys, time
import delta_sharing
started = time.perf_counter()
frame = delta_sharing.load_as_pandas(sys.argv[1])
print(json.dumps({"rows": len(frame), "columns": list(frame.columns),
                  "client_s": round(time.perf_counter() - started, 2)}))
"""
LOCAL = """
import json, sys, time
import pyarrow.parquet as pq
started = time.perf_counter()
frame = pq.read_table(sys.argv[1:]).to_pandas(date_as_object=True, split_blocks=False)
print(json.dumps({"rows": len(frame), "columns": list(frame.columns),
                  "client_s": round(time.perf_counter() - started, 2)}))
"""


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return (
        f"Delta Sharing: load_as_pandas of a {params['rows']:,}-row share (6 columns, one "
        "masked) against reading its files locally; the rebuild of the share table"
    )


def client_python() -> Path:
    """The client's interpreter, its virtualenv made from PyPI under ``.tools/`` if missing."""
    venv = REPO / ".tools" / CLIENT.replace("==", "-")
    python = venv / "bin" / "python"
    if not python.exists():
        uv = REPO / ".tools" / "uv" / "bin" / "uv"
        tool = str(uv) if uv.exists() else shutil.which("uv") or "uv"
        partial = venv.with_name(venv.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        subprocess.run([tool, "venv", "-q", "--python", sys.executable, str(partial)],
                       check=True, env=env)  # fmt: skip
        subprocess.run([tool, "pip", "install", "-q", "--python", str(partial / "bin" / "python"),
                        CLIENT], check=True, env=env)  # fmt: skip
        partial.rename(venv)
    return python


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The registry built and published, the grant made, its share table and profile ready."""
    with platform_home("sharing") as work:
        conf = conf_without_servers(work)
        code, grant_id = _granted(conf, params["rows"])
        yield {**params, "conf": str(conf), "application": code, "grant": grant_id,
               "python": str(client_python())}  # fmt: skip


@contextmanager
def platform_home(name: str) -> Iterator[Path]:
    """A fresh work folder with the platform's home under it, its keys in the environment.

    The arms inherit them; the environment is put back and the folder removed afterwards.
    """
    work = Path(tempfile.mkdtemp(prefix=f"govlake-bench-{name}-"))
    saved = {key: os.environ.get(key) for key in (*KEYS, "GOVLAKE_HOME", "GOVLAKE_CONF")}
    os.environ.update(KEYS, GOVLAKE_HOME=str(work / "home"))
    os.environ.pop("GOVLAKE_CONF", None)
    try:
        yield work
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(work, ignore_errors=True)


def conf_without_servers(work: Path) -> Path:
    """The shipped conf under ``work``, less the departments that need servers, on arrow."""
    conf = work / "conf"
    shutil.copytree(REPO / "conf", conf)
    for name in SERVED:
        (conf / name).unlink()
    for path in (conf / "datasets").glob("*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace("engine: spark", "engine: arrow"))
    os.environ["GOVLAKE_EXPECTATIONS"] = str(REPO / "expectations")
    return conf


def _granted(conf: Path, rows: int) -> tuple[str, int]:
    """Build, publish, apply, accept, approve, authorise, materialise: the application, grant."""
    from catalog.sharing import applications as chain
    from catalog.sharing.share_tables import refreshed

    people, code = published_directory(conf, rows)
    application, grant = authorised(people, code, "share_interface", chain.Grant(columns=COLUMNS))
    refreshed(people["tax.analyst"], grant)
    return application, grant.id


def published_directory(conf: Path, rows: int) -> tuple[dict[str, Any], str]:
    """The registry seeded with ``rows``, built and its directory published; people, its code.

    The people (runtimes acting as them, by name) are the owner's steward ``zhang.wei``, the
    platform's ``li.na`` and the tax bureau's ``tax.analyst``, each with :data:`PASSWORD`.
    """
    from apps.demo import source_path
    from catalog.build import build_catalog
    from catalog.store import Catalog
    from govlake.runtime import Runtime
    from jobs.runner import run_pipeline
    from services.identity import authentication, delegation, user_admin
    from services.identity.stewards import import_stewards
    from services.identity.user_admin import NewAccount
    from subjects.enterprise_registry.seed import seed

    rt = Runtime.load(conf)
    seed(source_path(rt.config), rows=rows, seed_value=7)
    for pipeline in rt.config.pipeline_order():
        run_pipeline(rt, pipeline.name)
    build_catalog(rt)
    user_admin.bootstrap(rt, NewAccount("admin", "admin", "platform", password=PASSWORD))
    admin = rt.acting_as(authentication.login(rt, "admin", PASSWORD).principal)
    for name, org in (("zhang.wei", "market_regulation"), ("li.na", "platform"),
                      ("tax.analyst", "tax")):  # fmt: skip
        user_admin.add_user(admin, NewAccount(name, name, org, password=PASSWORD))
    delegation.assign_role(admin, "tax.analyst", "analyst")
    import_stewards(admin)
    as_ = {n: rt.acting_as(authentication.login(rt, n, PASSWORD).principal)
           for n in ("zhang.wei", "li.na", "tax.analyst")}  # fmt: skip
    catalog = Catalog(rt)
    code = catalog.resource("gold.enterprise_directory").code
    catalog.review(code, approve=True, actor=as_["zhang.wei"].principal, comment=None,
                   version=None)  # type: ignore[arg-type]  # fmt: skip
    catalog.publish(code, actor=as_["li.na"].principal)  # type: ignore[arg-type]
    return as_, code


def authorised(people: dict[str, Any], code: str, mode: str, terms: Any) -> tuple[str, Any]:
    """The tax bureau's application for ``code`` in ``mode`` walked to its grant of ``terms``."""
    from catalog.sharing import applications as chain
    from catalog.sharing.terms import Request

    until = datetime.now(UTC).date() + timedelta(days=30)
    request = Request(matter="bench", scenario="bench", purpose="bench", mode=mode, until=until)  # type: ignore[arg-type]
    made = chain.apply(people["tax.analyst"], code, request)
    chain.act(people["li.na"], made.code, "accept")
    chain.act(people["zhang.wei"], made.code, "approve")
    return made.code, chain.authorize_application(people["li.na"], made.code, terms)


@cache
def _runtime(conf: str) -> Any:
    from govlake.runtime import Runtime
    from services.identity import authentication

    rt = Runtime.load(conf)
    return rt.acting_as(authentication.login(rt, "tax.analyst", PASSWORD).principal)


def _warm(params: dict[str, Any]) -> None:
    _runtime(params["conf"])


@cache
def _served(conf: str) -> str:
    """The catalog API served from this process (before the clock); its base URL."""
    from apps.catalog_api import create_app

    return serve(create_app(_runtime(conf)))


def serve(app: Any) -> str:
    """``app`` served by uvicorn on a free loopback port, from a thread of this process; its URL."""
    import threading

    import uvicorn

    from apps.local_servers import LOOPBACK, free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://{LOOPBACK}:{port}"


@cache
def _profile(conf: str, application: str) -> Path:
    """A profile of the grant for the server of this process (made before the clock)."""
    from catalog.sharing import share_tokens
    from catalog.sharing.profile_file import save

    issued = share_tokens.issue(_runtime(conf), application)
    folder = Path(tempfile.mkdtemp(prefix="govlake-bench-profile-"))
    return save(folder / "bench.share", f"{_served(conf)}/delta-sharing", issued.token,
                issued.expires_at)  # fmt: skip


def _warm_server(params: dict[str, Any]) -> None:
    _profile(params["conf"], params["application"])


def _client(params: dict[str, Any], script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([params["python"], "-c", script, *args], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if answer["columns"] != COLUMNS:
        raise RuntimeError(f"the share's columns are {answer['columns']}")
    return answer


def arm_local_files(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The share table's files read from disk by the client's pyarrow into pandas."""
    from deltalake import DeltaTable

    from catalog.sharing import grants
    from catalog.sharing.share_tables import location

    rt = _runtime(params["conf"])
    with rt.platform_db.connect() as conn:
        grant = grants.by_id(conn, params["grant"])
    return _client(params, LOCAL, *DeltaTable(str(location(rt, grant))).file_uris())


def arm_delta_sharing(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``load_as_pandas`` of the share through the server on loopback."""
    table = f"{params['application'].lower()}.gold.enterprise_directory"
    return _client(params, LOAD, f"{_profile(params['conf'], params['application'])}#{table}")


def arm_materialise(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The granted rows read, masked and written as a new Delta table."""
    from deltalake import write_deltalake

    from catalog.sharing import grants
    from catalog.sharing.share_tables import CONFIGURATION, granted_rows

    rt = _runtime(params["conf"])
    with rt.platform_db.connect() as conn:
        grant = grants.by_id(conn, params["grant"])
    rows = granted_rows(rt, grant)
    write_deltalake(str(work / "share"), rows, configuration=CONFIGURATION)
    return {"rows": rows.num_rows}


if __name__ == "__main__":
    warm = {"local_files": _warm, "delta_sharing": _warm_server, "materialise": _warm}
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, None, warm)
