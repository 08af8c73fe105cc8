"""The audit ledger's pure parts: canonical form, seal, times, keys and checkpoint files."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govlake.config.loader import load_config
from govlake.errors import GovlakeError
from services.audit import checkpoints
from services.audit.chain import GENESIS, canonical, seal
from services.audit.keys import chain_key, private_key, public_key, verify_key
from services.audit.records import AuditEvent, instant

pytestmark = pytest.mark.unit
KEY = b"k" * 32
EVENT = AuditEvent(
    id=7,
    at=datetime(2026, 11, 25, 16, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
    principal="li.na",
    organisation="platform",
    action="catalog.publish",
    object="GL-000004",
    outcome="success",
    client="10.0.0.1",
    request_id=None,
    details={"版本": 2, "a": [1.5, None]},
    prev_hash=GENESIS,
    hash="",
)


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_utf8() -> None:
    assert canonical({"b": 1, "a": {"版本": [1, None, "二"]}}) == (
        '{"a":{"版本":[1,null,"二"]},"b":1}'.encode()
    )
    assert canonical({"b": 1, "a": 2}) == canonical({"a": 2, "b": 1})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), datetime.now(UTC), b"x", {1, 2}])
def test_canonical_json_refuses_what_json_cannot_hold(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        canonical({"v": value})


def test_the_seal_is_hmac_sha256_of_prev_hash_then_the_canonical_fields() -> None:
    # The same value from: printf '%s' "$GENESIS$JSON" | openssl dgst -sha256 -hmac kkkk...
    fields = {"id": 1, "at": "2026-11-25T08:00:00.123456Z", "principal": "li.na",
              "details": {"版本": 2}}  # fmt: skip
    assert seal(KEY, GENESIS, fields) == (
        "d6af1fd886bad331b0f7041fb378e6ecce06e3119e368ef1505b2e3948963640"
    )


def test_every_field_but_the_hash_is_sealed() -> None:
    fields = EVENT.sealed_fields()
    assert set(fields) == {f.name for f in dataclasses.fields(AuditEvent)} - {"hash"}
    assert fields["at"] == "2026-11-25T08:00:00.123456Z"  # UTC, microseconds, Z
    sealed = seal(KEY, GENESIS, fields)
    for name, other in [("id", 8), ("at", "2026-11-25T08:00:00.123457Z"), ("principal", "li"),
                        ("organisation", None), ("request_id", ""), ("details", {"版本": 3}),
                        ("prev_hash", "1" * 64)]:  # fmt: skip
        assert seal(KEY, GENESIS, {**fields, name: other}) != sealed, name
    assert seal(b"j" * 32, GENESIS, fields) != sealed
    assert seal(KEY, "1" * 64, fields) != sealed


def test_a_naive_time_is_taken_as_utc() -> None:
    assert instant(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000Z"


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_keys_are_read_from_pem_or_base64_of_the_raw_bytes() -> None:
    key = Ed25519PrivateKey.generate()
    raw = base64.b64encode(key.private_bytes_raw()).decode()
    public = key.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    for loaded in (private_key(_pem(key), "x"), private_key(raw, "x")):
        assert loaded.private_bytes_raw() == key.private_bytes_raw()
    for value in (public_pem, base64.b64encode(public.public_bytes_raw()).decode()):
        assert public_key(value, "x").public_bytes_raw() == public.public_bytes_raw()


@pytest.mark.parametrize("value", ["not base64!", "c2hvcnQ=", "-----BEGIN PRIVATE KEY-----"])
def test_a_malformed_key_is_named_without_its_value(value: str) -> None:
    with pytest.raises(GovlakeError, match="^GOVLAKE_AUDIT_SIGNING_KEY is not an Ed25519 private"):
        private_key(value, "GOVLAKE_AUDIT_SIGNING_KEY")
    with pytest.raises(GovlakeError) as raised:
        public_key(value, "GOVLAKE_AUDIT_VERIFY_KEY")
    assert value not in str(raised.value)


def test_the_chain_key_comes_from_the_environment_then_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOVLAKE_AUDIT_KEY", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_GOVLAKE_AUDIT", raising=False)
    with pytest.raises(GovlakeError, match="no audit key: set GOVLAKE_AUDIT_KEY") as raised:
        chain_key()
    assert "\n" not in str(raised.value)
    monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_AUDIT", "generic://:" + "c" * 32 + "@")
    assert chain_key() == b"c" * 32
    monkeypatch.setenv("GOVLAKE_AUDIT_KEY", "e" * 40)
    assert chain_key() == b"e" * 40


def test_the_verify_key_is_its_own_or_the_signing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    signing, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    for name in ("GOVLAKE_AUDIT_VERIFY_KEY", "AIRFLOW_CONN_GOVLAKE_AUDIT_SIGNING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVLAKE_AUDIT_SIGNING_KEY", _pem(signing))
    assert verify_key().public_bytes_raw() == signing.public_key().public_bytes_raw()
    own = base64.b64encode(other.public_key().public_bytes_raw()).decode()
    monkeypatch.setenv("GOVLAKE_AUDIT_VERIFY_KEY", own)
    assert verify_key().public_bytes_raw() == other.public_key().public_bytes_raw()


def test_a_checkpoint_file_is_signed_written_whole_and_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("GOVLAKE_AUDIT_SIGNING_KEY", _pem(key))
    monkeypatch.delenv("GOVLAKE_AUDIT_VERIFY_KEY", raising=False)
    older = checkpoints.Checkpoint(3, 3, "a" * 64, datetime(2026, 11, 25, tzinfo=UTC))
    newer = checkpoints.Checkpoint(5, 5, "b" * 64, datetime(2026, 11, 26, tzinfo=UTC))
    folder = tmp_path / "audit" / "checkpoints"
    assert checkpoints.read(folder) == checkpoints.Found(None, [])  # no files: no key needed
    path = checkpoints.write(folder, newer, key)
    checkpoints.write(folder, older, key)
    assert path.name == "20261126T000000000000Z-5.json"
    assert sorted(p.name for p in folder.iterdir()) == [
        "20261125T000000000000Z-3.json",
        "20261126T000000000000Z-5.json",
    ]  # no temporary file left behind
    assert path.stat().st_mode & 0o777 == 0o444
    document = json.loads(path.read_text())
    assert document["format"] == checkpoints.FORMAT and document["last_hash"] == "b" * 64
    assert checkpoints.read(folder) == checkpoints.Found(newer, [])


def test_the_checkpoint_folder_is_under_home_unless_absolute(full_conf_dir: Path) -> None:
    config = load_config(full_conf_dir)
    assert checkpoints.folder(config) == config.home / "audit" / "checkpoints"
    (full_conf_dir / "platform.yaml").write_text("audit:\n  checkpoints: /srv/audit/cp\n")
    assert checkpoints.folder(load_config(full_conf_dir)) == Path("/srv/audit/cp")
