"""Password hashing cost: production parameters unless a test run asks for cheap ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import argon2
from argon2.profiles import RFC_9106_LOW_MEMORY

from liveblog import credentials

# Runs in a fresh interpreter with the profile variable unset, as a production process would.
PRODUCTION_PROCESS = """
import json, sys
from liveblog import credentials
cheap_hash = sys.stdin.read()
print(json.dumps({
    "hash": credentials.hash_password("correct horse battery"),
    "cheap": credentials.cheap_hashing(),
    "verifies_cheap_hash": credentials.verify_password(cheap_hash, "correct horse battery"),
    "rehashes_cheap_hash": credentials.needs_rehash(cheap_hash),
}))
"""


def test_with_nothing_set_passwords_get_the_librarys_recommended_parameters() -> None:
    """A process without LIVEBLOG_ARGON2_PROFILE hashes with argon2-cffi's recommended
    parameters (RFC 9106's low-memory argon2id), still accepts a password hashed cheaply by a
    test run, and would rehash it at that login; the suite itself hashes cheaply."""
    cheap_hash = credentials.hash_password("correct horse battery")
    assert credentials.cheap_hashing()
    assert argon2.extract_parameters(cheap_hash).memory_cost < RFC_9106_LOW_MEMORY.memory_cost

    env = {k: v for k, v in os.environ.items() if k != credentials.PROFILE_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROCESS],
        input=cheap_hash,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    production = json.loads(done.stdout)
    assert argon2.extract_parameters(production["hash"]) == RFC_9106_LOW_MEMORY
    recommended = argon2.PasswordHasher()
    assert argon2.extract_parameters(production["hash"]).memory_cost == recommended.memory_cost
    assert not production["cheap"]
    assert production["verifies_cheap_hash"] and production["rehashes_cheap_hash"]


def test_cheap_hashes_still_tell_right_from_wrong() -> None:
    """The test parameters are a real argon2id with a full salt and digest: a wrong password,
    an unknown user and a damaged hash are all refused."""
    stored = credentials.hash_password("correct horse battery")
    params = argon2.extract_parameters(stored)
    assert params.type is argon2.Type.ID and params.hash_len == 32 and params.salt_len == 16
    assert credentials.verify_password(stored, "correct horse battery")
    assert not credentials.verify_password(stored, "correct horse batterY")
    assert not credentials.verify_password(None, "correct horse battery")
    assert not credentials.verify_password(stored[:-4], "correct horse battery")
    assert stored != credentials.hash_password("correct horse battery")  # salted
