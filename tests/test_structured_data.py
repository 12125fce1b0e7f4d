"""The reader pages' JSON-LD, canonical link, Open Graph and Twitter tags, read from the real
served pages and checked against the schema.org vocabulary (a fixture: no network)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import extruct
import httpx
import pytest
from pyld import jsonld

from conftest import LiveServer, Team, Tokens, auth
from pictures import jpeg, photo

BASE = "https://live.example.org"
LOGO = "https://cdn.example.org/logo.png"
SHARE = "https://cdn.example.org/share.jpg"
SLUG = "election-night"
ENTRIES = f"/api/blogs/{SLUG}/entries"
FIXTURES = Path(__file__).parent / "fixtures" / "schemaorg"
CONTEXTS = ("https://schema.org", "https://schema.org/", "http://schema.org", "http://schema.org/")


# --- the vocabulary and the checker -----------------------------------------------------------


class Vocabulary:
    """schema.org's classes and properties (all layers, pending included), by local name."""

    def __init__(self, graph: list[dict[str, Any]]) -> None:
        self.classes: set[str] = set()
        self.parents: dict[str, set[str]] = {}
        self.domains: dict[str, set[str]] = {}
        self.superseded: set[str] = set()
        for node in graph:
            name = _local(node["@id"])
            if name is None:
                continue
            kinds = node["@type"] if isinstance(node["@type"], list) else [node["@type"]]
            if "rdfs:Class" in kinds:
                self.classes.add(name)
                self.parents[name] = _names(node, "rdfs:subClassOf")
            if "rdf:Property" in kinds:
                self.domains[name] = _names(node, "schema:domainIncludes")
            if "schema:supersededBy" in node:
                self.superseded.add(name)

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.parents.get(current, ()))
        return seen

    def allows(self, kind: str, prop: str) -> bool:
        return bool(self.domains[prop] & self.ancestors(kind))


def _names(node: dict[str, Any], key: str) -> set[str]:
    value = node.get(key, [])
    return {_local(v["@id"]) or "" for v in (value if isinstance(value, list) else [value])}


def _local(iri: str) -> str | None:
    for prefix in ("schema:", "https://schema.org/", "http://schema.org/"):
        if iri.startswith(prefix):
            return iri[len(prefix) :]
    return None


@cache
def vocabulary() -> Vocabulary:
    with gzip.open(FIXTURES / "schemaorg-all-https.jsonld.gz", "rt", encoding="utf-8") as f:
        return Vocabulary(json.load(f)["@graph"])


@cache
def _context_document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "schemaorgcontext.jsonld").read_text())
    return data


def local_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld's document loader without a network: schema.org's context from the fixture."""
    if url not in CONTEXTS:
        raise jsonld.JsonLdError(f"no network in tests: {url}", "loading document failed")
    return {"contextUrl": None, "documentUrl": url, "document": _context_document()}


def schema_problems(doc: dict[str, Any]) -> list[str]:
    """Every type and property of `doc` that schema.org does not define, or uses a property on
    a type outside its domain (walking rdfs:subClassOf); [] when the document is sound."""
    if doc.get("@context") not in CONTEXTS:
        return [f"@context is {doc.get('@context')!r}, not schema.org"]
    expanded = jsonld.expand(doc, {"documentLoader": local_loader})
    if not expanded:
        return ["nothing left once expanded"]
    problems: list[str] = []
    for node in expanded:
        _check_node(vocabulary(), node, "$", problems)
    return problems


def _check_node(vocab: Vocabulary, node: dict[str, Any], path: str, out: list[str]) -> None:
    types = [_local(t) for t in node.get("@type", [])]
    if not types:
        out.append(f"{path}: a node without @type")
    for kind in types:
        if kind not in vocab.classes:
            out.append(f"{path}: unknown type {kind!r}")
    known = [t for t in types if t in vocab.classes]
    for key, values in node.items():
        if key.startswith("@"):
            continue
        prop = _local(key)
        if prop is None or prop not in vocab.domains:
            out.append(f"{path}: unknown property {prop or key!r}")
            continue
        if prop in vocab.superseded:
            out.append(f"{path}: {prop!r} is superseded")
        if known and not any(vocab.allows(t, prop) for t in known):
            out.append(f"{path}: {prop!r} is not a property of {', '.join(known)}")
        for i, value in enumerate(values):
            if isinstance(value, dict) and "@value" not in value and set(value) != {"@id"}:
                _check_node(vocab, value, f"{path}.{prop}[{i}]", out)


# --- pages ------------------------------------------------------------------------------------


class _Head(HTMLParser):
    """Element ids, <link rel=canonical> and <meta> tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.meta: dict[str, str] = {}
        self.canonical: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical.append(a["href"])
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")


def head_of(html: str) -> _Head:
    parser = _Head()
    parser.feed(html)
    return parser


def json_ld(html: str, url: str) -> dict[str, Any]:
    found = extruct.extract(html, base_url=url, syntaxes=["json-ld"])["json-ld"]
    assert len(found) == 1, found
    data: dict[str, Any] = found[0]
    return data


def page(http: httpx.Client, path: str) -> str:
    r = http.get(path)
    assert r.status_code == 200, r.text
    return r.text


def post(http: httpx.Client, token: str, **payload: Any) -> dict[str, Any]:
    r = http.post(ENTRIES, json=payload, headers=auth(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def upload(http: httpx.Client, token: str, alt: str, size: tuple[int, int]) -> dict[str, Any]:
    r = http.post(
        f"/api/blogs/{SLUG}/media",
        files={"file": ("photo.jpg", jpeg(photo(*size)), "image/jpeg")},
        data={"alt": alt},
        headers=auth(token),
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def largest_jpeg(item: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = max(
        (r for r in item["renditions"] if r["format"] == "jpeg"), key=lambda r: r["width"]
    )
    return found


@pytest.fixture
def live(db_url: str, tmp_path: Path, team: Team) -> Iterator[LiveServer]:
    """The app on 127.0.0.1 while its configured public address is another: every URL the
    pages give must be on the configured one."""
    server = LiveServer(
        db_url,
        tmp_path,
        base_url=BASE,
        site_name="Example Live",
        publisher_name="Example News",
        publisher_logo=LOGO,
        share_image=SHARE,
    ).start()
    yield server
    server.stop()


# --- the checker itself ------------------------------------------------------------------------


def test_checker_rejects_a_misspelt_property_and_a_missing_context() -> None:
    """The vocabulary check fails a misspelt property, an unknown type and a missing @context."""
    good = {"@context": "https://schema.org", "@type": "LiveBlogPosting", "headline": "x"}
    assert schema_problems(good) == []
    misspelt = {"@context": "https://schema.org", "@type": "LiveBlogPosting", "headlien": "x"}
    assert schema_problems(misspelt) == ["$: unknown property 'headlien'"]
    assert schema_problems({**good, "@type": "LiveBlogPost"}) == ["$: unknown type 'LiveBlogPost'"]
    assert schema_problems({"@type": "LiveBlogPosting", "headline": "x"}) != []


def test_checker_rejects_a_property_outside_its_types_domain() -> None:
    """A real property on a type its domain does not include fails; an inherited one passes."""
    doc = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "author": {"@type": "Person", "name": "A", "coverageStartTime": "2026-01-01T00:00:00Z"},
    }
    assert schema_problems(doc) == ["$.author[0]: 'coverageStartTime' is not a property of Person"]
    inherited = {"@context": "http://schema.org/", "@type": "LiveBlogPosting", "articleBody": "x"}
    assert schema_problems(inherited) == []


# --- the blog page -------------------------------------------------------------------------------


def test_blog_page_json_ld_is_valid_and_every_update_resolves_on_the_page(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """The blog page's LiveBlogPosting passes the vocabulary check, lists the pinned and listed
    entries, each `#entry-ID` an element of the page, every URL on the configured base."""
    cover = upload(http, tokens.editor, "Queue at the polling station", (1600, 900))
    http.patch(f"/api/blogs/{SLUG}", json={"cover": cover["id"]}, headers=auth(tokens.editor))
    picture = upload(http, tokens.editor, "Ballot boxes", (1200, 800))
    first = post(http, tokens.editor, body="Polls are open.\n\nTurnout is *high*.")
    pinned = post(http, tokens.editor, headline="Results at 22:00", body="Stay", pinned=True)
    photo_entry = post(http, tokens.editor, body="Counting begins", media=[picture["id"]])

    html = page(http, f"/blogs/{SLUG}")
    data = json_ld(html, BASE)
    assert schema_problems(data) == []
    assert data["@type"] == "LiveBlogPosting" and data["headline"] == "Election night"
    assert data["url"] == f"{BASE}/blogs/{SLUG}" and data["inLanguage"] == "de"
    assert data["coverageStartTime"] == blog["created_at"] and "coverageEndTime" not in data
    assert data["publisher"] == {
        "@type": "Organization",
        "name": "Example News",
        "logo": {"@type": "ImageObject", "url": LOGO},
    }
    assert data["image"] == BASE + largest_jpeg(cover)["url"]
    updates = {u["url"]: u for u in data["liveBlogUpdate"]}
    expected = {f"{BASE}/blogs/{SLUG}#entry-{e['id']}" for e in (first, pinned, photo_entry)}
    assert set(updates) == expected
    ids = head_of(html).ids
    assert all(url.split("#", 1)[1] in ids for url in updates)
    one = updates[f"{BASE}/blogs/{SLUG}#entry-{first['id']}"]
    assert one["articleBody"] == "Polls are open.\nTurnout is high."
    assert one["headline"] == "Polls are open." and one["author"] == {
        "@type": "Person",
        "name": "eddie",
    }
    assert datetime.fromisoformat(one["datePublished"]) <= datetime.fromisoformat(
        one["dateModified"]
    )
    with_photo = updates[f"{BASE}/blogs/{SLUG}#entry-{photo_entry['id']}"]
    assert with_photo["image"] == BASE + largest_jpeg(picture)["url"]
    assert updates[f"{BASE}/blogs/{SLUG}#entry-{pinned['id']}"]["headline"] == "Results at 22:00"


def test_an_ended_blog_without_a_cover_names_its_end_and_the_share_image(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Once ended the LiveBlogPosting carries coverageEndTime; with no cover its image is the
    site's share image."""
    post(http, tokens.editor, body="Good night")
    r = http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=auth(tokens.editor))
    assert r.status_code == 200, r.text
    data = json_ld(page(http, f"/blogs/{SLUG}"), BASE)
    assert schema_problems(data) == []
    assert data["coverageEndTime"] == r.json()["ended_at"] and data["image"] == SHARE


def test_a_retracted_entry_leaves_the_json_ld(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """After a retraction the entry is gone from the JSON-LD while its public tombstone stays."""
    kept = post(http, tokens.editor, body="Confirmed result")
    gone = post(http, tokens.editor, body="Unverified claim xq7")
    r = http.request(
        "DELETE",
        f"{ENTRIES}/{gone['id']}",
        json={"public_note": "Could not be verified."},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 204
    html = page(http, f"/blogs/{SLUG}")
    data = json_ld(html, BASE)
    assert [u["url"] for u in data["liveBlogUpdate"]] == [f"{BASE}/blogs/{SLUG}#entry-{kept['id']}"]
    assert "xq7" not in html and "Could not be verified." in html


def test_a_corrected_entry_carries_its_correction(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A corrected entry's update carries a CorrectionComment with the note and its time."""
    entry = post(http, tokens.editor, body="Turnout 17%")
    r = http.patch(
        f"{ENTRIES}/{entry['id']}",
        json={"body": "Turnout 71%", "correction": "Turnout was misstated.", "version": 1},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 200, r.text
    data = json_ld(page(http, f"/blogs/{SLUG}"), BASE)
    assert schema_problems(data) == []
    (update,) = data["liveBlogUpdate"]
    assert update["correction"] == {
        "@type": "CorrectionComment",
        "text": "Turnout was misstated.",
        "datePublished": r.json()["correction"]["at"],
    }
    assert update["articleBody"] == "Turnout 71%"


def test_text_in_an_entry_cannot_end_the_json_ld_block(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An entry's text with `</script>` and `<!--` stays inside the JSON-LD block, verbatim."""
    text = "Breaking `</script><script>alert(1)</script>` and <!-- too"
    post(http, tokens.editor, body=text)
    html = page(http, f"/blogs/{SLUG}")
    assert "</script><script>alert(1)" not in html
    (update,) = json_ld(html, BASE)["liveBlogUpdate"]
    assert update["articleBody"] == "Breaking </script><script>alert(1)</script> and <!-- too"


def test_an_older_page_lists_its_own_entries_under_its_own_canonical_url(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An older page (?before=) is its own canonical page, and its updates resolve there."""
    made = [post(http, tokens.editor, body=f"Update {n}") for n in range(52)]
    newest = page(http, f"/blogs/{SLUG}")
    link = re.search(r'href="/blogs/election-night\?before=([^"]+)" rel="next"', newest)
    assert link is not None
    html = page(http, f"/blogs/{SLUG}?before={link[1]}")
    canonical = f"{BASE}/blogs/{SLUG}?before={link[1]}"
    assert head_of(html).canonical == [canonical]
    data = json_ld(html, canonical)
    assert schema_problems(data) == []
    urls = [u["url"] for u in data["liveBlogUpdate"]]
    assert urls == [f"{canonical}#entry-{e['id']}" for e in reversed(made[:2])]
    assert all(u.split("#", 1)[1] in head_of(html).ids for u in urls)


# --- the permalink -------------------------------------------------------------------------------


def test_permalink_carries_a_valid_blog_posting_part_of_the_blog(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An entry's permalink carries its own BlogPosting, valid, isPartOf the blog's URL, with
    its first photo as the image."""
    picture = upload(http, tokens.editor, "Ballot boxes", (1200, 800))
    entry = post(http, tokens.editor, headline="Count starts", body="Now", media=[picture["id"]])
    url = f"{BASE}/blogs/{SLUG}/entries/{entry['id']}"
    data = json_ld(page(http, f"/blogs/{SLUG}/entries/{entry['id']}"), url)
    assert schema_problems(data) == []
    assert data["@type"] == "BlogPosting" and data["url"] == url
    assert data["isPartOf"] == f"{BASE}/blogs/{SLUG}" and data["headline"] == "Count starts"
    assert data["image"] == BASE + largest_jpeg(picture)["url"]
    assert data["publisher"]["name"] == "Example News" and data["inLanguage"] == "de"


# --- canonical, Open Graph and Twitter cards ---------------------------------------------------


def test_share_tags_use_the_configured_base_url_never_the_host(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Blog page and permalink carry canonical, Open Graph and Twitter tags with absolute URLs
    on the configured base, though the request went to 127.0.0.1."""
    cover = upload(http, tokens.editor, "Queue at the polling station", (1600, 900))
    http.patch(f"/api/blogs/{SLUG}", json={"cover": cover["id"]}, headers=auth(tokens.editor))
    http.patch(f"/api/blogs/{SLUG}", json={"description": "Results as they come"},
               headers=auth(tokens.editor))  # fmt: skip
    entry = post(http, tokens.editor, body="First results from the north")
    big = largest_jpeg(cover)

    html = page(http, f"/blogs/{SLUG}")
    head = head_of(html)
    assert head.canonical == [f"{BASE}/blogs/{SLUG}"]
    assert {k: head.meta.get(k) for k in ("og:type", "og:title", "og:url", "og:site_name")} == {
        "og:type": "article",
        "og:title": "Election night",
        "og:url": f"{BASE}/blogs/{SLUG}",
        "og:site_name": "Example Live",
    }
    assert head.meta["og:description"] == head.meta["description"] == "Results as they come"
    assert head.meta["og:image"] == head.meta["twitter:image"] == BASE + big["url"]
    assert (head.meta["og:image:width"], head.meta["og:image:height"]) == (
        str(big["width"]),
        str(big["height"]),
    )
    assert head.meta["og:image:alt"] == head.meta["twitter:image:alt"] == cover["alt"]
    assert head.meta["twitter:card"] == "summary_large_image"
    assert head.meta["twitter:title"] == "Election night"
    assert "og:locale" not in head.meta  # "de" names no territory

    permalink = head_of(page(http, f"/blogs/{SLUG}/entries/{entry['id']}"))
    url = f"{BASE}/blogs/{SLUG}/entries/{entry['id']}"
    assert permalink.canonical == [url] and permalink.meta["og:url"] == url
    assert permalink.meta["og:title"] == "First results from the north"
    assert permalink.meta["og:image"] == BASE + big["url"]  # no photo of its own: the cover
    for found in (head, permalink):
        urls = [*found.canonical, *(v for v in found.meta.values() if "://" in v)]
        assert urls and all(u.startswith((f"{BASE}/", "https://cdn.")) for u in urls)
    assert "127.0.0.1" not in html


def test_a_blog_without_any_image_gets_a_summary_card(
    db_url: str, tmp_path: Path, team: Team, tokens: Tokens
) -> None:
    """With no cover and no share image configured the card is a plain summary, no og:image."""
    server = LiveServer(db_url, tmp_path, base_url=BASE).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            r = http.post(
                "/api/blogs",
                json={"slug": SLUG, "title": "Storm", "language": "pt-BR"},
                headers=auth(tokens.editor),
            )
            assert r.status_code == 201, r.text
            head = head_of(page(http, f"/blogs/{SLUG}"))
    finally:
        server.stop()
    assert head.meta["twitter:card"] == "summary" and "og:image" not in head.meta
    assert head.meta["og:locale"] == "pt_BR"
