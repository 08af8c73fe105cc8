"""The file download share mode against uvicorn on loopback: exports and their signed URLs.

The tax bureau is granted two columns of market regulation's enterprise directory by
file_download, the active enterprises only, the legal representative masked. It exports them as
CSV in UTF-8 and in GBK, Parquet and xlsx: each file holds exactly those columns and rows, the
masked values, the Chinese text, and matches its manifest. Signed URLs changed, expired, of
another user, or leaving the export, exports of no grant or of an unknown resource, and the
download after a revocation are refused; every export is a ``data.read`` audit row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from apps.cli.main import app
from catalog.sharing import applications as chain
from catalog.sharing import exports
from catalog.sharing.signed_urls import LIFETIME, FileAddress, signed_url
from catalog.store import Catalog
from govlake.lakehouse import LINEAGE_COLUMNS, Commit
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.identity.settings import utc_now
from tests.integration.sharing_scenario import GOLD, SILVER, application, gold_code
from tests.integration.test_sharing import platform  # noqa: F401
from tests.served import served

pytestmark = pytest.mark.integration
COLUMNS = ["uscc", "legal_representative"]
URL_KEY = "an-export-url-signing-key-for-the-tests-only-0123456789"


@pytest.fixture
def exporting(
    platform: dict[str, Runtime],  # noqa: F811
    conf_dir: Path,
    sign_in: Callable[..., Principal],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """The API served; the tax bureau's grant by file_download; the users' tokens."""
    from apps.catalog_api import create_app
    from services.identity import authentication
    from tests.conftest import TEST_PASSWORD

    monkeypatch.setenv("GOVLAKE_SHARE_URL_KEY", URL_KEY)
    tax, owner, hub = (platform[n] for n in ("tax.analyst", "zhang.wei", "li.na"))
    made = chain.apply(tax, gold_code(tax), application(mode="file_download"))
    chain.act(hub, made.code, "accept")
    chain.act(owner, made.code, "approve")
    grant = chain.authorize_application(
        hub, made.code, chain.Grant(columns=COLUMNS, row_filter="status = 'active'")
    )
    sign_in(conf_dir, "tax.clerk", "analyst", org="tax", token=False)
    tokens = {
        name: authentication.login(tax, name, TEST_PASSWORD).token
        for name in ("tax.analyst", "tax.clerk", "wang.fang")
    }
    with served(create_app(tax)) as url:
        yield {"url": url, "code": gold_code(tax), "application": made.code, "grant": grant,
               "tokens": tokens}  # fmt: skip


def _client(share: dict[str, Any], who: str | None = "tax.analyst") -> httpx.Client:
    headers = {"Authorization": f"Bearer {share['tokens'][who]}"} if who else {}
    return httpx.Client(base_url=share["url"], headers=headers, timeout=60)


def _export(share: dict[str, Any], who: str = "tax.analyst", **asked: Any) -> httpx.Response:
    with _client(share, who) as client:
        return client.post(f"/v1/resources/{share['code']}/exports", json=asked)


def _rows(fmt: str, encoding: str, content: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """The header and the rows of an exported file."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(content.decode(encoding)))
        rows = [{k: v or None for k, v in r.items()} for r in reader]
        return list(reader.fieldnames or []), rows
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(content))
        return table.column_names, table.to_pylist()
    sheet = load_workbook(io.BytesIO(content), read_only=True)["data"]
    header, *values = [list(r) for r in sheet.iter_rows(values_only=True)]
    return [str(h) for h in header], [dict(zip(header, v, strict=True)) for v in values]


@pytest.mark.parametrize("platform", ["sqlite"], indirect=True)
def test_every_format_holds_the_granted_columns_rows_and_masks(
    exporting: dict[str, Any],
    platform: dict[str, Runtime],  # noqa: F811
) -> None:
    tax = platform["tax.analyst"]
    source = tax.lake.read(GOLD).to_pylist()
    active = {r["uscc"]: r["legal_representative"] for r in source if r["status"] == "active"}
    assert 0 < len(active) < len(source)
    assert any(len(person or "") > 1 for person in active.values())
    formats = [("csv", "utf-8"), ("csv", "gbk"), ("parquet", "utf-8"), ("xlsx", "utf-8")]
    for fmt, encoding in formats:
        answer = _export(exporting, format=fmt, encoding=encoding)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["rows"] == len(active) and len(body["files"]) == 1
        with _client(exporting) as client:
            manifest = client.get(body["manifest_url"])
            data = client.get(body["files"][0])
        assert manifest.status_code == 200 and data.status_code == 200, (fmt, data.text)
        told = manifest.json()
        assert (told["resource"], told["grant"], told["format"], told["encoding"]) == (
            exporting["code"], exporting["grant"].id, fmt, encoding)  # fmt: skip
        assert told["version"] == tax.lake.version(GOLD) and told["rows"] == len(active)
        assert [c["name"] for c in told["columns"]] == COLUMNS
        (file,) = told["files"]
        assert file["sha256"] == hashlib.sha256(data.content).hexdigest()
        assert file["bytes"] == len(data.content)
        header, rows = _rows(fmt, encoding, data.content)
        assert header == COLUMNS, fmt  # exactly the two granted columns
        assert sorted(r["uscc"] for r in rows) == sorted(active), fmt  # the filter holds
        for row in rows:  # a person's name: its first character (Chinese), then stars
            person = active[row["uscc"]]
            masked = person[0] + "*" * (len(person) - 1) if person else None
            assert row["legal_representative"] == masked, (fmt, row)
    # the Chinese of a GBK file is in GBK, not UTF-8
    gbk = _export(exporting, format="csv", encoding="gbk").json()
    with _client(exporting) as client:
        raw = client.get(gbk["files"][0]).content
        assert "法定" not in raw.decode("gbk") and any("\u4e00" <= ch for ch in raw.decode("gbk"))
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        # HEAD and Range, as a resuming client asks
        head = client.head(gbk["files"][0])
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(raw)
        part = client.get(gbk["files"][0], headers={"Range": "bytes=0-9"})
        assert part.status_code == 206 and part.content == raw[:10]

    reads = [e for e in audit.events(tax, action="data.read", limit=50)
             if e.details.get("mode") == "file_download"]  # fmt: skip
    assert len(reads) == 5 and all(e.outcome == "success" for e in reads)
    assert all(e.principal == "tax.analyst" and e.details["rows"] == len(active) for e in reads)
    assert {e.details["grant"] for e in reads} == {exporting["grant"].id}
    assert [e.details["format"] for e in reads][::-1] == ["csv", "csv", "parquet", "xlsx", "csv"]


def test_what_is_refused(
    exporting: dict[str, Any],
    platform: dict[str, Runtime],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, code, grant = exporting["url"], exporting["code"], exporting["grant"]
    body = _export(exporting, format="csv").json()
    data = body["files"][0]
    with _client(exporting) as client:
        assert client.get(data).status_code == 200
        tampered = data[:-1] + ("0" if data[-1] != "0" else "1")
        assert client.get(tampered).status_code == 403
        widened = data.replace("holder=tax.analyst", "holder=tax.clerk")
        assert client.get(widened).status_code == 403
        path = data.split(f"/v1/exports/{grant.id}/")[1].split("?")[0]
        past = FileAddress(grant.id, path, "tax.analyst", int(time.time()) - 1, exports.ROUTE)
        expired = client.get(signed_url(f"{url}/v1", past))
        assert expired.status_code == 403 and "expired" in expired.text
        later = int(time.time()) + 600
        export_id = path.split("/")[0]
        escapes = ("../grant-999/x.csv", f"{export_id}/../../../platform.db", "/etc/passwd",
                   f"{export_id}/x.txt", export_id, f"../{path}")  # fmt: skip
        for escape in escapes:
            signed = signed_url(f"{url}/v1", FileAddress(grant.id, escape, "tax.analyst",
                                                         later, exports.ROUTE))  # fmt: skip
            refused = client.get(signed.replace("..", "%2E%2E"))
            assert refused.status_code == 403, (escape, refused.text)
            assert "not a file of an export" in refused.text
        # a share file's signed address is no export's, and the other way round
        share_style = FileAddress(grant.id, path, "tax.analyst", later)
        assert client.get(signed_url(f"{url}/v1", share_style).replace(
            "/v1/files/", "/v1/exports/")).status_code == 403  # fmt: skip
    # another user of the same bureau, with their own token, cannot use the URL
    with _client(exporting, "tax.clerk") as client:
        other = client.get(data)
        assert other.status_code == 403 and "issued to tax.analyst" in other.text
    with _client(exporting, None) as client:
        assert client.get(data).status_code == 401
        for raw in (b"\x00", b'{"format": "csv"}'):  # no token: a 401 whatever the body
            unsigned = client.post(f"/v1/resources/{code}/exports", content=raw,
                                   headers={"Content-Type": "application/json"})  # fmt: skip
            assert unsigned.status_code == 401, unsigned.text

    # no grant, an unknown code, an unpublished resource, ungranted fields or filters
    silver = Catalog(platform["li.na"]).resource(SILVER).code
    for who, resource, status, reason in (
        ("wang.fang", code, 403, "no grant in force for human_resources"),
        ("tax.analyst", "GL-999999", 403, "no published resource"),
        ("tax.analyst", silver, 403, "no published resource"),
    ):
        with _client(exporting, who) as client:
            refused = client.post(f"/v1/resources/{resource}/exports", json={"format": "csv"})
        assert refused.status_code == status and reason in refused.text, refused.text
    for asked, status, reason in (
        ({"format": "csv", "fields": ["uscc", "name"]}, 400, "not granted: name"),
        ({"format": "csv", "filter": "name = 'x'"}, 400, "filter names name"),
        ({"format": "csv", "filter": "1=1; DROP TABLE x"}, 400, "not a condition|not allowed"),
        ({"format": "parquet", "encoding": "gbk"}, 400, "applies to csv only"),
        ({"format": "json"}, 422, "format"),
        ({"format": "csv", "path": "../x"}, 422, "Extra inputs"),
    ):
        refused = _export(exporting, **asked)
        assert refused.status_code == status, (asked, refused.text)
        assert any(r in refused.text for r in reason.split("|")), (asked, refused.text)
    with _client(exporting) as client:  # a body that is not UTF-8: a 422, not a 500 (fuzz run)
        garbled = client.post(f"/v1/resources/{code}/exports", content=b"T\xae",
                              headers={"Content-Type": "application/json"})  # fmt: skip
        assert garbled.status_code == 422 and garbled.json()["detail"][0]["loc"][0] == "body"
    tax = platform["tax.analyst"]
    rows = tax.lake.read(GOLD).drop_columns(list(LINEAGE_COLUMNS))
    first = next(r for r in rows.to_pylist() if r["status"] == "active")
    beyond = pa.Table.from_pylist([{**first, "legal_representative": "😀张三"}], rows.schema)
    tax.lake.write(GOLD, beyond, Commit("test", "run", "b-1", "test"), mode="merge", keys=["uscc"])
    unencodable = _export(exporting, format="csv", encoding="gbk")
    assert unencodable.status_code == 400 and "cannot be written in GBK" in unencodable.text
    assert _export(exporting, format="csv", encoding="utf-8").status_code == 201
    monkeypatch.setattr(exports, "EXCEL_MAX_ROWS", 3)
    too_many = _export(exporting, format="xlsx")
    assert too_many.status_code == 400 and "do not fit an Excel sheet (3)" in too_many.text

    # revoked after the URL was issued: the next download is refused
    chain.act(platform["li.na"], exporting["application"], "revoke", "用途结束")
    with _client(exporting) as client:
        revoked = client.get(data)
    assert revoked.status_code == 403 and f"grant {grant.id} is revoked" in revoked.text
    assert _export(exporting, format="csv").status_code == 403

    denied = [e for e in audit.events(tax, action="access.denied", limit=50)
              if e.details.get("mode") == "file_download"]  # fmt: skip
    reasons = " ".join(e.details["reason"] for e in denied)
    for said in ("issued to tax.analyst", "no grant in force for human_resources",
                 "no published resource", "is revoked"):  # fmt: skip
        assert said in reasons
    refused_reads = [e for e in audit.events(tax, action="data.read", limit=50)
                     if e.outcome == "refused"]  # fmt: skip
    assert len(refused_reads) == 6  # fields, filter, injection, encoding, GBK and the Excel limit
    assert not any((tax.config.home / "exports").glob(f"grant-{grant.id}/*/*.xlsx"))


def test_old_exports_are_cleaned_and_the_command_downloads(
    exporting: dict[str, Any],
    platform: dict[str, Runtime],  # noqa: F811
    conf_dir: Path,
    sign_in: Callable[..., Principal],
    tmp_path: Path,
) -> None:
    body = _export(exporting, format="parquet").json()
    tax = platform["tax.analyst"]
    assert exports.clean(tax, utc_now() + LIFETIME - timedelta(seconds=60)) == []  # URLs live
    removed = exports.clean(tax, utc_now() + LIFETIME + timedelta(seconds=1))
    assert [p.name for p in removed] == [body["export"]]
    with _client(exporting) as client:
        assert client.get(body["files"][0]).status_code == 404

    sign_in(conf_dir, "tax.analyst")
    target = tmp_path / "downloads"
    done = CliRunner().invoke(app, ["applications", "download", exporting["application"],
                                    "--format", "csv", "--encoding", "gbk", "--to", str(target),
                                    "--conf", str(conf_dir)])  # fmt: skip
    assert done.exit_code == 0, done.output
    code = exporting["code"]
    data, manifest = target / f"{code}.csv", target / f"{code}.manifest.json"
    told = json.loads(manifest.read_text(encoding="utf-8"))
    assert told["encoding"] == "gbk" and told["rows"] > 0
    assert told["files"][0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert data.read_text(encoding="gbk").splitlines()[0] == ",".join(f'"{c}"' for c in COLUMNS)
    assert f"{told['rows']} rows" in done.output and "sha256 verified" in done.output
    wrong = CliRunner().invoke(app, ["applications", "download", exporting["application"],
                                     "--format", "parquet", "--encoding", "gbk",
                                     "--conf", str(conf_dir)])  # fmt: skip
    assert wrong.exit_code == 1 and "applies to csv only" in wrong.output


def test_a_resource_no_longer_shared_is_refused_whatever_its_grant(
    exporting: dict[str, Any],
    platform: dict[str, Runtime],  # noqa: F811
    conf_dir: Path,
) -> None:
    from catalog.build import build_catalog

    assert _export(exporting, format="csv").status_code == 201
    datasets = conf_dir / "datasets" / "enterprise_registry.yaml"
    text = datasets.read_text(encoding="utf-8")
    datasets.write_text(text.replace("classification: public", "classification: restricted"),
                        encoding="utf-8")  # fmt: skip
    build_catalog(Runtime.load(conf_dir), [GOLD])  # a new version: 不予共享
    catalog, code = Catalog(platform["li.na"]), exporting["code"]
    catalog.review(code, approve=True, actor=platform["zhang.wei"].principal,  # type: ignore[arg-type]
                   comment="重新分级", version=None)  # fmt: skip
    catalog.publish(code, actor=platform["li.na"].principal)  # type: ignore[arg-type]
    assert catalog.resource(code, published=True).definition.sharing.type == "not_shared"
    refused = _export(exporting, format="csv")
    assert refused.status_code == 403 and f"{code} is not shared" in refused.text
