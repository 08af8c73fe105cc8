"""The collector registry: one collector per source kind of the conf, and nothing else."""

from __future__ import annotations

from typing import get_args

import pytest

from govlake.config.models import Source
from govlake.errors import GovlakeError
from jobs.collect.registry import COLLECTORS, collector

pytestmark = pytest.mark.unit


def _kinds() -> set[str]:
    models = get_args(get_args(Source)[0])
    return {kind for model in models for kind in get_args(model.model_fields["kind"].annotation)}


def test_every_source_kind_has_a_collector_that_resolves() -> None:
    assert set(COLLECTORS) == _kinds() == {"database", "files", "http_api", "crawl"}
    for kind in COLLECTORS:
        assert callable(collector(kind))


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(GovlakeError, match=r"no collector for source kind 'ldap' \(known: crawl,"):
        collector("ldap")
