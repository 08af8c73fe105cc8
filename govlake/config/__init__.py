"""Typed configuration: the models of ``conf/`` and the loader that validates it."""

from govlake.config.loader import ConfError, ConfIssue, ProjectConfig, load_config

__all__ = ["ConfError", "ConfIssue", "ProjectConfig", "load_config"]
