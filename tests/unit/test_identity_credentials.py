"""Password policy, hashing, the token signing key and the settings, without a database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from govlake.errors import GovlakeError
from services.identity import passwords, tokens
from services.identity.passwords import PasswordRejected
from services.identity.settings import AuthSettings

pytestmark = pytest.mark.unit
KEY = "k" * 40


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Sh0rt!pass", "at least 12 characters"),
        ("onlylowercaseletters", "at least 3 of"),
        ("lowercase123456", "at least 3 of"),
        ("UPPER-AND-SYMBOLS!", "at least 3 of"),
        ("My-Zhang.Wei-2024", "must not contain the username"),
    ],
)
def test_each_policy_rule_is_named(password: str, rule: str) -> None:
    with pytest.raises(PasswordRejected) as refused:
        passwords.check_policy(password, "zhang.wei")
    assert rule in str(refused.value)
    assert password not in str(refused.value)


@pytest.mark.parametrize(
    "password", ["Correct-horse-battery", "correct horse 42 staple", "密码很长Abc12345"]
)
def test_three_classes_of_twelve_characters_pass(password: str) -> None:
    passwords.check_policy(password, "zhang.wei")


def test_hashes_are_argon2id_and_salted() -> None:
    first, second = (
        passwords.hash_password("Correct-horse-42"),
        passwords.hash_password("Correct-horse-42"),
    )
    assert first.startswith("$argon2id$") and first != second
    assert passwords.matches(first, "Correct-horse-42")
    assert not passwords.matches(first, "correct-horse-42")
    assert not passwords.matches("not a hash", "Correct-horse-42")


def test_the_signing_key_comes_from_the_environment_or_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOVLAKE_TOKEN_KEY", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_GOVLAKE_TOKENS", raising=False)
    with pytest.raises(GovlakeError) as missing:
        tokens.signing_key()
    assert str(missing.value) == (
        "no token signing key: set GOVLAKE_TOKEN_KEY, or the password of the connection "
        "'govlake_tokens' (AIRFLOW_CONN_GOVLAKE_TOKENS or an Airflow Connection)"
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVLAKE_TOKENS", f'{{"conn_type": "generic", "password": "{KEY}"}}'
    )
    assert tokens.signing_key() == KEY
    monkeypatch.setenv("GOVLAKE_TOKEN_KEY", "short-key")
    with pytest.raises(GovlakeError) as short:
        tokens.signing_key()
    assert "at least 32 bytes" in str(short.value) and "short-key" not in str(short.value)


def test_settings_from_the_environment() -> None:
    settings = AuthSettings.from_env({"GOVLAKE_LOCKOUT_AFTER": "3", "GOVLAKE_TOKEN_HOURS": "1"})
    assert settings == AuthSettings(lockout_after=3, token_lifetime=timedelta(hours=1))
    with pytest.raises(GovlakeError, match="GOVLAKE_LOCKOUT_MINUTES must be a positive"):
        AuthSettings.from_env({"GOVLAKE_LOCKOUT_MINUTES": "0"})
