"""Load ``conf/`` into a validated :class:`ProjectConfig`, or fail listing every problem.

Problems are reported as ``file:line: field.path: message``: each file is read with the line of
every value and validated with its model (:mod:`govlake.config.entries`), then the files are
checked against each other (:mod:`govlake.config.checks`) with the dataset graph
(:mod:`govlake.config.graph`) computed from the valid entries. Strings may use ``${VAR}`` or
``${VAR:-default}``; ``GOVLAKE_HOME`` defaults to ``.govlake`` beside the conf folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from govlake.config.checks import cross_check
from govlake.config.entries import read_entries
from govlake.config.graph import DatasetGraph
from govlake.config.issues import ConfError, ConfIssue
from govlake.config.project import ProjectConfig
from govlake.config.references import reference_issues


def default_conf_dir() -> Path:
    """``$GOVLAKE_CONF``, else ``./conf``."""
    return Path(os.environ.get("GOVLAKE_CONF", "conf")).resolve()


def load_config(conf_dir: str | Path | None = None) -> ProjectConfig:
    """Load and validate the configuration folder; raise :class:`ConfError` on any problem."""
    conf = Path(conf_dir).resolve() if conf_dir else default_conf_dir()
    if not conf.is_dir():
        raise ConfError([ConfIssue(conf, None, "", "configuration folder not found")])
    home = Path(os.environ.get("GOVLAKE_HOME") or conf.parent / ".govlake").resolve()
    entries = read_entries(conf, {**os.environ, "GOVLAKE_HOME": str(home)})
    graph = DatasetGraph.of(entries.datasets, entries.pipelines)
    expectations = Path(
        os.environ.get("GOVLAKE_EXPECTATIONS") or conf.parent / "expectations"
    ).resolve()
    issues = [
        *entries.issues,
        *cross_check(entries, graph),
        *reference_issues(entries, expectations),
    ]
    if issues:
        raise ConfError(issues)
    assert entries.lakehouse is not None  # else an issue says why
    assert entries.catalog is not None
    return ProjectConfig(
        conf_dir=conf,
        home=home,
        expectations_dir=expectations,
        lakehouse=entries.lakehouse,
        engine=entries.engine,
        departments=entries.departments,
        sources=entries.sources,
        datasets=entries.datasets,
        pipelines=entries.pipelines,
        graph=graph,
        platform=entries.platform,
        nodes=entries.nodes,
        subscriptions=entries.subscriptions,
        catalog=entries.catalog,
        organisations=entries.organisations,
    )
