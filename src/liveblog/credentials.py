"""Passwords, API tokens and session ids: what is stored is never what a user types or sends."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets

from argon2 import DEFAULT_RANDOM_SALT_LENGTH, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST

TOKEN_PREFIX = "lb_"
PROFILE_VARIABLE = "LIVEBLOG_ARGON2_PROFILE"
"""Test-only: `test` makes password hashing cheap, for test suites that create hundreds of
users. Unset (or anything else) is production: the library's recommended parameters."""
TEST_PROFILE = "test"


def production_hasher() -> PasswordHasher:
    """argon2id with the library's current recommended parameters (RFC 9106's low-memory
    choice); when a new release raises them, passwords are rehashed at the next login."""
    return PasswordHasher()


def cheap_hasher() -> PasswordHasher:
    """The library's cheapest cost, but a full-size salt and digest, so that stored hashes
    have the production shape. For tests only: it stops no one guessing."""
    return PasswordHasher(
        time_cost=CHEAPEST.time_cost,
        memory_cost=CHEAPEST.memory_cost,
        parallelism=CHEAPEST.parallelism,
        hash_len=32,
        salt_len=DEFAULT_RANDOM_SALT_LENGTH,
        type=Type.ID,
    )


_active: PasswordHasher | None = None


def _hasher() -> PasswordHasher:
    """Chosen once per process, at the first password hashed or checked."""
    global _active
    if _active is None:
        cheap = os.environ.get(PROFILE_VARIABLE) == TEST_PROFILE
        _active = cheap_hasher() if cheap else production_hasher()
    return _active


def use_hasher(hasher: PasswordHasher | None) -> None:
    """Hash with `hasher` from now on; None chooses again from the environment. For tests
    that need the production cost (login timing) in a process that runs with the test one."""
    global _active
    _active = hasher
    _decoy_hash.cache_clear()


def cheap_hashing() -> bool:
    """True when this process hashes with less than the production cost (said at start)."""
    active, production = _hasher(), production_hasher()
    return active.memory_cost < production.memory_cost or active.time_cost < production.time_cost


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if the password matches. Without a stored hash (unknown user, token-only user) a
    hash of a random password is checked instead, so the answer takes the same time either way
    and its timing does not tell who has an account."""
    try:
        return _hasher().verify(stored_hash or _decoy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


@functools.cache
def _decoy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def new_token() -> str:
    """A 256-bit random bearer token; the prefix makes leaked tokens easy to grep for."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of entropy, so a fast hash is enough (no dictionary to guess from)
    # and lets every API request authenticate without a slow argon2 round. Session ids too.
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_session_id() -> str:
    """A 256-bit random session id (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def mac(key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value` under `key`, bound to `purpose` so that a signature made for one
    use (a session cookie) is never accepted for another (a CSRF token)."""
    digest = hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def mac_matches(key: bytes, purpose: str, value: str, given: str) -> bool:
    expected = mac(key, purpose, value).encode("ascii")
    return hmac.compare_digest(expected, given.encode("utf-8", "replace"))


def sign(key: bytes, purpose: str, value: str) -> str:
    return f"{value}.{mac(key, purpose, value)}"


def unsign(key: bytes, purpose: str, signed: str) -> str | None:
    """The value of a `sign`ed string, or None when the signature does not match."""
    value, dot, given = signed.rpartition(".")
    if not dot or not value or not mac_matches(key, purpose, value, given):
        return None
    return value
