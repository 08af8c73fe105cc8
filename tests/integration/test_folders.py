"""The drop-folder contract, run alike on a local folder, pyftpdlib (FTP, FTPS) and OpenSSH."""

from __future__ import annotations

import hashlib
import os
import random
import re
import select
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apps.local_servers import FtpServer
from connectors.folders import DropFolder, DropFolderError, RemoteFile, open_folder
from connectors.folders.base import CHUNK, Sent
from govlake.connections import Endpoint, endpoint

pytestmark = pytest.mark.integration

LABEL = "source contract"
EPOCH = 1_717_200_000  # 2024-06-01 00:00 UTC


@dataclass
class Drop:
    """A drop folder on one transport, and the same folder on this machine's disk."""

    transport: str
    folder: str
    disk: Path
    server: Endpoint | None

    def open(self, folder: str | None = None) -> DropFolder:
        return open_folder(self.transport, folder or self.folder, server=self.server, label=LABEL)

    def put(self, name: str, data: bytes, mtime: int = EPOCH) -> Path:
        path = self.disk / name
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
        return path


@pytest.fixture
def ftps_server(tmp_path: Path) -> Iterator[FtpServer]:
    """pyftpdlib requiring TLS on the control and data channels, with a throwaway certificate."""
    pytest.importorskip("OpenSSL", reason="pyftpdlib's TLS handler needs PyOpenSSL")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = tmp_path / "ftps.key", tmp_path / "ftps.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    root = tmp_path / "ftps"
    root.mkdir()
    server = FtpServer.serving(root, tmp_path / "ftps.log")
    server.command += [
        "--tls", f"--keyfile={key_file}", f"--certfile={cert_file}",
        "--tls-control-required", "--tls-data-required",
    ]  # fmt: skip
    with server:
        yield server


@pytest.fixture(params=["local", "ftp", "ftps", "sftp"])
def drop(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Drop:
    """An empty drop folder on each transport in turn, served on loopback."""
    transport: str = request.param
    if transport == "local":
        disk = tmp_path / "drop"
        disk.mkdir()
        return Drop(transport, str(disk), disk, None)
    if transport == "sftp":
        sshd = request.getfixturevalue("sftp_server")
        monkeypatch.setenv("AIRFLOW_CONN_CONTRACT_DROP", sshd.connection(key=True))
        return Drop(transport, str(sshd.drop), sshd.drop, endpoint("contract_drop"))
    ftpd: FtpServer = request.getfixturevalue(f"{transport}_server")
    (ftpd.root / "drop").mkdir()
    url = ftpd.url.replace("ftp://", f"{transport}://", 1)
    monkeypatch.setenv("AIRFLOW_CONN_CONTRACT_DROP", url)
    return Drop(transport, "/drop", ftpd.root / "drop", endpoint("contract_drop"))


def _bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def test_list_matches_the_glob_oldest_first_with_size_and_mtime(drop: Drop) -> None:
    drop.put("b.csv", b"bbb", EPOCH)
    drop.put("a.csv", b"", EPOCH + 120)
    drop.put("c.csv", b"ccccc", EPOCH + 60)
    drop.put("notes.txt", b"not a match", EPOCH - 60)
    (drop.disk / "d.csv").mkdir()  # a folder, not a file
    base = drop.folder.rstrip("/")
    with drop.open() as folder:
        assert folder.list("*.csv") == [
            RemoteFile(mtime=EPOCH, path=f"{base}/b.csv", size=3),
            RemoteFile(mtime=EPOCH + 60, path=f"{base}/c.csv", size=5),
            RemoteFile(mtime=EPOCH + 120, path=f"{base}/a.csv", size=0),
        ]
        assert [f.name for f in folder.list("[bn]*")] == ["notes.txt", "b.csv"]
        assert folder.list("*.json") == []


def test_fetch_downloads_the_bytes_exactly(drop: Drop, tmp_path: Path) -> None:
    data = _bytes(2 * CHUNK + 333)
    drop.put("big.bin", data)
    target = tmp_path / "big.bin.part"
    seen: list[int] = []
    with drop.open() as folder:
        (file,) = folder.list("big.bin")
        folder.fetch(file, target, seen.append)
    assert target.read_bytes() == data
    assert seen == sorted(set(seen)) and seen[-1] == len(data)


def test_fetch_resumes_a_partial_target_with_the_missing_bytes_only(
    drop: Drop, tmp_path: Path
) -> None:
    data = _bytes(3 * CHUNK + 12_345, seed=1)
    drop.put("big.bin", data)
    done = CHUNK + 777  # more than any transport's first chunk
    target = tmp_path / "big.bin.part"
    target.write_bytes(data[:done])
    seen: list[int] = []
    with drop.open() as folder:
        (file,) = folder.list("big.bin")
        folder.fetch(file, target, seen.append)
    assert target.read_bytes() == data
    assert seen[0] > done, "the count starts from the partial target: its bytes were not sent"
    assert seen == sorted(set(seen)) and seen[-1] == len(data)


def test_fetch_of_a_complete_target_transfers_nothing(drop: Drop, tmp_path: Path) -> None:
    data = _bytes(5000, seed=2)
    drop.put("done.bin", data)
    target = tmp_path / "done.bin.part"
    target.write_bytes(data)
    seen: list[int] = []
    with drop.open() as folder:
        (file,) = folder.list("done.bin")
        (drop.disk / "done.bin").unlink()  # reading it now would fail
        folder.fetch(file, target, seen.append)
    assert seen == []
    assert target.read_bytes() == data


def _feed(pipe: int, data: bytes) -> None:
    """Write ``data`` to the non-blocking ``pipe`` as fast as its reader drains it."""
    view = memoryview(data)
    while view:
        if not select.select([], [pipe], [], 30)[1]:
            raise TimeoutError("the upload stopped reading its file")
        view = view[os.write(pipe, view) :]


def _until(check: Callable[[], bool], sending: Future[None]) -> None:
    deadline = time.monotonic() + 30
    while not check():
        if sending.done():
            sending.result()
            pytest.fail("the upload ended before its file did")
        assert time.monotonic() < deadline, "the upload wrote nothing within 30 s"
        time.sleep(0.02)


def test_upload_shows_under_its_name_only_when_complete_and_replaces(
    drop: Drop, tmp_path: Path
) -> None:
    old, new = _bytes(100, seed=3), _bytes(2 * CHUNK + 99, seed=4)
    final = drop.put("out.bin", old)

    def parts() -> list[Path]:
        return list(drop.disk.glob(".out.bin.*.part"))

    fifo = tmp_path / "out.bin"  # the upload reads it while the test writes it
    os.mkfifo(fifo)
    pipe = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)

    def send() -> Sent:
        with drop.open() as folder:
            return folder.upload(fifo, "out.bin")

    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send)
        try:
            _feed(pipe, new[:CHUNK])
            _until(lambda: bool(parts()) or final.stat().st_size != len(old), sending)
            midway = final.read_bytes()
            _feed(pipe, new[CHUNK:])
        finally:
            os.close(pipe)
        sent = sending.result(timeout=60)
    assert sent == Sent(len(new), hashlib.sha256(new).hexdigest()), "what went out, digested"
    assert midway == old, "the final name kept the old file while the new one was in transit"
    assert final.read_bytes() == new
    assert sorted(os.listdir(drop.disk)) == ["out.bin"], "no .part left behind"


def test_upload_of_a_new_file(drop: Drop, tmp_path: Path) -> None:
    data = _bytes(CHUNK + 1, seed=5)
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    with drop.open() as folder:
        folder.upload(local, "new.bin")
        assert folder.size_of("new.bin") == len(data)
    assert (drop.disk / "new.bin").read_bytes() == data
    assert sorted(os.listdir(drop.disk)) == ["new.bin"]


def test_discard_parts_deletes_only_the_temporary_files_of_that_name(drop: Drop) -> None:
    for name in (".out.bin.0a1b2c.part", ".out.bin.3d4e5f.part", ".other.bin.0a1b2c.part",
                 "out.bin", ".out.bin"):  # fmt: skip
        drop.put(name, b"x")
    with drop.open() as folder:
        assert folder.discard_parts("out.bin") == 2
        assert folder.discard_parts("out.bin") == 0
    assert sorted(os.listdir(drop.disk)) == [".other.bin.0a1b2c.part", ".out.bin", "out.bin"]


def test_move_into_a_relative_archive_folder_creates_it(drop: Drop) -> None:
    drop.put("a.csv", b"a,1\n", EPOCH)
    drop.put("b.csv", b"b,2\n", EPOCH + 1)
    with drop.open() as folder:
        first, second = folder.list("*.csv")
        folder.move(first, "done")
        folder.move(second, "done")  # into the folder the first move created
        assert folder.list("*.csv") == []
    assert sorted(os.listdir(drop.disk)) == ["done"]
    assert (drop.disk / "done" / "a.csv").read_bytes() == b"a,1\n"
    assert (drop.disk / "done" / "b.csv").read_bytes() == b"b,2\n"


def test_size_of_a_present_and_an_absent_file(drop: Drop) -> None:
    drop.put("here.csv", b"x" * 1234)
    with drop.open() as folder:
        assert folder.size_of("here.csv") == 1234
        assert folder.size_of("gone.csv") is None


def test_missing_folder_names_the_user_and_the_folder(drop: Drop) -> None:
    missing = f"{drop.folder.rstrip('/')}/no/such/folder"
    pattern = rf"^{LABEL}: folder not found: \S*{re.escape(missing)}$"
    with pytest.raises(DropFolderError, match=pattern), drop.open(missing):
        pytest.fail("the folder opened")
