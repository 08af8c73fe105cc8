"""Transforms for the concurrent-run and fault tests, loaded by the command from conf."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from jobs.transform import Derived


def passthrough(inputs: dict[str, pa.Table]) -> Derived:
    """The one input's rows, unchanged."""
    [rows] = inputs.values()
    return Derived(rows)


def reject_negative(inputs: dict[str, pa.Table]) -> Derived:
    """The one input's rows; those with a negative ``amount`` rejected, with the reason."""
    [rows] = inputs.values()
    negative = pc.less(rows.column("amount"), 0)
    rejects = rows.filter(negative)
    reasons = pa.array(["amount: negative"] * rejects.num_rows, pa.string())
    return Derived(rows.filter(pc.invert(negative)), rejects.append_column("_reason", reasons))
