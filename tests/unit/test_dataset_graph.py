"""The dataset graph: build order, what an on_update DAG waits on, lineage, and cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.config.loader import load_config
from govlake.config.project import ProjectConfig
from govlake.errors import GovlakeError

pytestmark = pytest.mark.unit

PROFILE = "gold.enterprise_credit_profile"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_pipelines_come_after_the_pipelines_they_read(full_conf_dir: Path) -> None:
    config = load_config(full_conf_dir)
    order = config.graph.pipeline_order()
    assert sorted(order) == sorted(config.pipelines)
    for name in order:
        for ref in config.graph.external_inputs(name):
            assert order.index(config.graph.builder(ref)) < order.index(name), (name, ref)
    assert order == [p.name for p in config.pipeline_order()]
    assert order[-1] == "credit_profile_publish"


def test_external_inputs_are_the_datasets_other_pipelines_build(full_conf_dir: Path) -> None:
    graph = load_config(full_conf_dir).graph
    assert graph.external_inputs("credit_profile_publish") == [
        "silver.enterprise_registry",
        "silver.penalty_notices",
        "silver.social_insurance_payments",
    ]
    # silver.enterprise_registry feeds gold.enterprise_directory inside the same pipeline.
    assert graph.external_inputs("enterprise_registry_refine") == ["bronze.enterprise_registry"]
    assert graph.external_inputs("market_registry_ingest") == []


def test_ancestors_and_descendants_nearest_first(full_conf_dir: Path) -> None:
    graph = load_config(full_conf_dir).graph
    assert graph.ancestors(PROFILE) == [
        "silver.enterprise_registry",
        "silver.social_insurance_payments",
        "silver.penalty_notices",
        "bronze.enterprise_registry",
        "bronze.social_insurance_payments",
        "bronze.penalty_notices",
    ]
    assert graph.descendants(PROFILE) == []
    assert graph.descendants("bronze.enterprise_registry") == [
        "silver.enterprise_registry",
        PROFILE,
        "gold.enterprise_directory",
    ]
    assert graph.ancestors("bronze.enterprise_registry") == []
    assert graph.builder(PROFILE) == "credit_profile_publish"


def test_registry_conf_graph(project: ProjectConfig) -> None:
    assert project.graph.pipeline_order() == [
        "market_registry_ingest",
        "enterprise_registry_refine",
    ]
    assert project.graph.descendants("silver.enterprise_registry") == ["gold.enterprise_directory"]


def test_a_cycle_between_pipelines_names_them(full_conf_dir: Path) -> None:
    _edit(
        full_conf_dir / "datasets" / "penalty_notices.yaml",
        "inputs: [bronze.penalty_notices]",
        f"inputs: [bronze.penalty_notices, {PROFILE}]",
    )
    config = load_config(full_conf_dir)  # each pipeline on its own is valid
    with pytest.raises(GovlakeError) as caught:
        config.pipeline_order()
    assert str(caught.value) == (
        "pipelines depend on each other in a cycle: credit_profile_publish, penalty_notices_refine"
    )
    assert PROFILE in config.graph.ancestors(PROFILE)
