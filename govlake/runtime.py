"""The runtime context: the resources one task or command works with, built once.

A :class:`Runtime` holds the validated configuration and opens the lakehouse and the platform
database on first use, once. Entry points (a DAG task, a CLI command, a test) build one and pass
it down; nothing below them loads conf or opens storage again. Once the entry point knows who
acts, :meth:`Runtime.acting_as` gives the same resources with that principal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from govlake.config.loader import load_config
from govlake.config.project import ProjectConfig
from govlake.lakehouse import Lakehouse
from govlake.principal import Principal

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class Runtime:
    """Configuration, lakehouse and platform database of one unit of work, and who acts."""

    config: ProjectConfig
    principal: Principal | None = None

    @classmethod
    def load(cls, conf_dir: str | Path | None = None) -> Runtime:
        """The runtime of ``conf_dir`` (default: ``$GOVLAKE_CONF`` or ``./conf``)."""
        return cls(load_config(Path(conf_dir) if conf_dir else None))

    def acting_as(self, principal: Principal) -> Runtime:
        """The same runtime with ``principal`` acting; storage opened already is shared."""
        acting = replace(self, principal=principal)
        for opened in _OPENED_ONCE & self.__dict__.keys():
            acting.__dict__[opened] = self.__dict__[opened]
        return acting

    @cached_property
    def lake(self) -> Lakehouse:
        """The lakehouse of ``conf/lakehouse.yaml``."""
        return Lakehouse(self.config.lakehouse)

    @cached_property
    def platform_db(self) -> sa.Engine:
        """The platform database, migrated to the latest schema on first use."""
        from govlake.platform_db.database import open_platform_db

        return open_platform_db(self.config)


# The resources a Runtime opens on first use (its cached properties).
_OPENED_ONCE = frozenset({"lake", "platform_db"})
