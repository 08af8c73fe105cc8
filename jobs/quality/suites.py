"""Run a Great Expectations suite file on an Arrow table and summarise the outcome.

Suites live in ``expectations/<zone>__<table>.json`` in Great Expectations' own format. An
expectation's ``meta`` may carry ``severity`` (``critical`` 3, ``major`` 2, ``minor`` 1; the
weights of the quality score) and ``on_failure: warn`` (record, never block). Values that are
known only at run time are suite parameters, resolved by :mod:`jobs.quality.parameters`.
Data Docs are written under ``<output>/data_docs/`` (``$GOVLAKE_HOME/quality``) on every run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from govlake.errors import GovlakeError

WEIGHTS = {"critical": 3, "major": 2, "minor": 1}
ADVISORY = "__advisory"  # the suffix of the suite of expectations whose miss only warns


@dataclass(frozen=True)
class Outcome:
    """One expectation's result."""

    expectation: str
    column: str | None
    success: bool
    observed: str | None
    unexpected_count: int
    unexpected_rows: list[int]
    weight: int
    blocking: bool
    row_level: bool
    passed_share: float

    @property
    def label(self) -> str:
        """``expectation(column)``, as quarantine reasons and reports name it."""
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass(frozen=True)
class Validation:
    """A suite's outcome on one table."""

    suite: str
    outcomes: list[Outcome]
    seconds: float
    docs: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """Whether every expectation passed."""
        return all(o.success for o in self.outcomes)

    @property
    def score(self) -> float:
        """Weighted share of passed expectations, 0-100.

        Weights come from each expectation's severity; a failed row-level expectation earns
        the share of rows that passed it.
        """
        total = sum(o.weight for o in self.outcomes)
        earned = sum(o.weight * o.passed_share for o in self.outcomes)
        return round(100.0 * earned / total, 2) if total else 100.0


def load_suite(path: Path) -> dict[str, Any]:
    """The suite as a dict, with a clear error for a broken file."""
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GovlakeError(f"suite {path}: cannot be read: {exc}") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise GovlakeError(f"suite {path}: expected an object with an 'expectations' list")
    return suite


def parameter_names(suite: dict[str, Any]) -> set[str]:
    """Names of the suite parameters (``{"$PARAMETER": name}``) the suite refers to."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if set(value) == {"$PARAMETER"}:
                found.add(str(value["$PARAMETER"]))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(suite["expectations"])
    return found


@cache
def _context(output: Path) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    import jobs.quality.custom_expectations  # noqa: F401  (registers the expectations)

    docs = output / "data_docs"
    docs.mkdir(parents=True, exist_ok=True)
    # Ephemeral: suites come from expectations/ on every run; only Data Docs persist.
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name="govlake",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    return context


def _datasource(context: Any) -> Any:
    try:
        return context.data_sources.get("govlake")
    except (KeyError, ValueError):
        return context.data_sources.add_pandas("govlake")


def validate(
    table: pa.Table,
    suite_path: Path,
    suite: dict[str, Any],
    parameters: dict[str, Any],
    output: Path,
    *,
    run_name: str,
) -> Validation:
    """Validate ``table`` with ``suite``, read from ``suite_path``; Data Docs go to ``output``.

    The run is listed in Data Docs as ``run_name`` (run id, table and version). Expectations
    whose miss only warns (``meta.on_failure: warn``) are validated as a second suite,
    ``<name>__advisory``, so a warning never shows as a failed validation of the suite.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.run_identifier import RunIdentifier

    started = time.perf_counter()
    name = suite_path.stem
    missing = parameter_names(suite) - set(parameters)
    if missing:
        raise GovlakeError(f"suite {suite_path}: no value for parameter(s) {sorted(missing)}")
    context = _context(output)
    source = _datasource(context)
    asset = next((a for a in source.assets if a.name == name), None) or source.add_dataframe_asset(
        name
    )
    batch = (
        asset.batch_definitions[0]
        if asset.batch_definitions
        else asset.add_batch_definition_whole_dataframe("whole")
    )
    definitions = []
    for part, expectations in _parts(name, suite["expectations"]):
        try:
            registered = context.suites.add_or_update(
                ExpectationSuite(**{**suite, "name": part, "expectations": expectations})
            )
        except Exception as exc:  # GX raises many types for a bad expectation; name the file
            raise GovlakeError(f"suite {suite_path}: {exc}") from None
        definitions.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=part, data=batch, suite=registered)
            )
        )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=definitions,
            actions=[UpdateDataDocsAction(name="data_docs")],
            # Row indices for the quarantine, not the failing values: GX 1.24 serialises each
            # value and walks the call stack for every Decimal it converts (two thirds of a
            # 1M-row validation, bench/RESULTS.md). The quarantine keeps values with reasons.
            result_format={
                "result_format": "COMPLETE",
                "exclude_unexpected_values": True,
                "return_unexpected_index_query": False,
            },
        )
    )
    frame = table.to_pandas()
    run = checkpoint.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        run_id=RunIdentifier(run_name=run_name),
    )
    outcomes = [_outcome(r) for result in run.run_results.values() for r in result.results]
    docs = output / "data_docs" / "index.html"
    return Validation(
        name, outcomes, time.perf_counter() - started, docs if docs.exists() else None, parameters
    )


def _parts(name: str, expectations: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The suite's blocking expectations under ``name``, its warning ones under the advisory."""
    warns = [e for e in expectations if (e.get("meta") or {}).get("on_failure") == "warn"]
    blocks = [e for e in expectations if e not in warns]
    parts = [(name, blocks), (name + ADVISORY, warns)]
    return [(part, chosen) for part, chosen in parts if chosen] or [(name, [])]


def _outcome(result: Any) -> Outcome:
    config = result.expectation_config
    meta = config.meta or {}
    details = result.result or {}
    rows = [
        int(i) for i in details.get("unexpected_index_list") or [] if isinstance(i, int | float)
    ]
    row_level = "unexpected_index_list" in details
    if result.success:
        share = 1.0
    elif row_level and details.get("unexpected_percent") is not None:
        share = max(0.0, 1.0 - float(details["unexpected_percent"]) / 100.0)
    else:
        share = 0.0
    observed = details.get("observed_value")
    return Outcome(
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(result.success),
        observed=None
        if observed is None
        else json.dumps(observed, default=str, ensure_ascii=False),
        unexpected_count=int(details.get("unexpected_count") or 0),
        unexpected_rows=rows,
        weight=WEIGHTS.get(str(meta.get("severity", "major")), 2),
        blocking=meta.get("on_failure") != "warn",
        row_level=row_level,
        passed_share=share,
    )
