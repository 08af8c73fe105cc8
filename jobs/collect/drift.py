"""Schema drift between a source and its bronze table, handled by the source's policy.

``evolve`` lets new columns in (the table gains them; older rows read them as null) and lets
columns go missing (new rows hold null). ``fail`` refuses both. A column whose type changed is
always refused: the message names the column, the table's type and the source's.
"""

from __future__ import annotations

import pyarrow as pa

from govlake.config.models import DriftPolicy
from govlake.errors import GovlakeError
from govlake.lakehouse import LINEAGE_COLUMNS

_SAME = {
    pa.large_string(): pa.string(),
    pa.string_view(): pa.string(),
    pa.large_binary(): pa.binary(),
    pa.binary_view(): pa.binary(),
}


class SchemaDriftError(GovlakeError):
    """The source's columns no longer match the table, and the policy refuses the change."""


def _normal(kind: pa.DataType) -> pa.DataType:
    return _SAME.get(kind, kind)


def check_drift(
    table: pa.Schema | None, incoming: pa.Schema, *, policy: DriftPolicy, where: str
) -> bool:
    """Check ``incoming`` against the table's schema; return whether the table must evolve.

    Raises :class:`SchemaDriftError` naming every refused column.
    """
    if table is None:
        return False
    current = {f.name: f.type for f in table if f.name not in LINEAGE_COLUMNS}
    arriving = {f.name: f.type for f in incoming if f.name not in LINEAGE_COLUMNS}
    changed = [
        f"column {name!r} changed type from {current[name]} to {kind}"
        for name, kind in arriving.items()
        if name in current and _normal(current[name]) != _normal(kind)
    ]
    added = [f"column {n!r} ({arriving[n]}) is new" for n in arriving if n not in current]
    gone = [f"column {n!r} is gone" for n in current if n not in arriving]
    refused = changed + (added + gone if policy == "fail" else [])
    if refused:
        advice = "" if changed else " (set schema_drift: evolve on the source to accept)"
        raise SchemaDriftError(f"{where}: schema drift: {'; '.join(refused)}{advice}")
    return bool(added or gone)
