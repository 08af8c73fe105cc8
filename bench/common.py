"""What the benchmark scenarios share: the local PostgreSQL, a one-source conf, output digests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from govlake.runtime import Runtime

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LAKEHOUSE = "root: {lake}\n"


@contextmanager
def platform_database(backend: str, work: Path, name: str) -> Iterator[str]:
    """The URL of a fresh platform DB on ``backend``.

    A SQLite file under ``work``, or a new schema ``bench_<name>_...`` of the local PostgreSQL,
    dropped afterwards.
    """
    if backend == "sqlite":
        yield f"sqlite:///{work}/platform.db"
        return
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as db:
        db.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as db:
            db.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def write_conf(base: Path, source_yaml: str, name: str, *, write: str = "append") -> Path:
    """A conf folder collecting one source stream (``rows``) into ``bronze.<name>``."""
    conf = base / "conf"
    for folder in ("sources", "datasets", "pipelines"):
        (conf / folder).mkdir(parents=True, exist_ok=True)
    (conf / "lakehouse.yaml").write_text(LAKEHOUSE.format(lake=base / "lake"))
    (conf / "departments.yaml").write_text("departments:\n  - {code: platform, name: 平台}\n")
    (conf / "sources" / f"{name}.yaml").write_text(source_yaml, encoding="utf-8")
    (conf / "datasets" / f"{name}.yaml").write_text(
        f"datasets:\n  - {{zone: bronze, name: {name}, title: t, owner: platform, "
        f"write: {write}, collect: {{source: {name}, stream: rows}}}}\n"
    )
    (conf / "pipelines" / f"{name}.yaml").write_text(
        f"name: {name}_ingest\ntitle: t\ndescription: d\nowner: platform\nbuilds: [bronze.{name}]\n"
    )
    return conf


REGISTRY_CONF = {
    "lakehouse.yaml": "root: {work}/lake\n",
    "departments.yaml": "departments:\n  - {{code: platform, name: 平台}}\n",
    "sources/registry.yaml": (
        "name: registry\nkind: database\ntitle: t\nowner: platform\nconn_id: registry\n"
        "default_url: sqlite:///{work}/registry.db\n"
        "streams: [{{name: rows, table: enterprise, primary_key: [uscc], cursor: updated_at}}]\n"
    ),
    "datasets/registry.yaml": (
        "datasets:\n"
        "  - {{zone: bronze, name: enterprise_registry, title: t, owner: platform, write: append,"
        " collect: {{source: registry, stream: rows}}}}\n"
        "  - {{zone: silver, name: enterprise_registry, title: t, owner: platform, keys: [uscc],"
        " write: merge, latest_by: updated_at, inputs: [bronze.enterprise_registry],"
        " transform: 'subjects.enterprise_registry.transform:standardise', engine: {engine}"
        "{quality}}}\n"
    ),
    "pipelines/registry.yaml": (
        "name: registry\ntitle: t\ndescription: d\nowner: platform\n"
        "builds: [bronze.enterprise_registry, silver.enterprise_registry]\n"
    ),
}


def registry_conf(
    work: Path,
    engine: str = "arrow",
    driver_memory: str = "2g",
    max_row_drop: float = 0.5,
    *,
    validated: bool = True,
) -> Path:
    """A conf of the registry's bronze and silver datasets, with its lakehouse in ``work``.

    ``validated`` declares the silver quality gate (its suite must then be in
    ``GOVLAKE_EXPECTATIONS``); without it the silver write is not validated.
    """
    gate = f", quality: {{policy: quarantine, max_row_drop: {max_row_drop}, freshness_hours: 48}}"
    conf = work / "conf"
    for name, text in REGISTRY_CONF.items():
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_text(
            text.format(work=work, engine=engine, quality=gate if validated else ""),
            encoding="utf-8",
        )
    (conf / "engine.yaml").write_text(
        f"spark: {{driver_memory: {driver_memory}, options: {{spark.ui.enabled: 'false'}}}}\n"
    )
    return conf


def govlake_ingest(work: Path, source_yaml: str, name: str) -> dict[str, Any]:
    """Collect the source's ``rows`` stream into ``bronze.<name>``, as govlake's task does."""
    from govlake.config.loader import load_config
    from jobs.collect.ingest import ingest

    config = load_config(write_conf(work, source_yaml, name))
    ingest(Runtime(config), f"bronze.{name}", pipeline="bench", run_id="bench")
    return {"output": str(work / "lake" / "bronze" / name)}


def dlt_to_delta(work: Path, data: Any, table: str) -> dict[str, Any]:
    """Run ``data`` (a dlt source or resource) into a local Delta table ``bronze/<table>``."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=str(work / "dlt"),
        destination=dlt.destinations.filesystem(bucket_url=(work / "lake").as_uri()),
        dataset_name="bronze",
        progress=None,
    )
    pipeline.run(data, table_format="delta")
    return {"output": str(work / "lake" / "bronze" / table)}


def delta_digest(path: str | Path, columns: list[str]) -> dict[str, object]:
    """Rows, bytes and an order-free hash of ``columns`` (SQL expressions) of a Delta table.

    Each row's columns are joined as text and hashed by DuckDB; the sum of the row hashes is
    the same for the same rows in any order, files or row groups, and is computed streaming.
    A plain Parquet file (an arm that keeps no table) is hashed the same way.
    """
    import duckdb
    from deltalake import DeltaTable

    if Path(path).is_file():
        files = [str(path)]
    else:
        files = DeltaTable(str(path)).file_uris()
    size = sum(Path(f.removeprefix("file://")).stat().st_size for f in files)
    text = ", ".join(f"coalesce(CAST({c} AS VARCHAR), chr(0))" for c in columns)
    with duckdb.connect() as db:
        rows, total = db.execute(
            f"SELECT count(*), coalesce(sum(hash(concat_ws(chr(31), {text}))), 0) "
            "FROM read_parquet(?, union_by_name = true)",
            [files],
        ).fetchone()  # type: ignore[misc]
    return {"rows": rows, "bytes": size, "content": f"{int(total) % 2**64:016x}"}
