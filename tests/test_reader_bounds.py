"""Reader pages answer out-of-range input as the API does (never a 500), and a real 500 page
still carries the security headers every other response has."""

from __future__ import annotations

import base64
import sqlite3

import httpx
import pytest

from liveblog.web.headers import SECURITY_HEADERS

SLUG = "election-night"
PAST_64_BITS = 2**63


def cursor(micros: int, entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"{micros}:{entry_id}".encode()).decode().rstrip("=")


@pytest.mark.parametrize("entry_id", [PAST_64_BITS, 10**30, 0])
def test_an_entry_id_no_entry_can_have_is_not_found(
    http: httpx.Client, blog: dict[str, object], entry_id: int
) -> None:
    """/blogs/{slug}/entries/{id} with an id outside 1..2^63-1 is a 404 page, as in the API."""
    page = http.get(f"/blogs/{SLUG}/entries/{entry_id}")
    api = http.get(f"/api/blogs/{SLUG}/entries/{entry_id}")
    assert page.status_code == api.status_code == 404, page.text


@pytest.mark.parametrize(
    "before", [cursor(1000, PAST_64_BITS), cursor(1000, 0), cursor(10**30, 1), "%00"]
)
def test_a_cursor_out_of_range_is_a_clear_422(
    http: httpx.Client, blog: dict[str, object], before: str
) -> None:
    """An older-entries cursor with an impossible id or time is a 422 naming the cursor, on the
    reader page as in the API."""
    page = http.get(f"/blogs/{SLUG}", params={"before": before})
    api = http.get(f"/api/blogs/{SLUG}/entries", params={"before": before})
    assert page.status_code == api.status_code == 422, page.text
    assert "not a cursor this API returned" in page.text
    assert api.json()["field"] == "before"


def test_the_500_page_carries_the_security_headers(
    http: httpx.Client, blog: dict[str, object], db_url: str
) -> None:
    """When the database breaks under a request, the 500 (page and JSON) still has the CSP and
    the other headers every response carries, and says the connection closes (so the next
    request on the same client opens a new one instead of failing)."""
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        db.execute("ALTER TABLE entries RENAME TO entries_elsewhere")
    for path in (f"/blogs/{SLUG}", f"/api/blogs/{SLUG}/entries"):
        response = http.get(path)
        assert response.status_code == 500, (path, response.text)
        assert "Traceback" not in response.text
        assert response.headers["connection"] == "close"
        for name, value in SECURITY_HEADERS:
            assert response.headers.get(name.decode()) == value.decode(), (path, name)
