"""``govlake admin init``, ``login``, ``logout`` and ``whoami``: who is using the platform.

``login`` keeps the token in ``$XDG_CONFIG_HOME/govlake/token`` (mode 0600) for the commands
that follow; passwords come from a hidden prompt or ``--password-stdin``, never from an
argument, and are never printed.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from apps.cli import token_file
from apps.cli.common import ConfOption, out, password_input, reports_errors, runtime, signed_in
from govlake.errors import GovlakeError
from services.identity import authentication, user_admin
from services.identity.organisations import OrgTree
from services.identity.policy import acting
from services.identity.tokens import TokenRejected
from services.identity.user_admin import NewAccount

ADMIN_PASSWORD = "GOVLAKE_ADMIN_PASSWORD"
admin_app = typer.Typer(help="Set up the platform's administration.", no_args_is_help=True)
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


@admin_app.command("init")
@reports_errors
def admin_init(
    username: Annotated[str, typer.Option(help="The administrator's username.")] = "admin",
    name: Annotated[str | None, typer.Option(help="Display name (default: the username).")] = None,
    organisation: Annotated[
        str | None,
        typer.Option("--org", help="Their organisation (default: the platform department)."),
    ] = None,
    conf: ConfOption = None,
) -> None:
    """Create the first platform administrator; refused once one exists.

    The password comes from $GOVLAKE_ADMIN_PASSWORD, else from a hidden prompt; there is none
    by default.
    """
    rt = runtime(conf)
    if user_admin.bootstrapped(rt):
        raise GovlakeError(user_admin.ALREADY_BOOTSTRAPPED)
    org = organisation or rt.config.catalog.platform_department
    password = os.environ.get(ADMIN_PASSWORD) or password_input(
        False, f"Password for {username}", confirm=True
    )
    admin = user_admin.bootstrap(rt, NewAccount(username, name or username, org, password=password))
    out.print(f"{admin}: platform administrator ({org}); next: govlake login {admin}")


@admin_app.command("services")
@reports_errors
def admin_services(conf: ConfOption = None) -> None:
    """Create the service principals DAG tasks act as, with the roles conf implies.

    One per pipeline (``pipeline.<name>``: ``data_engineer`` over the owners of what it builds)
    and per exchange node (``node.<name>``: ``exchange_operator`` of its department); roles
    conf no longer implies are taken. Run it as a platform administrator after changing conf.
    """
    from services.identity.service_accounts import sync

    for done in sync(signed_in(conf)):
        changes = [f"+{r}" for r in done.assigned] + [f"-{r}" for r in done.revoked]
        state = "created" if done.created else ("updated" if changes else "up to date")
        out.print(f"{done.username}: {state}{' ' + ' '.join(changes) if changes else ''}")


@reports_errors
def login(
    username: Annotated[str | None, typer.Argument(help="Default: asked for.")] = None,
    password_stdin: PasswordStdin = False,
    conf: ConfOption = None,
) -> None:
    """Log in with username and password; the token is kept for the next commands."""
    rt = runtime(conf)
    name = username or str(typer.prompt("Username"))
    session = authentication.login(rt, name, password_input(password_stdin, "Password"))
    path = token_file.save(session.token)
    out.print(
        f"logged in as {session.principal} until {session.expires_at:%Y-%m-%d %H:%M} UTC "
        f"(token in {path})"
    )


@reports_errors
def logout(conf: ConfOption = None) -> None:
    """Log out: every token of the user is revoked and the saved one removed."""
    rt = runtime(conf)
    try:
        principal = authentication.verify(rt, token_file.load())
    except TokenRejected as exc:
        token_file.remove()
        out.print(f"the saved token was removed ({exc})")
        return
    authentication.logout(rt, principal)
    token_file.remove()
    out.print(f"{principal} logged out: every token issued to them is refused from now on")


@reports_errors
def whoami(conf: ConfOption = None) -> None:
    """Who is logged in: username, organisation and roles."""
    rt = signed_in(conf)
    principal = acting(rt)
    organisation = OrgTree.of(rt.config).node(principal.organisation)
    roles = ", ".join(sorted(str(r) for r in principal.roles)) or "none"
    out.print(
        f"{principal} ({principal.kind}) of {organisation.name} ({organisation.code}); "
        f"roles: {roles}",
        highlight=False,
    )
