from conftest import Tokens, auth
import httpx


def test_publish_through_api_then_read_it_back(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """An entry an editor POSTs is served back by the public entries list."""
    r = http.post("/api/blogs/election-night/entries", json={"body": "First *results*"}, headers=auth(tokens.editor))
    assert r.status_code == 201, r.text
    listed = http.get("/api/blogs/election-night/entries").json()
    assert [e["html"] for e in listed["entries"]] == ["<p>First <em>results</em></p>\n"]
