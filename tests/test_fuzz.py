"""The long fuzz runs (make fuzz, not make test): the request fuzzers whose short runs are in
test_api_errors.py, over many more seeds and on both backends (PostgreSQL refuses NUL and
ranges integers differently from SQLite, and found bugs of its own)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import Tokens
from fuzzing import fuzz_reads, fuzz_writes

pytestmark = pytest.mark.fuzz

REQUESTS_PER_SEED = 1000


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each run once per backend: the conftest chain (store, team, live server, tokens, blog)
    follows this URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'liveblog.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.mark.parametrize("seed", range(1, 17))
def test_many_seeds_of_malformed_writes_never_cause_a_server_error(
    http: httpx.Client, tokens: Tokens, blog: dict, seed: int
) -> None:
    """A thousand malformed requests per seed at every write endpoint, on a fresh database of
    each backend, all get a < 500 JSON answer, and a good share of them got past parsing."""
    tally = fuzz_writes(http, tokens, seed=seed, count=REQUESTS_PER_SEED)
    assert not tally.failures, "\n".join(tally.failures[:20])
    assert tally.past_parsing > REQUESTS_PER_SEED // 4, tally.statuses


@pytest.mark.parametrize("seed", range(1, 9))
def test_many_seeds_of_garbage_reads_never_cause_a_server_error(
    http: httpx.Client, tokens: Tokens, blog: dict, seed: int
) -> None:
    """A thousand garbage query strings, paths and validators per seed on every read endpoint,
    on each backend, all get a < 500 answer with a JSON error for every 4xx."""
    failures = fuzz_reads(http, tokens, seed=seed, count=REQUESTS_PER_SEED)
    assert not failures, "\n".join(failures[:20])
