"""The scenario's subjects, one folder each: everything particular to one kind of data.

A subject holds its transforms (named by ``transform:`` in ``conf/datasets``), its pandera
contracts (``contract:``), its hand-written spider (``spider:``) and the seeded generator that
plays its department's system in the demo and the tests. Its Great Expectations suites are the
``expectations/<zone>__<table>.json`` files of its datasets. The generic engine in ``jobs/``
holds no subject code; a subject uses the engine's contracts and rules (``jobs.transform``,
``jobs.standardise``) and nothing above it.
"""
