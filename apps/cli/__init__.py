"""The ``govlake`` command (:mod:`apps.cli.main`) and its subcommand groups, one module each."""
