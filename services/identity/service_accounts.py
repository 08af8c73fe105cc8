"""The service principals DAG tasks act as: one per pipeline, one per exchange node.

A pipeline's tasks act as ``pipeline.<name>``, a service of the platform department holding
``data_engineer`` over each department that owns a dataset the pipeline builds (the
maintenance DAG is the pipeline ``lakehouse_maintenance``, over every owner). An exchange
DAG acts as ``node.<name>``, a service of the node's department holding ``exchange_operator``
over it. The message worker's DAG acts as ``notify.worker``, a ``messenger`` of the platform
department. A service has no password and cannot log in: a task is the service because it runs
inside the deployment, which holds the platform DB's credentials. What it may do is still the
policy's decision, so a pipeline builds its own owners' datasets only, and disabling a service
stops its DAG at the next task.

:func:`sync` makes the services and their roles what conf implies, as a platform
administrator, through the audited identity functions; :func:`acting_service` is the runtime
of a task.
"""

from __future__ import annotations

from dataclasses import dataclass

from govlake.config.project import ProjectConfig
from govlake.errors import GovlakeError
from govlake.principal import ScopedRole
from govlake.runtime import Runtime
from services.identity import accounts, delegation, trail, user_admin
from services.identity.policy import AccessDenied, acting
from services.identity.user_admin import NewAccount

MAINTENANCE = "lakehouse_maintenance"
PIPELINE_ROLE, NODE_ROLE = "data_engineer", "exchange_operator"
# The message worker's DAG acts as this service, a messenger of the platform department.
MESSENGER, MESSENGER_ROLE = "notify.worker", "messenger"


@dataclass(frozen=True)
class ServiceSpec:
    """A service principal as conf implies it: its name, organisation and roles."""

    username: str
    title: str
    organisation: str
    roles: frozenset[ScopedRole]


@dataclass(frozen=True)
class Synced:
    """What :func:`sync` did to one service: created or not, roles given and taken."""

    username: str
    created: bool
    assigned: tuple[ScopedRole, ...]
    revoked: tuple[ScopedRole, ...]


def pipeline_service(pipeline: str) -> str:
    """The username pipeline ``pipeline``'s tasks act as."""
    return f"pipeline.{pipeline}"


def node_service(node: str) -> str:
    """The username deliveries to exchange node ``node`` act as."""
    return f"node.{node}"


def expected(config: ProjectConfig) -> list[ServiceSpec]:
    """Every service principal conf implies, pipelines first."""
    platform = config.catalog.platform_department
    owners = {ref: dataset.owner for ref, dataset in config.datasets.items()}
    specs = [
        ServiceSpec(
            pipeline_service(p.name),
            f"pipeline {p.name}",
            platform,
            frozenset(ScopedRole(PIPELINE_ROLE, owners[ref]) for ref in p.builds),
        )
        for p in config.pipelines.values()
    ]
    every_owner = frozenset(ScopedRole(PIPELINE_ROLE, owner) for owner in owners.values())
    specs.append(ServiceSpec(pipeline_service(MAINTENANCE), "lakehouse maintenance", platform,
                             every_owner))  # fmt: skip
    specs += [
        ServiceSpec(
            node_service(name),
            f"exchange node {name}",
            node.department,
            frozenset({ScopedRole(NODE_ROLE, node.department)}),
        )  # fmt: skip
        for name, node in config.nodes.items()
    ]
    specs.append(ServiceSpec(MESSENGER, "message worker", platform,
                             frozenset({ScopedRole(MESSENGER_ROLE, platform)})))  # fmt: skip
    return specs


def sync(rt: Runtime) -> list[Synced]:
    """Create the missing services and give or take roles until they are what conf implies.

    Acts as the runtime's principal (a platform administrator: creating and assigning is
    policy-checked and audited); a service's other roles are taken, so it holds no more.
    """
    acting(rt)
    return [_sync(rt, spec) for spec in expected(rt.config)]


def acting_service(rt: Runtime, username: str) -> Runtime:
    """``rt`` acting as the active service ``username``; refused (and audited) otherwise."""
    trail.ready()
    with rt.platform_db.connect() as conn:
        account = accounts.find(conn, username)
        problem = _unusable(account, username)
        if problem is None and account is not None:
            return rt.acting_as(accounts.principal(conn, account))
    trail.write(rt, username, "auth.service", f"user:{username}", "refused", {"reason": problem})
    raise AccessDenied(problem)


def _unusable(account: accounts.Account | None, username: str) -> str | None:
    if account is None or account.kind != "service":
        return (
            f"service principal {username} does not exist: a platform administrator creates "
            "the pipelines' and nodes' services with govlake admin services"
        )
    if account.status != "active":
        return f"service principal {username} is {account.status}: nothing runs as it"
    return None


def _sync(rt: Runtime, spec: ServiceSpec) -> Synced:
    with rt.platform_db.connect() as conn:
        account = accounts.find(conn, spec.username)
        held = accounts.principal(conn, account).roles if account else frozenset()
    if account is not None and account.kind != "service":
        raise GovlakeError(f"{spec.username} is a user, not a service: rename the user")
    if account is None:
        new = NewAccount(spec.username, spec.title, spec.organisation, kind="service")
        user_admin.add_user(rt, new)
    assigned = sorted(spec.roles - held)
    revoked = sorted(held - spec.roles)
    for role in assigned:
        delegation.assign_role(rt, spec.username, role.role, role.scope)
    for role in revoked:
        delegation.revoke_role(rt, spec.username, role.role, role.scope)
    return Synced(spec.username, account is None, tuple(assigned), tuple(revoked))
