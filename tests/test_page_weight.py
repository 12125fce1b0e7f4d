"""What a reader's first visit costs: a 50-entry blog's page with its styles and scripts comes
to under 60 KB compressed (pictures aside), its scripts to under 12 KB, and a page of an ended
blog makes no request once it has loaded."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from conftest import LiveServer, Team, auth

SLUG = "flood-night"
PAGE_BUDGET = 60 * 1024
SCRIPT_BUDGET = 12 * 1024
# A typical update: a headline, two short paragraphs, a list, a quote and a link.
BODY = (
    "**Update {n}**: emergency services say the ring road is closed between junctions 4 and 7 "
    "after the river rose above the flood barrier overnight. [Live traffic map]"
    "(https://example.org/traffic) shows the diversions.\n\n"
    "- Ferries suspended until 18:00\n- Schools in the *north district* closed\n"
    "- Call 112 only in an emergency\n\n"
    '> "We are asking people to stay at home tonight," the mayor said.'
)
# Words to make each entry's second paragraph its own, so the page compresses like real prose
# rather than like fifty copies of one text.
WORDS = re.findall(
    r"\w+",
    "water level barrier district council residents evacuation shelter volunteers bridge "
    "closed open rescue boats helicopter army police mayor minister forecast rain wind "
    "storm night morning hours power outage homes roads trains buses school hospital "
    "patients doctors supplies drinking sandbags pumps engineers damage estimate insurance "
    "farmers fields cattle village town centre square market families children elderly "
    "neighbours reported confirmed warned said according statement officials agency "
    "meteorological north south east west river banks levee breach flooded cellars streets "
    "cars stranded",
)
ASSET = re.compile(r'<(?:script src|link rel="stylesheet" href)="(/static/[^"]+)"')


@pytest.fixture
def blog_of_fifty(db_url: str, tmp_path: Path, team: Team) -> Iterator[LiveServer]:
    live = LiveServer(db_url, tmp_path).start()
    token = live.svc.create_token(team.editor.name)
    with httpx.Client(base_url=live.url, headers=auth(token)) as http:
        points = ["Ring road closed", "Ferries suspended", "Schools shut in the north"]
        http.post("/api/blogs", json={"slug": SLUG, "title": "Flood night", "key_points": points})
        for n in range(50):
            words = random.Random(n).choices(WORDS, k=45)
            body = BODY.format(n=n) + "\n\n" + " ".join(words).capitalize() + "."
            entry = {"headline": f"Flood update {n}", "body": body}
            assert http.post(f"/api/blogs/{SLUG}/entries", json=entry).status_code == 201
    yield live
    live.stop()


def compressed_size(url: str, path: str) -> int:
    with httpx.Client(base_url=url) as client:
        client.headers.pop("accept-encoding")
        with client.stream("GET", path, headers={"Accept-Encoding": "br"}) as response:
            assert response.status_code == 200, path
            assert response.headers.get("content-encoding") == "br", path
            return sum(len(chunk) for chunk in response.iter_raw())


def test_a_first_visit_stays_within_its_budget(blog_of_fifty: LiveServer) -> None:
    """Page, styles and scripts of the newest 50 entries weigh under 60 KB as sent (brotli),
    the scripts under 12 KB."""
    url = blog_of_fifty.url
    html = httpx.get(f"{url}/blogs/{SLUG}").text
    assert html.count('<article class="entry') >= 50
    assets = ASSET.findall(html)
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts and any(a.endswith(".css") for a in assets)
    page = compressed_size(url, f"/blogs/{SLUG}")
    sizes = {a: compressed_size(url, a) for a in assets}
    total = page + sum(sizes.values())
    script_total = sum(sizes[a] for a in scripts)
    assert total < PAGE_BUDGET, f"first load {total:,} B: page {page:,} B, assets {sizes}"
    assert script_total < SCRIPT_BUDGET, f"scripts {script_total:,} B: {sizes}"


def test_an_ended_blog_makes_no_request_after_load(
    browser: Browser, blog_of_fifty: LiveServer, team: Team
) -> None:
    """Once the page of an ended blog has loaded, nothing more is fetched: no stream, no
    polling, however long it stays open."""
    token = blog_of_fifty.svc.create_token(team.editor.name)
    with httpx.Client(base_url=blog_of_fifty.url, headers=auth(token)) as http:
        assert http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}).status_code == 200
    context = browser.new_context()
    try:
        page = context.new_page()
        late: list[str] = []
        page.goto(f"{blog_of_fifty.url}/blogs/{SLUG}", wait_until="load")
        page.on("request", lambda request: late.append(request.url))
        page.wait_for_timeout(3000)
        assert late == [], late
        assert "ended" in page.locator("main").inner_text().lower()
    finally:
        context.close()
