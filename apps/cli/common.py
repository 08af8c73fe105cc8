"""What every ``govlake`` subcommand shares: consoles, ``--conf``, errors, who is logged in.

Errors a user can fix (configuration, input, unreachable sources, a refusal) print as one clear
line on stderr and exit with status 1; nothing is written when a run cannot start. Any other
failure is one line too, naming its type, with ``govlake --debug`` (or ``GOVLAKE_DEBUG=1``)
showing its traceback. A command that acts for someone builds its runtime with
:func:`signed_in`, from the saved token.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from apps.cli import token_file
from govlake.config.issues import ConfError
from govlake.errors import GovlakeError
from govlake.runtime import Runtime
from services.identity.authentication import verify

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])
DEBUG = "GOVLAKE_DEBUG"
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
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debugging():
                raise
            err.print(f"[red]error[/red]: {one_line(exc)} (govlake --debug "
                      f"{command.__name__.replace('_', '-')} shows where)", markup=True,
                      highlight=False)  # fmt: skip
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def one_line(exc: Exception) -> str:
    """A failure as one line: a GovlakeError's message, else its type and first line.

    With ``--debug`` the traceback goes to stderr first.
    """
    if debugging():
        traceback.print_exception(exc)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return first if isinstance(exc, GovlakeError) else f"{type(exc).__name__}: {first}"


def debugging() -> bool:
    """Whether ``--debug`` (or ``GOVLAKE_DEBUG=1``) asks for tracebacks."""
    return os.environ.get(DEBUG, "") not in ("", "0")


def runtime(conf: Path | None) -> Runtime:
    """The command's runtime: the conf folder ``conf`` validated, storage opened on first use."""
    return Runtime.load(conf)


def signed_in(conf: Path | None) -> Runtime:
    """The command's runtime acting as the logged-in user: the saved token, verified now."""
    rt = runtime(conf)
    return rt.acting_as(verify(rt, token_file.load()))


def password_input(from_stdin: bool, prompt: str, *, confirm: bool = False) -> str:
    """A password from the first line of stdin, or typed at a hidden prompt; never echoed."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
