"""Drop folders on disk, FTP, FTPS and SFTP behind one contract, and the one place that picks.

:func:`open_folder` is the only factory: a files source (``transport`` in its conf) and an
exchange endpoint (the scheme of its connection) both come here, so they choose alike.
"""

from __future__ import annotations

from pathlib import Path

from connectors.folders.base import DropFolder, DropFolderError, RemoteFile, Sent
from connectors.folders.local import LocalFolder
from govlake.connections import Endpoint

TRANSPORTS = ("local", "ftp", "ftps", "sftp")

__all__ = ["TRANSPORTS", "DropFolder", "DropFolderError", "RemoteFile", "Sent", "open_folder"]


def open_folder(
    transport: str,
    folder: str,
    *,
    server: Endpoint | None = None,
    label: str,
    create: bool = False,
) -> DropFolder:
    """The drop folder ``folder`` over ``transport``, not yet connected.

    Args:
        transport: ``local``, ``ftp``, ``ftps`` or ``sftp``.
        folder: The folder's path, on this machine for ``local``, else on ``server``.
        server: The server of a remote transport, from its connection.
        label: Who uses the folder, for errors (``source x``, ``subscription y``).
        create: Create a local folder that does not exist yet (a delivery target).
    """
    if transport == "local":
        if server is not None:
            raise DropFolderError(f"{label}: a local folder is reached without a server")
        if create:
            Path(folder).mkdir(parents=True, exist_ok=True)
        return LocalFolder(folder, source=label)
    if transport not in TRANSPORTS:
        raise DropFolderError(f"{label}: unknown transport {transport!r}; known: {TRANSPORTS}")
    if server is None:
        raise DropFolderError(f"{label}: transport {transport} needs a server connection")
    if transport == "sftp":
        from connectors.folders.sftp import SftpFolder

        return SftpFolder(server, folder, source=label)
    from connectors.folders.ftp import FtpFolder

    return FtpFolder(server, folder, source=label, tls=transport == "ftps")
