"""Where a subscription's batches go: its endpoint's folder or database, named without secrets."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from connectors.folders import DropFolder, open_folder
from govlake.config.exchange import FileEndpoint, Subscription
from govlake.config.project import ProjectConfig
from govlake.connections import database_url, endpoint


def describe_target(config: ProjectConfig, sub: Subscription) -> str:
    """Where the subscription's batches go, without secrets."""
    point = config.node(sub.node).endpoint(sub.endpoint)
    if isinstance(point, FileEndpoint):
        return f"{endpoint(point.conn_id, point.default_url)}{point.folder}"
    url = database_url(point.conn_id, point.default_url)
    return f"{make_url(url).render_as_string(hide_password=True)}#{target_table(sub)}"


def target_table(sub: Subscription) -> str:
    """The table a table push fills: the subscription's ``table``, else the dataset's name."""
    return sub.table or sub.dataset.partition(".")[2]


def open_delivery_folder(point: FileEndpoint, subscription: str) -> DropFolder:
    """The endpoint's folder: SFTP, FTP(S), or a local folder for ``file://`` (created)."""
    server = endpoint(point.conn_id, point.default_url)
    label = f"subscription {subscription}"
    if server.scheme == "file":
        local = Path(server.path) / point.folder.lstrip("/")
        return open_folder("local", str(local), label=label, create=True)
    return open_folder(server.scheme, point.folder, server=server, label=label)
