"""What every ``govlake`` subcommand shares: the consoles, the ``--conf`` option, error reporting.

Errors a user can fix (configuration, input, unreachable sources) print as one clear line on
stderr and exit with status 1; nothing is written when a run cannot start.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from govlake.config.issues import ConfError
from govlake.errors import GovlakeError
from govlake.runtime import Runtime

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])
ConfOption = Annotated[
    Path | None,
    typer.Option("--conf", help="Configuration folder (default: $GOVLAKE_CONF or ./conf)."),
]


def reports_errors(command: F) -> F:
    """Turn a GovlakeError into a one-line message and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfError as exc:
            for issue in exc.issues:
                err.print(f"[red]error[/red]: {issue}", markup=True, highlight=False)
            err.print(f"{len(exc.issues)} configuration problem(s); nothing was run.")
            raise typer.Exit(1) from None
        except GovlakeError as exc:
            err.print(f"[red]error[/red]: {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def runtime(conf: Path | None) -> Runtime:
    """The command's runtime: the conf folder ``conf`` validated, storage opened on first use."""
    return Runtime.load(conf)
