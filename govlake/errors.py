"""Errors that the command line reports as one clear line instead of a traceback."""


class GovlakeError(Exception):
    """A user-facing failure: bad configuration, bad input, an unreachable source."""


class UnknownDatasetError(GovlakeError):
    """A dataset reference that is not declared in conf/ or not yet in the lakehouse."""
