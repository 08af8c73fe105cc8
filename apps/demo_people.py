"""The demo's keys and people: who uses the embedded default, made once, passwords shown once.

On a first run the demo generates the keys the platform needs (token signing, audit chain,
checkpoint signing, signed share URLs, token masks) into ``$GOVLAKE_HOME/demo.env`` (owner-only;
a key already in the environment is kept), then creates, as a platform administrator: a data
steward (the first ``stewards:`` entry of conf, else ``<department>.steward``) and an analyst
(``<department>.analyst``) per department, an auditor, and the service principals the DAG tasks
act as. Each person gets a generated password that is printed once and stored nowhere. After the
DAGs, the owning departments' stewards review the registered catalog entries and the platform's
steward publishes them, each logged in with their password.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from catalog.sharing.signed_urls import KEY_VARIABLE as SHARE_URL_KEY
from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.masking import KEY_VARIABLE as MASK_KEY
from services.audit.keys import CHAIN_KEY, SIGNING_KEY
from services.identity import authentication, delegation, service_accounts, user_admin
from services.identity.stewards import STEWARD
from services.identity.tokens import KEY_VARIABLE as TOKEN_KEY
from services.identity.user_admin import NewAccount

ADMIN, AUDITOR = "admin", "auditor"
# Token signing, the audit chain, checkpoint signing, signed share URLs, token masks.
DEMO_KEYS = (TOKEN_KEY, CHAIN_KEY[0], SIGNING_KEY[0], SHARE_URL_KEY, MASK_KEY)


@dataclass(frozen=True)
class Person:
    """One of the demo's users, with the password made for them (shown once)."""

    username: str
    organisation: str
    role: str
    password: str


def keys(home: Path) -> Path:
    """Put the demo's keys in the environment, kept in ``home/demo.env`` (mode 0600).

    Keys the file lacks (one made before a key was needed) are made and added to it.
    """
    path = home / "demo.env"
    stored: dict[str, str] = {}
    if path.exists():
        if path.stat().st_mode & 0o077:
            mode = stat.S_IMODE(path.stat().st_mode)
            raise GovlakeError(f"{path} is open to other users (mode {mode:04o}): refused")
        lines = path.read_text(encoding="ascii").splitlines()
        stored = dict(line.split("=", 1) for line in lines if line)
    missing = [name for name in DEMO_KEYS if name not in stored]
    if missing:
        stored |= {name: _new_key(name) for name in missing}
        home.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.writelines(f"{name}={value}\n" for name, value in stored.items())
        os.replace(partial, path)
    for name, value in stored.items():
        os.environ.setdefault(name, value)
    return path


def people(rt: Runtime) -> list[Person]:
    """Create the demo's users and services on a fresh platform; ``[]`` when set up already.

    Raises:
        GovlakeError: the platform was set up by someone else and lacks the DAGs' services.
    """
    if user_admin.bootstrapped(rt):
        _services_exist(rt)
        return []
    platform = rt.config.catalog.platform_department
    admin = Person(ADMIN, platform, "platform_admin", _password())
    user_admin.bootstrap(rt, NewAccount(ADMIN, "平台管理员", platform, password=admin.password))
    acting = rt.acting_as(authentication.login(rt, ADMIN, admin.password).principal)
    made = [admin]
    for code, department in rt.config.departments.items():
        steward = department.stewards[0] if department.stewards else f"{code}.steward"
        made += [Person(steward, code, STEWARD, _password()),
                 Person(f"{code}.analyst", code, "analyst", _password())]  # fmt: skip
    made.append(Person(AUDITOR, platform, AUDITOR, _password()))
    for person in made[1:]:
        new = NewAccount(person.username, person.username, person.organisation,
                         password=person.password)  # fmt: skip
        user_admin.add_user(acting, new)
        delegation.assign_role(acting, person.username, person.role)
    service_accounts.sync(acting)
    return made


def login(rt: Runtime, made: list[Person], role: str, organisation: str) -> Principal | None:
    """The demo's ``role`` of ``organisation``, logged in; ``None`` on a run that made nobody."""
    for person in made:
        if (person.role, person.organisation) == (role, organisation):
            return authentication.login(rt, person.username, person.password).principal
    return None


def publish_catalog(rt: Runtime, made: list[Person], progress: Callable[[str], None]) -> list[str]:
    """Review and publish the registered entries as their stewards; the codes left waiting."""
    from catalog.store import Catalog, Filters

    catalog = Catalog(rt)
    waiting = catalog.entries(Filters(status="registered"))
    platform = rt.config.catalog.platform_department
    publisher = login(rt, made, STEWARD, platform)
    left = []
    for entry in waiting:
        reviewer = login(rt, made, STEWARD, entry.definition.owner)
        if reviewer is None or publisher is None:
            left.append(entry.code)
            continue
        catalog.review(entry.code, approve=True, actor=reviewer, comment="demo", version=None)
        catalog.publish(entry.code, actor=publisher)
        progress(f"catalog: {entry.code} {entry.dataset} reviewed by {reviewer}, published by "
                 f"{publisher}")  # fmt: skip
    return left


def _services_exist(rt: Runtime) -> None:
    from services.identity.service_accounts import acting_service, expected

    for spec in expected(rt.config):
        acting_service(rt, spec.username)


def _password() -> str:
    """A generated password of the four classes, 22 characters."""
    return f"Gl-{secrets.token_urlsafe(15)}7a"


def _new_key(name: str) -> str:
    if name == SIGNING_KEY[0]:
        raw = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return base64.b64encode(raw).decode("ascii")
    return secrets.token_urlsafe(32)
