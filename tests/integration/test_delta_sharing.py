"""The share interface with the real ``delta-sharing`` client, against uvicorn on loopback.

The tax bureau applies for the enterprise directory by share_interface and is granted four
columns of the active enterprises, the legal representative masked; its user writes a profile
with ``govlake applications profile``. The client, in its own virtualenv (it pins pyarrow and
pandas older than ours), lists the share, loads the table and its change data feed. The files
hold nothing else; revoked, expired and foreign grants, forged tokens, changed or expired file
addresses and paths out of the share table are refused.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from bench.delta_sharing import client_python
from catalog.sharing import applications as chain
from catalog.sharing.signed_urls import FileAddress, signed_url
from govlake.lakehouse import LINEAGE_COLUMNS, Commit
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.identity.policy import AccessDenied
from tests.integration.sharing_scenario import GOLD, application, gold_code
from tests.integration.test_sharing import platform  # noqa: F401
from tests.served import served

pytestmark = pytest.mark.integration
DRIVER = Path(__file__).resolve().parent.parent / "delta_sharing_client.py"
COLUMNS = ["uscc", "name", "status", "legal_representative"]
URL_KEY = "a-share-url-signing-key-for-the-tests-only-0123456789"
Call = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def sharing_client() -> Call:
    """``sharing_client(call=..., profile=..., table=...)``: the real client's answer.

    Its virtualenv is made once, from PyPI, under ``.tools/`` (kept between runs).
    """
    python = client_python()

    def call(**request: Any) -> dict[str, Any]:
        done = subprocess.run([str(python), str(DRIVER), json.dumps(request)],
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer

    return call


def _granted(platform: dict[str, Runtime], who: str = "tax.analyst", **terms: Any) -> str:  # noqa: F811
    """An application by share_interface walked to its grant; its code."""
    applicant, owner, hub = platform[who], platform["zhang.wei"], platform["li.na"]
    made = chain.apply(applicant, gold_code(applicant), application(mode="share_interface"))
    chain.act(hub, made.code, "accept")
    chain.act(owner, made.code, "approve")
    chain.authorize_application(hub, made.code, chain.Grant(**terms))
    return made.code


@pytest.fixture
def share(
    platform: dict[str, Runtime],  # noqa: F811
    conf_dir: Path,
    tmp_path: Path,
    sign_in: Callable[..., Principal],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """The API served; the tax bureau's grant, its profile file written by the command."""
    from apps.catalog_api import create_app

    monkeypatch.setenv("GOVLAKE_SHARE_URL_KEY", URL_KEY)
    code = _granted(platform, columns=COLUMNS, row_filter="status = 'active'")
    sign_in(conf_dir, "tax.analyst")
    profile = tmp_path / "recipient" / "tax.share"
    with served(create_app(platform["tax.analyst"])) as url:
        done = CliRunner().invoke(app, ["applications", "profile", code, "--endpoint",
                                        f"{url}/delta-sharing", "--out", str(profile),
                                        "--conf", str(conf_dir)])  # fmt: skip
        assert done.exit_code == 0, done.output
        yield {"url": url, "code": code, "profile": str(profile),
               "table": f"{code.lower()}.gold.enterprise_directory"}  # fmt: skip


def _query(share: dict[str, Any], body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The lines of a table query, as the protocol answers it."""
    token = json.loads(Path(share["profile"]).read_text())["bearerToken"]
    answer = httpx.post(f"{share['url']}/delta-sharing/shares/{share['code']}/schemas/gold/"
                        "tables/enterprise_directory/query", json=body or {},
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["Delta-Table-Version"].isdigit()
    return [json.loads(line) for line in answer.text.splitlines()]


@pytest.mark.parametrize("platform", ["sqlite", "postgresql"], indirect=True)
def test_the_recipient_reads_the_granted_columns_filtered_and_masked(
    share: dict[str, Any],
    sharing_client: Call,
    platform: dict[str, Runtime],  # noqa: F811
) -> None:
    profile = Path(share["profile"])
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert json.loads(profile.read_text())["endpoint"] == f"{share['url']}/delta-sharing"
    assert sharing_client(call="tables", profile=share["profile"]) == {"tables": [share["table"]]}

    loaded = sharing_client(call="load", profile=share["profile"], table=share["table"])
    assert loaded["columns"] == COLUMNS
    source = platform["tax.analyst"].lake.read(GOLD).to_pylist()
    active = {r["uscc"]: r for r in source if r["status"] == "active"}
    assert 0 < len(active) < len(source)
    assert sorted(r["uscc"] for r in loaded["rows"]) == sorted(active)
    for row in loaded["rows"]:
        clear = active[row["uscc"]]
        assert row["name"] == clear["name"] and row["status"] == "active"
        person = clear["legal_representative"]
        assert row["legal_representative"] == (person[0] + "*" * (len(person) - 1) if person
                                                else person)  # fmt: skip
    assert any(len(r["legal_representative"] or "") > 1 for r in active.values())

    few = sharing_client(call="load", profile=share["profile"], table=share["table"], limit=5)
    assert len(few["rows"]) == 5

    # the files themselves hold the granted columns only, and the masked values
    lines = _query(share)
    assert [next(iter(line)) for line in lines[:2]] == ["protocol", "metaData"]
    files = [line["file"] for line in lines[2:]]
    assert files and all(f["expirationTimestamp"] > time.time() * 1000 for f in files)
    whole = httpx.get(files[0]["url"], timeout=60)
    assert whole.status_code == 200 and len(whole.content) == files[0]["size"]
    assert whole.headers["accept-ranges"] == "bytes"
    local = Path(share["profile"]).parent / "file.parquet"
    local.write_bytes(whole.content)
    stored = pq.read_table(local)
    assert stored.column_names == COLUMNS
    assert set(stored.column("uscc").to_pylist()) <= set(active)
    assert all(v is None or v == v[0] + "*" * (len(v) - 1)
               for v in stored.column("legal_representative").to_pylist())  # fmt: skip

    # hints: a file its statistics rule out is left out; a limit keeps what holds that many
    assert len(_query(share, {"predicateHints": ["uscc > '~'"]})) == 2  # no file
    ruled_out = {"op": "lessThan", "children": [
        {"op": "column", "name": "uscc", "valueType": "string"},
        {"op": "literal", "value": "0", "valueType": "string"}]}  # fmt: skip
    assert len(_query(share, {"jsonPredicateHints": json.dumps(ruled_out)})) == 2
    assert len(_query(share, {"predicateHints": ["uscc >= '0'"], "limitHint": 1})) == 3
    bad = httpx.post(files[0]["url"].split("/files/")[0] + f"/shares/{share['code']}/schemas/"
                     "gold/tables/enterprise_directory/query", json={"limitHint": -1},
                     headers={"Authorization": "Bearer " + json.loads(profile.read_text())[
                         "bearerToken"]}, timeout=60)  # fmt: skip
    assert bad.status_code == 400 and bad.json()["errorCode"] == "INVALID_PARAMETER_VALUE"

    head = httpx.head(files[0]["url"], timeout=60)
    assert head.status_code == 200 and int(head.headers["content-length"]) == files[0]["size"]
    tail = httpx.get(files[0]["url"], headers={"Range": "bytes=-4"}, timeout=60)
    assert tail.status_code == 206 and tail.content == b"PAR1"
    size = files[0]["size"]
    assert tail.headers["content-range"] == f"bytes {size - 4}-{size - 1}/{size}"
    middle = httpx.get(files[0]["url"], headers={"Range": "bytes=4-11"}, timeout=60)
    assert middle.status_code == 206 and middle.content == whole.content[4:12]
    beyond = httpx.get(files[0]["url"], headers={"Range": f"bytes={size + 10}-"}, timeout=60)
    assert beyond.status_code == 416

    reads = [e for e in audit.events(platform["tax.analyst"], action="data.read", limit=50)
             if e.details.get("mode") == "share_interface"]  # fmt: skip
    assert reads and all(e.principal == "tax.analyst" for e in reads)
    assert reads[-1].details["rows"] == len(active)  # the oldest: the first whole load
    files_read = [(e.details["files"], e.details["rows"]) for e in reads]
    assert files_read.count((0, 0)) == 2  # the queries whose hints ruled every file out
    assert all(n >= 1 and rows >= 1 for n, rows in files_read if (n, rows) != (0, 0))


def test_the_change_feed_follows_the_source(
    share: dict[str, Any],
    sharing_client: Call,
    platform: dict[str, Runtime],  # noqa: F811
) -> None:
    tax = platform["tax.analyst"]
    first = sharing_client(call="load", profile=share["profile"], table=share["table"])
    assert sharing_client(call="version", profile=share["profile"], table=share["table"]) == {
        "version": 0
    }
    revoked, renamed = sorted(r["uscc"] for r in first["rows"])[:2]
    rows = tax.lake.read(GOLD).drop_columns(list(LINEAGE_COLUMNS))
    new_name = "新名称有限公司"
    changed = [{**r, "status": "revoked"} if r["uscc"] == revoked else {**r, "name": new_name}
               for r in rows.to_pylist() if r["uscc"] in (revoked, renamed)]  # fmt: skip
    batch = pa.Table.from_pylist(changed, schema=rows.schema)
    tax.lake.write(GOLD, batch, Commit("test", "run", "b-1", "test"), mode="merge", keys=["uscc"])

    assert sharing_client(call="version", profile=share["profile"], table=share["table"]) == {
        "version": 1
    }
    changes = sharing_client(call="changes", profile=share["profile"], table=share["table"],
                             starting_version=1)  # fmt: skip
    assert changes["columns"] == [*COLUMNS, "_change_type", "_commit_version", "_commit_timestamp"]
    seen = sorted((r["uscc"], r["_change_type"], r["name"]) for r in changes["rows"])
    old_name = next(r["name"] for r in first["rows"] if r["uscc"] == renamed)
    assert seen == sorted([
        (revoked, "delete", next(r["name"] for r in first["rows"] if r["uscc"] == revoked)),
        (renamed, "update_preimage", old_name),
        (renamed, "update_postimage", "新名称有限公司"),
    ])  # fmt: skip
    assert {r["_commit_version"] for r in changes["rows"]} == {1}
    everything = sharing_client(call="changes", profile=share["profile"], table=share["table"],
                                starting_version=0)  # fmt: skip
    inserted = [r for r in everything["rows"] if r["_change_type"] == "insert"]
    assert len(inserted) == len(first["rows"])

    now = sharing_client(call="load", profile=share["profile"], table=share["table"])
    assert revoked not in {r["uscc"] for r in now["rows"]}
    then = sharing_client(call="load", profile=share["profile"], table=share["table"], version=0)
    assert sorted(map(str, then["rows"])) == sorted(map(str, first["rows"]))

    # a source commit that changes nothing granted: one empty share version, made once
    rows = tax.lake.read(GOLD).drop_columns(list(LINEAGE_COLUMNS))
    moved = [{**r, "region_code": "000000"} for r in rows.to_pylist() if r["uscc"] == renamed]
    batch = pa.Table.from_pylist(moved, schema=rows.schema)
    tax.lake.write(GOLD, batch, Commit("test", "run", "b-2", "test"), mode="merge", keys=["uscc"])
    for _ in range(2):
        version = sharing_client(call="version", profile=share["profile"], table=share["table"])
        assert version == {"version": 2}
    quiet = sharing_client(call="changes", profile=share["profile"], table=share["table"],
                           starting_version=2)  # fmt: skip
    assert quiet["rows"] == []
    made = audit.events(tax, action="sharing.materialise", limit=10)
    assert [e.details["how"] for e in made] == ["unchanged", "merge", "overwrite"]  # newest first


def test_refusals(
    share: dict[str, Any],
    sharing_client: Call,
    platform: dict[str, Runtime],  # noqa: F811
    conf_dir: Path,
    sign_in: Callable[..., Principal],
) -> None:
    url, code = share["url"], share["code"]
    files = [line["file"] for line in _query(share)[2:]]
    address = files[0]["url"]
    tables = f"{url}/delta-sharing/shares/{code.lower()}/all-tables"

    for token, status in ((None, 401), ("gls_forged", 401)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        refused = httpx.get(tables, headers=headers, timeout=30)
        assert refused.status_code == status and refused.json()["errorCode"] == "UNAUTHENTICATED"

    # another organisation's grant and token: it does not reach the tax bureau's share
    sign_in(conf_dir, "hr.analyst", "analyst", org="human_resources", token=False)
    from services.identity import accounts

    with platform["li.na"].platform_db.connect() as conn:
        hr = accounts.principal(conn, accounts.existing(conn, "hr.analyst"))
    platform["hr.analyst"] = platform["li.na"].acting_as(hr)
    other = _granted(platform, "hr.analyst", columns=["uscc"], per_minute=2)
    from catalog.sharing import share_tokens

    foreign = share_tokens.issue(platform["hr.analyst"], other).token
    # the platform decides on the application but reads nothing; others do not even see it
    for outsider, why in (("li.na", "the grant is for tax"), ("hr.analyst", "may not accept")):
        with pytest.raises(AccessDenied, match=why):
            share_tokens.issue(platform[outsider], code)
    mine = httpx.get(f"{url}/delta-sharing/shares/{other.lower()}/all-tables",
                     headers={"Authorization": f"Bearer {foreign}"}, timeout=30)  # fmt: skip
    assert mine.status_code == 200 and mine.json()["items"][0]["share"] == other.lower()
    crossed = httpx.get(tables, headers={"Authorization": f"Bearer {foreign}"}, timeout=30)
    assert crossed.status_code == 403, crossed.text
    own = f"{url}/delta-sharing/shares/{other}/schemas/gold/tables/enterprise_directory/query"
    calls = [httpx.post(own, json={}, headers={"Authorization": f"Bearer {foreign}"}, timeout=60)
             for _ in range(3)]  # fmt: skip
    assert [c.status_code for c in calls] == [200, 200, 429]  # two queries a minute
    assert 1 <= int(calls[2].headers["Retry-After"]) <= 61

    # file addresses: changed, expired, or leaving the share table
    tampered = address[:-1] + ("0" if address[-1] != "0" else "1")
    assert httpx.get(tampered, timeout=30).status_code == 403
    assert httpx.get(address.replace("holder=tax.analyst", "holder=hr.analyst"),
                     timeout=30).status_code == 403  # fmt: skip
    grant_id = int(address.split("/files/")[1].split("/")[0])
    path = address.split("/files/")[1].split("/", 1)[1].split("?")[0]
    base = f"{url}/delta-sharing"
    past = FileAddress(grant_id, path, "tax.analyst", int(time.time()) - 1)
    expired = httpx.get(signed_url(base, past), timeout=30)
    assert expired.status_code == 403 and "expired" in expired.json()["message"]
    later = int(time.time()) + 600
    escapes = (
        "../grant-999/x.parquet",
        "_delta_log/00000000000000000000.json",
        "../../../../etc/passwd",
        "/etc/passwd",
        "part-1.parquet/../../x.parquet",
    )
    for escape in escapes:
        signed = signed_url(base, FileAddress(grant_id, escape, "tax.analyst", later))
        # dots encoded, so that no client resolves them before the server sees them
        refused = httpx.get(signed.replace("..", "%2E%2E"), timeout=30)
        assert refused.status_code == 403, (escape, refused.text)
        assert "not a file of the share" in refused.json()["message"]
    encoded = address.replace(f"/files/{grant_id}/", f"/files/{grant_id}/%2e%2e/")
    assert httpx.get(encoded, timeout=30).status_code == 403

    # revoked: the next call and the next file fetch are refused
    chain.act(platform["li.na"], code, "revoke", "用途结束")
    gone = sharing_client(call="load", profile=share["profile"], table=share["table"])
    assert gone["error"] == 403, gone
    assert httpx.get(address, timeout=30).status_code == 403
    denied = audit.events(platform["tax.analyst"], action="access.denied", limit=50)
    assert any(e.principal == "tax.analyst" and "revoked" in e.details["reason"] for e in denied)


def test_an_expired_grant_is_refused_on_the_next_call(
    platform: dict[str, Runtime],  # noqa: F811
    sharing_client: Call,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from apps.catalog_api import create_app
    from catalog.sharing import profile_file, share_tokens

    monkeypatch.setenv("GOVLAKE_SHARE_URL_KEY", URL_KEY)
    tax, hub = platform["tax.analyst"], platform["li.na"]
    until = datetime.now(UTC) + timedelta(days=2)
    code = _granted(platform, columns=["uscc"], until=until)
    issued = share_tokens.issue(tax, code)
    assert issued.expires_at == until
    table = f"{code.lower()}.gold.enterprise_directory"
    with served(create_app(tax)) as url:
        profile = profile_file.save(tmp_path / "p.share", f"{url}/delta-sharing", issued.token,
                                    issued.expires_at)  # fmt: skip
        assert "rows" in sharing_client(call="load", profile=str(profile), table=table)
        assert chain.expire(hub, clock=lambda: until + timedelta(seconds=1)) == [code]
        ended = sharing_client(call="load", profile=str(profile), table=table)
        assert ended["error"] == 403 and "is expired" in ended["message"]


def test_a_server_without_its_url_key_says_so_instead_of_failing(
    share: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOVLAKE_SHARE_URL_KEY")
    token = json.loads(Path(share["profile"]).read_text())["bearerToken"]
    answer = httpx.post(f"{share['url']}/delta-sharing/shares/{share['code']}/schemas/gold/"
                        "tables/enterprise_directory/query", json={},
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)  # fmt: skip
    assert answer.status_code == 503
    assert answer.json()["errorCode"] == "INTERNAL_ERROR"
    assert "GOVLAKE_SHARE_URL_KEY" in answer.json()["message"]
