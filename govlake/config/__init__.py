"""Typed configuration of ``conf/``, one concern per module.

- :mod:`~govlake.config.models`, :mod:`~govlake.config.exchange`, :mod:`~govlake.config.catalog`:
  the pydantic models of the files;
- :mod:`~govlake.config.project`: :class:`ProjectConfig`, the validated whole, and its lookups;
- :mod:`~govlake.config.graph`: the dataset graph (who builds what, producer-first order, lineage);
- :mod:`~govlake.config.loader`: ``load_config``, which reads the YAML with positions
  (:mod:`~govlake.config.yaml_source`), validates each file (:mod:`~govlake.config.entries`) and
  checks across files (:mod:`~govlake.config.checks`), reporting every problem as
  :class:`~govlake.config.issues.ConfIssue`.

Consumers of the runtime model import :mod:`~govlake.config.project` and never load the parser.
"""
