"""``govlake users``: add, list, lock, unlock, disable, enable, passwd, roles, import-stewards.

Every command acts as the logged-in user and is allowed only where they administer the user's
organisation (``govlake login`` first); passwords come from hidden prompts or stdin.
"""

from __future__ import annotations

from typing import Annotated

import typer

from apps.cli import token_file
from apps.cli.common import ConfOption, out, password_input, reports_errors, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from services.identity import authentication, delegation, stewards, user_admin
from services.identity.policy import acting
from services.identity.user_admin import NewAccount

users_app = typer.Typer(help="Users and service principals, and their roles.", no_args_is_help=True)
Username = Annotated[str, typer.Argument(help="The user's username.")]
Scope = Annotated[
    str | None,
    typer.Option("--scope", help="Organisation the role is held over (default: the user's)."),
]


@users_app.command("add")
@reports_errors
def add(
    username: Username,
    organisation: Annotated[str, typer.Option("--org", help="The user's organisation.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the username).")] = None,
    service: Annotated[
        bool, typer.Option("--service", help="A service principal (DAG task, exchange node).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the first password from stdin.")
    ] = False,
    conf: ConfOption = None,
) -> None:
    """Add a user with a first password (a service principal has none)."""
    rt = signed_in(conf)
    password = None if service else password_input(password_stdin, "First password", confirm=True)
    new = NewAccount(username, name or username, organisation, "service" if service else "user",
                     password)  # fmt: skip
    account = user_admin.add_user(rt, new)
    out.print(f"{account.username}: {account.kind} of {account.organisation} added")


@users_app.command("list")
@reports_errors
def list_users(
    organisation: Annotated[str | None, typer.Option("--org", help="One organisation.")] = None,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """Users of the organisations the logged-in user administers."""
    rt = signed_in(conf)
    columns = ("username", "name", "kind", "organisation", "status", "failures", "password set")
    listing = Listing("users", columns, right=frozenset({"failures"}))
    for a in user_admin.users(rt, organisation):
        listing.add(a.username, a.display_name, a.kind, a.organisation, a.status,
                    a.failed_attempts, a.password_changed_at)  # fmt: skip
    emit(listing, fmt)


def _change(username: str, change: str, conf: ConfOption) -> None:
    account = user_admin.change_status(signed_in(conf), username, change)
    out.print(f"{account.username}: {account.status}")


@users_app.command("lock")
@reports_errors
def lock(username: Username, conf: ConfOption = None) -> None:
    """Lock a user until unlocked; their tokens are revoked."""
    _change(username, "lock", conf)


@users_app.command("unlock")
@reports_errors
def unlock(username: Username, conf: ConfOption = None) -> None:
    """Unlock a locked user (locked by an administrator or after failed logins)."""
    _change(username, "unlock", conf)


@users_app.command("disable")
@reports_errors
def disable(username: Username, conf: ConfOption = None) -> None:
    """Disable a user: no login, no token, until enabled."""
    _change(username, "disable", conf)


@users_app.command("enable")
@reports_errors
def enable(username: Username, conf: ConfOption = None) -> None:
    """Enable a disabled user."""
    _change(username, "enable", conf)


@users_app.command("passwd")
@reports_errors
def passwd(
    username: Annotated[
        str | None, typer.Argument(help="Another user (default: yourself).")
    ] = None,
    conf: ConfOption = None,
) -> None:
    """Change your password (the current one is asked), or set another user's as their admin."""
    rt = signed_in(conf)
    me = acting(rt)
    if username is None or username == me.username:
        current = password_input(False, "Current password")
        new = password_input(False, "New password", confirm=True)
        authentication.change_password(rt, me, current, new)
        token_file.remove()
        out.print(f"{me}: password changed; every token was revoked, log in again")
        return
    user_admin.reset_password(rt, username, password_input(False, "New password", confirm=True))
    out.print(f"{username}: password set; their tokens were revoked")


@users_app.command("grant-role")
@reports_errors
def grant_role(
    username: Username,
    role: Annotated[str, typer.Argument(help="The role.")],
    scope: Scope = None,
    conf: ConfOption = None,
) -> None:
    """Give a user a role over an organisation (and its subtree)."""
    held = delegation.assign_role(signed_in(conf), username, role, scope)
    out.print(f"{username}: holds {held}")


@users_app.command("revoke-role")
@reports_errors
def revoke_role(
    username: Username,
    role: Annotated[str, typer.Argument(help="The role.")],
    scope: Scope = None,
    conf: ConfOption = None,
) -> None:
    """Take a role over an organisation from a user."""
    held = delegation.revoke_role(signed_in(conf), username, role, scope)
    out.print(f"{username}: no longer holds {held}")


@users_app.command("import-stewards")
@reports_errors
def import_stewards(conf: ConfOption = None) -> None:
    """Give the stewards listed in departments.yaml data_steward over their department."""
    for done in stewards.import_stewards(signed_in(conf)):
        out.print(f"{done.username} ({done.department}): {done.outcome}", highlight=False)
