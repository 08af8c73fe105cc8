"""The ledger's keys, from the environment or an Airflow Connection, never from conf or the DB.

- the chain key (HMAC): ``GOVLAKE_AUDIT_KEY``, else the password of the Connection
  ``govlake_audit``; needed to append and to verify;
- the checkpoint signing key (Ed25519): ``GOVLAKE_AUDIT_SIGNING_KEY``, else the password of
  ``govlake_audit_signing``; PEM (PKCS#8) or the base64 of the raw 32 bytes;
- the checkpoint verify key: ``GOVLAKE_AUDIT_VERIFY_KEY`` (PEM or base64 of the raw 32 bytes),
  else derived from the signing key.

There is no default key. A missing or malformed key is a one-line error naming where to set it;
no message shows a key.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from govlake.connections import secret
from govlake.errors import GovlakeError

CHAIN_KEY = ("GOVLAKE_AUDIT_KEY", "govlake_audit")
SIGNING_KEY = ("GOVLAKE_AUDIT_SIGNING_KEY", "govlake_audit_signing")
VERIFY_KEY = "GOVLAKE_AUDIT_VERIFY_KEY"
MIN_CHAIN_KEY = 32


def chain_key() -> bytes:
    """The HMAC key that seals the ledger's rows (its UTF-8 bytes, at least 32 of them)."""
    env, conn_id = CHAIN_KEY
    found = secret(env, conn_id)
    if found is None:
        raise GovlakeError(
            f"no audit key: set {env} or the password of the Airflow Connection {conn_id!r} "
            f"(at least {MIN_CHAIN_KEY} characters, e.g. from "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    value, origin = found
    key = value.encode("utf-8")
    if len(key) < MIN_CHAIN_KEY:
        raise GovlakeError(f"the audit key in {origin} is shorter than {MIN_CHAIN_KEY} bytes")
    return key


def signing_key() -> Ed25519PrivateKey:
    """The Ed25519 key that signs checkpoints."""
    env, conn_id = SIGNING_KEY
    found = secret(env, conn_id)
    if found is None:
        raise GovlakeError(
            f"no checkpoint signing key: set {env} or the password of the Airflow Connection "
            f"{conn_id!r} (Ed25519, PEM or base64 of the raw 32 bytes, e.g. from "
            "openssl genpkey -algorithm ed25519)"
        )
    return private_key(*found)


def verify_key() -> Ed25519PublicKey:
    """The Ed25519 public key that checks checkpoints: its own variable, else the signing key's."""
    if value := os.environ.get(VERIFY_KEY):
        return public_key(value, VERIFY_KEY)
    env, conn_id = SIGNING_KEY
    found = secret(env, conn_id)
    if found is None:
        raise GovlakeError(
            f"no key to check the audit checkpoints: set {VERIFY_KEY} (the public key, PEM or "
            f"base64 of the raw 32 bytes) or {env}"
        )
    return private_key(*found).public_key()


def private_key(value: str, origin: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM or the base64 of its raw 32 bytes."""
    try:
        if value.lstrip().startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(value.encode("ascii"), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(_raw(value))
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise GovlakeError(
            f"{origin} is not an Ed25519 private key (PEM, or base64 of the raw 32 bytes)"
        )
    return key


def public_key(value: str, origin: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or the base64 of its raw 32 bytes."""
    try:
        if value.lstrip().startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(value.encode("ascii"))
        else:
            key = Ed25519PublicKey.from_public_bytes(_raw(value))
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise GovlakeError(
            f"{origin} is not an Ed25519 public key (PEM, or base64 of the raw 32 bytes)"
        )
    return key


def _raw(value: str) -> bytes:
    """The 32 bytes a base64 text holds (``ValueError`` otherwise)."""
    raw = base64.b64decode(value.strip(), validate=True)
    if len(raw) != 32:
        raise ValueError("not 32 bytes")
    return raw
