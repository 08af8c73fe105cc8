"""Health check of the exchange nodes: can each endpoint be reached and written to?"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from govlake.config.exchange import FileEndpoint
from govlake.config.project import ProjectConfig
from govlake.connections import database_url
from govlake.errors import GovlakeError
from jobs.exchange.targets import open_delivery_folder


@dataclass(frozen=True)
class EndpointHealth:
    """One endpoint's answer."""

    node: str
    endpoint: str
    ok: bool
    detail: str


def check(config: ProjectConfig, node: str | None = None) -> list[EndpointHealth]:
    """Connect to every endpoint (of ``node`` only, if given): folder present, database up."""
    found = []
    for current in [config.node(node)] if node else list(config.nodes.values()):
        for point in current.endpoints:
            try:
                if isinstance(point, FileEndpoint):
                    with open_delivery_folder(point, f"node {current.name}") as folder:
                        detail = f"folder {folder.where} reachable"
                else:
                    engine = sa.create_engine(database_url(point.conn_id, point.default_url))
                    try:
                        with engine.connect() as db:
                            db.execute(sa.text("SELECT 1"))
                        detail = f"{engine.url.render_as_string(hide_password=True)} answers"
                    finally:
                        engine.dispose()
                found.append(EndpointHealth(current.name, point.name, True, detail))
            except (GovlakeError, sa.exc.SQLAlchemyError) as exc:
                reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                found.append(EndpointHealth(current.name, point.name, False, reason))
    return found
