"""Validation of a 1M-row silver table: govlake's quality step, hand-written checks, pandera.

Arms, on the same silver rows (with known defects) read from one Parquet file:
- ``govlake``: the quality gate of a silver write (``jobs.quality.gate.decide``): the dataset's
  Great Expectations suite, Data Docs, and the split of failing rows into the quarantine;
- ``vectorised``: the same expectations written by hand with Arrow compute and NumPy;
- ``pandera``: the same expectations as a pandera schema, validated lazily (every failure);
- ``write``: the silver write the validation guards (a Delta merge on the key), for the share.
Each validating arm reports, per expectation, how many rows failed it (tables: 1 if it failed);
their hash must agree.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import registry_conf
from bench.harness import serve_arm

ARMS = ["govlake", "vectorised", "pandera", "write"]
REFERENCE = "govlake"
IMPORTS = {
    "govlake": ["govlake.config", "jobs.quality.gate", "great_expectations",
                "jobs.quality.custom_expectations"],
    "vectorised": ["jobs.identifiers"],
    "pandera": ["pandas", "pandera.pandas", "jobs.identifiers"],
    "write": ["govlake.lakehouse"],
}  # fmt: skip
SUITE = Path(__file__).resolve().parent.parent / "expectations"
SILVER = "silver.enterprise_registry"
STATUSES = ["active", "cancelled", "revoked", "moved_out"]
USCC_FORM = "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
CAPITAL_RANGE = (0, 1_000_000_000_000)
MAX_ROW_DROP = 0.5
EXPECTATIONS = [  # what every validating arm reports, in the suite's order
    "not_null(uscc)", "unique(uscc)", "regex(uscc)", "valid_uscc(uscc)", "not_null(name)",
    "in_set(status)", "between(registered_capital_yuan)", "row_count", "max(updated_at)",
]  # fmt: skip


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return f"Validation of the silver enterprise registry, {params['rows']:,} rows"


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The silver rows in a Parquet file every arm reads."""
    from bench.data import silver_registry

    with tempfile.TemporaryDirectory(prefix="govlake-bench-silver-") as folder:
        path = Path(folder) / "silver.parquet"
        pq.write_table(silver_registry(params["rows"]), path)
        yield {**params, "parquet": str(path)}


def _result(rows: int, failures: dict[str, int]) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(sorted(failures.items())).encode()).hexdigest()[:16]
    return {"rows": rows, "failures": failures, "content": digest}


def _fresh_since() -> datetime:
    return datetime.now() - timedelta(hours=48)  # noqa: DTZ005 (naive, as the column)


def arm_govlake(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The quality step of a silver write, as ``jobs.derive`` runs it before committing."""
    import os

    os.environ["GOVLAKE_EXPECTATIONS"] = str(SUITE)
    os.environ["GOVLAKE_HOME"] = str(work / "home")
    from govlake.config.loader import load_config
    from govlake.runtime import Runtime
    from jobs.derive import validated

    config = load_config(registry_conf(work, max_row_drop=MAX_ROW_DROP))
    table = pq.read_table(params["parquet"])
    decision = validated(
        Runtime(config),
        config.dataset(SILVER),
        table,
        input_rows=table.num_rows,
        pipeline="bench",
        run_id="bench",
    )
    assert decision.validation is not None
    failures = {}
    for outcome in decision.validation.outcomes:
        name = _NAMES[outcome.expectation]
        key = f"{name}({outcome.column})" if outcome.column else name
        failures[key] = outcome.unexpected_count if outcome.row_level else int(not outcome.success)
    quarantined = decision.rejects.num_rows if decision.rejects is not None else 0
    return {**_result(table.num_rows, failures), "quarantined": quarantined}


_NAMES = {
    "expect_column_values_to_not_be_null": "not_null",
    "expect_column_values_to_be_unique": "unique",
    "expect_column_values_to_match_regex": "regex",
    "expect_column_values_to_be_valid_uscc": "valid_uscc",
    "expect_column_values_to_be_in_set": "in_set",
    "expect_column_values_to_be_between": "between",
    "expect_table_row_count_to_be_between": "row_count",
    "expect_column_max_to_be_between": "max",
}


def arm_vectorised(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The suite's expectations by hand: Arrow compute kernels and NumPy."""
    import pyarrow.compute as pc

    from jobs.identifiers import uscc_valid

    table = pq.read_table(params["parquet"])
    uscc = table.column("uscc")
    present = pc.drop_null(uscc)
    counts = pc.value_counts(present)
    repeated = pc.greater(counts.field("counts"), 1)
    capital = pc.drop_null(table.column("registered_capital_yuan"))
    low, high = CAPITAL_RANGE
    latest = pc.max(table.column("updated_at")).as_py()
    failures = {
        "not_null(uscc)": uscc.null_count,
        "unique(uscc)": pc.sum(pc.filter(counts.field("counts"), repeated)).as_py() or 0,
        "regex(uscc)": pc.sum(pc.invert(pc.match_substring_regex(present, USCC_FORM))).as_py(),
        "valid_uscc(uscc)": int((~uscc_valid(present)).sum()),
        "not_null(name)": table.column("name").null_count,
        "in_set(status)": pc.sum(
            pc.invert(pc.is_in(pc.drop_null(table.column("status")), pa.array(STATUSES)))
        ).as_py(),
        "between(registered_capital_yuan)": pc.sum(
            pc.or_(pc.less(capital, low), pc.greater(capital, high))
        ).as_py(),
        "row_count": int(table.num_rows < table.num_rows * (1 - MAX_ROW_DROP)),
        "max(updated_at)": int(latest is None or latest < _fresh_since()),
    }
    return _result(table.num_rows, failures)


def arm_pandera(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The suite's expectations as a pandera schema on pandas, every failure collected."""
    import pandas as pd
    import pandera.pandas as pda

    from jobs.identifiers import uscc_valid

    frame = pq.read_table(params["parquet"]).to_pandas()
    low, high = CAPITAL_RANGE
    rows = len(frame)
    schema = pda.DataFrameSchema(
        {
            "uscc": pda.Column(
                str,
                nullable=False,
                unique=True,
                checks=[
                    pda.Check.str_matches(USCC_FORM, name="regex"),
                    pda.Check(
                        lambda s: pd.Series(uscc_valid(pa.array(s, pa.string())), index=s.index),
                        name="valid_uscc",
                    ),
                ],
            ),
            "name": pda.Column(str, nullable=False),
            "status": pda.Column(str, pda.Check.isin(STATUSES, name="in_set"), nullable=True),
            "registered_capital_yuan": pda.Column(
                checks=pda.Check.in_range(low, high, name="between"), nullable=True
            ),
        },
        checks=[
            pda.Check(lambda df: len(df) >= rows * (1 - MAX_ROW_DROP), name="row_count"),
            pda.Check(lambda df: df["updated_at"].max() >= _fresh_since(), name="max"),
        ],
    )
    failures = dict.fromkeys(EXPECTATIONS, 0)
    try:
        schema.validate(frame, lazy=True)
    except pda.errors.SchemaErrors as errors:
        for (column, name), count in (
            errors.failure_cases.groupby(["column", "check"], dropna=False).size().items()
        ):
            failures[_pandera_key(str(column), str(name))] += int(count)
    return _result(rows, failures)


def _pandera_key(column: str, check_name: str) -> str:
    if check_name in _PANDERA_TABLE_CHECKS:
        return _PANDERA_TABLE_CHECKS[check_name]
    name = check_name.partition("(")[0]  # built-in checks carry their arguments
    return f"{_PANDERA_NAMES.get(name, name)}({column})"


_PANDERA_TABLE_CHECKS = {"row_count": "row_count", "max": "max(updated_at)"}
_PANDERA_NAMES = {
    "not_nullable": "not_null", "field_uniqueness": "unique", "str_matches": "regex",
    "isin": "in_set", "in_range": "between",
}  # fmt: skip


def arm_write(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The silver write the validation guards: a Delta merge on the key, latest row wins."""
    from govlake.config.models import LakehouseConfig
    from govlake.lakehouse import Commit, Lakehouse

    table = pq.read_table(params["parquet"])
    lake = Lakehouse(LakehouseConfig(root=str(work / "lake")))
    written = lake.write(
        SILVER,
        table,
        Commit("bench", "bench", "bench", "bench"),
        mode="merge",
        keys=["uscc"],
        update_condition='s."updated_at" >= t."updated_at"',
    )
    return {"rows": written.rows}


if __name__ == "__main__":
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, IMPORTS)
