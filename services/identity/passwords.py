"""The password policy and Argon2id hashing; a password is never stored, logged or echoed.

Policy: at least 12 characters, of at least 3 of the 4 classes (lower case, upper case, digits,
others), not containing the username, and (checked by the account store) none of the last few.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from govlake.errors import GovlakeError

MIN_LENGTH = 12
MIN_CLASSES = 3
_HASHER = PasswordHasher()  # argon2id, with argon2-cffi's recommended cost


class PasswordRejected(GovlakeError):
    """A new password that breaks the policy; the message names the rule, never the password."""


def check_policy(password: str, username: str) -> None:
    """Raise :class:`PasswordRejected` naming the first rule ``password`` breaks."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"the password must have at least {MIN_LENGTH} characters")
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if sum(classes) < MIN_CLASSES:
        raise PasswordRejected(
            f"the password must mix at least {MIN_CLASSES} of: lower case, upper case, digits, "
            "other characters"
        )
    if username and username.casefold() in password.casefold():
        raise PasswordRejected("the password must not contain the username")


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (salted, with its parameters)."""
    return _HASHER.hash(password)


def matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one hashed in ``password_hash``."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with other parameters than today's."""
    return _HASHER.check_needs_rehash(password_hash)


def spend_equal_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown username takes as long as a known one."""
    matches(_throwaway_hash(), password)


@cache
def _throwaway_hash() -> str:
    return _HASHER.hash("a throwaway password that is never anyone's")
