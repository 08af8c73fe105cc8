"""One SparkSession per process, built from ``conf/engine.yaml``, with the govdelta source."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

from pyspark.sql import SparkSession

from govlake.config.models import SparkConfig
from govlake.errors import GovlakeError

_SESSIONS: dict[str, SparkSession] = {}


def spark_session(config: SparkConfig) -> SparkSession:
    """Start (once per master) the session described by ``config`` and register ``govdelta``."""
    if config.master in _SESSIONS:
        return _SESSIONS[config.master]
    _check_reachable(config.master)
    if _SESSIONS:
        raise GovlakeError(
            f"Spark master {config.master}: this process already drives {next(iter(_SESSIONS))};"
            " one process has one Spark driver"
        )
    # Executors must run this interpreter, which has pyarrow, deltalake and govlake.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(config.master)
        .appName("govlake")
        .config("spark.sql.shuffle.partitions", str(config.shuffle_partitions))
        .config("spark.driver.memory", config.driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")  # task logs, not a terminal
        .config("spark.sql.python.filterPushdown.enabled", "true")
        .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
    )
    for key, value in config.options.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise GovlakeError(f"Spark master {config.master} cannot be reached: {exc}") from None
    from jobs.spark.delta_source import GovDeltaDataSource

    spark.dataSource.register(GovDeltaDataSource)
    _SESSIONS[config.master] = spark
    return spark


def _check_reachable(master: str, timeout: float = 5.0) -> None:
    """Fail fast on a standalone master that does not answer (Spark itself retries for a minute)."""
    if not master.startswith("spark://"):
        return
    for address in master.removeprefix("spark://").split(","):  # masters in HA
        parts = urlsplit(f"//{address}")
        try:
            with socket.create_connection((parts.hostname or "", parts.port or 7077), timeout):
                return
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
    raise GovlakeError(f"Spark master {master} cannot be reached: {reason}")


def stop_sessions() -> None:
    """Stop every session this process started (the JVM goes with the last one)."""
    while _SESSIONS:
        _SESSIONS.popitem()[1].stop()
