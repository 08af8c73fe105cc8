"""The transform contract: what a silver or gold dataset's ``transform: module:function`` is.

A transform takes ``{input ref: pyarrow.Table}`` and returns :class:`Derived`: the rows to
write and the rows it rejects (with a ``_reason`` column). The engine runs it in the task
(``engine: arrow``) or on Spark executors (``engine: spark``), with the same result.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from govlake.errors import GovlakeError


@dataclass(frozen=True)
class Derived:
    """A transform's output: rows to write, and rejected rows with a ``_reason`` column."""

    rows: pa.Table
    rejects: pa.Table | None = None


Transform = Callable[[dict[str, pa.Table]], Derived]


def load_transform(path: str) -> Transform:
    """Import ``module:function``."""
    module_name, _, attribute = path.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise GovlakeError(f"transform {path!r} cannot be loaded: {exc}") from None
    if not callable(function):
        raise GovlakeError(f"transform {path!r} is not callable")
    return function
