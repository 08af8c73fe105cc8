"""What one delivery may carry: the terms the entry point found for it, as plain values.

The engine knows no grants: the entry point looks up the grant in force for the receiving
department and passes its terms down: the columns to send, a row filter over the dataset's
columns (parsed by :mod:`govlake.row_filter`, never pasted), how each sensitive column is
masked (:mod:`jobs.masking`), and the grant's id for the ledger and the manifest. A delivery
the entry point refused carries only the reason, and the exchange records it as refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs.masking import MaskKind


@dataclass(frozen=True)
class DeliveryTerms:
    """The columns, rows and masks a delivery may send; or why it may send nothing.

    ``columns`` ``None`` sends the subscription's own columns (every one when it names none):
    a flow to a node of the dataset's owning department, which needs no grant to read its own
    data.
    """

    grant: int | None = None
    columns: tuple[str, ...] | None = None
    row_filter: str | None = None
    masks: Mapping[str, MaskKind] = field(default_factory=dict)
    refused: str | None = None
    """Why nothing may be delivered (no grant in force, say); ``None``: it may."""
