"""Typed configuration: the models of ``conf/`` and the loader that validates it."""

from govlake.config.issues import ConfError, ConfIssue
from govlake.config.loader import load_config
from govlake.config.project import ProjectConfig

__all__ = ["ConfError", "ConfIssue", "ProjectConfig", "load_config"]
