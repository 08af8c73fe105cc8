"""Problems found in ``conf/``, each printed as ``file:line: field.path: message``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govlake.errors import GovlakeError


@dataclass(frozen=True)
class ConfIssue:
    """One problem in the configuration, located as precisely as the YAML allows."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfError(GovlakeError):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))
