"""Passwords, API tokens and session ids: what is stored is never what a user types or sends."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
TOKEN_PREFIX = "lb_"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if the password matches. Without a stored hash (unknown user, token-only user) a
    hash of a random password is checked instead, so the answer takes the same time either way
    and its timing does not tell who has an account."""
    try:
        return _HASHER.verify(stored_hash or _decoy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


@functools.cache
def _decoy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


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
