"""Pictures and embeds in a real browser (Debian's chromium): an editor drops photos into the
desk's composer and publishes; an open reader page shows the gallery live without layout shift;
a retraction takes the pictures off the open page; an embed loads nothing from its platform
until the reader asks."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from browser import CSP_WATCH, SLUG, Newsroom, Watched, open_blog
from conftest import LiveServer, Tokens, auth
from pictures import jpeg, photo

expect.set_options(timeout=8000)
DESK = f"/desk/blogs/{SLUG}"
SHOTS = Path("/tmp/media-shots")
# Counts layout shifts from the moment the test resets it (window.__shift = 0).
SHIFT_WATCH = """
window.__shift = 0;
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) { if (!e.hadRecentInput) window.__shift += e.value; });
}).observe({ type: "layout-shift", buffered: true });
"""


def new_page(browser: Browser, contexts: list[BrowserContext], width: int = 1280) -> Watched:
    context = browser.new_context(viewport={"width": width, "height": 900})
    contexts.append(context)
    page = context.new_page()
    page.add_init_script(CSP_WATCH)
    page.add_init_script(SHIFT_WATCH)
    watched = Watched(page)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))
    return watched


def sign_in_to_desk(watched: Watched, live: LiveServer) -> Page:
    page = watched.page
    page.goto(f"{live.url}{DESK}")
    page.fill("#username", "eddie")
    page.fill("#password", "editor-password")
    with page.expect_response(lambda r: "/stream" in r.url and r.status == 200):
        page.click("button[type=submit]")
    return page


def drop_files(page: Page, files: list[tuple[str, bytes]]) -> None:
    """Drop files onto the composer as a file manager would (a real DataTransfer)."""
    payload = [{"name": n, "b64": base64.b64encode(d).decode()} for n, d in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: "image/jpeg" }));
            }
            return dt;
        }""",
        payload,
    )
    page.dispatch_event("#composer", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#composer", "drop", {"dataTransfer": transfer})


def test_editor_drops_two_photos_and_an_open_reader_page_shows_the_gallery_live(
    browser: Browser, contexts: list[BrowserContext], live: LiveServer, blog: dict[str, Any]
) -> None:
    """Two photos dropped into the composer, described and published, appear on an open reader
    page as a gallery with captions, credits and srcset, load without shifting the layout, and
    neither page reports a console error or CSP violation."""
    reader = new_page(browser, contexts)
    reader_page = open_blog(reader, live)
    editor = new_page(browser, contexts)
    page = sign_in_to_desk(editor, live)
    drop_files(
        page,
        [
            ("border.jpg", jpeg(photo(1800, 1200, (60, 90, 140)))),
            ("trucks.jpg", jpeg(photo(1800, 1200, (150, 80, 40)))),
        ],
    )
    items = page.locator("#picture-tray li.picture")
    expect(items).to_have_count(2)
    texts = [
        (
            "Cars wait in long lines at the checkpoint",
            "Cars queue near Vaalimaa.",
            "OLIVIER MORIN/AFP",
        ),
        ("Trucks parked along the road", "Trucks wait on the Finnish side.", "Reuters"),
    ]
    for i, (alt, caption, credit) in enumerate(texts):
        item = items.nth(i)
        item.locator("[data-field=alt]").fill(alt)
        item.locator("[data-field=caption]").fill(caption)
        item.locator("[data-field=credit]").fill(credit)
    page.fill("#headline", "Long lines at the border")
    page.fill("#body", "Photographers captured long lines of cars.")
    page.click("#publish")
    expect(page.locator("#composer-status")).to_have_text("Published.")
    expect(page.locator("#picture-tray li")).to_have_count(0)

    article = reader_page.locator("#entries article").first
    expect(article.locator("figure")).to_have_count(2)
    reader_page.evaluate("window.__shift = 0")
    expect(article.locator(".gallery")).to_be_visible()
    captions = article.locator("figcaption")
    expect(captions.nth(0)).to_contain_text("Cars queue near Vaalimaa.")
    expect(captions.nth(0)).to_contain_text("OLIVIER MORIN/AFP")
    expect(captions.nth(1)).to_contain_text("Reuters")
    img = article.locator("img").first
    assert img.get_attribute("alt") == "Cars wait in long lines at the checkpoint"
    srcset = img.get_attribute("srcset") or ""
    assert " 480w" in srcset and " 1600w" in srcset, srcset
    assert img.get_attribute("width") and img.get_attribute("height")
    source = article.locator("picture source").first
    assert source.get_attribute("type") in ("image/avif", "image/webp")
    reader_page.wait_for_function(
        "Array.from(document.querySelectorAll('#entries article img'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert reader_page.evaluate("window.__shift") < 0.001
    assert reader.errors == [] and reader.csp_violations() == []
    assert editor.errors == [] and editor.csp_violations() == []
    SHOTS.mkdir(exist_ok=True)
    article.screenshot(path=str(SHOTS / "reader-gallery-1280.png"))
    page.screenshot(path=str(SHOTS / "desk-1280.png"), full_page=True)


def test_retracting_an_entry_takes_its_pictures_off_an_open_page(
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    blog: dict[str, Any],
    tokens: Tokens,
) -> None:
    """An open reader page that shows an entry's photo loses entry and photo the moment the
    entry is retracted, and the photo's URL is gone (410)."""
    newsroom = Newsroom(live, tokens.editor)
    r = newsroom.client.post(
        f"/api/blogs/{SLUG}/media",
        files={"file": ("p.jpg", jpeg(photo()), "image/jpeg")},
        data={"alt": "A flooded street", "caption": "Water in the old town"},
    )
    assert r.status_code == 201, r.text
    picture = r.json()
    made = newsroom.client.post(
        f"/api/blogs/{SLUG}/entries", json={"body": "Flooding", "media": [picture["id"]]}
    ).json()
    reader = new_page(browser, contexts, width=390)
    page = open_blog(reader, live)
    expect(page.locator(f"#entry-{made['id']} figure")).to_have_count(1)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "reader-photo-390.png"))
    newsroom.retract(made)
    expect(page.locator(f"#entry-{made['id']}")).to_have_count(0)
    expect(page.locator("figure")).to_have_count(0)
    assert httpx.get(live.url + picture["renditions"][0]["url"]).status_code == 410


def test_an_embed_on_the_reader_page_loads_nothing_until_the_reader_clicks(
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    blog: dict[str, Any],
    tokens: Tokens,
) -> None:
    """A YouTube link on its own line is a placeholder: the page requests nothing from any
    other host until "Load content from YouTube" is clicked, then a sandboxed frame from the
    privacy-enhanced host loads, within the page's CSP."""
    with httpx.Client(base_url=live.url, headers=auth(tokens.editor)) as http:
        http.post(
            f"/api/blogs/{SLUG}/entries",
            json={"body": "The minister spoke:\n\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ"},
        )
    reader = new_page(browser, contexts)
    page = reader.page
    foreign: list[str] = []
    page.on("request", lambda req: foreign.append(req.url) if "127.0.0.1" not in req.url else None)

    def stub(route: Route) -> None:  # no internet here: the platform answers from the test
        route.fulfill(status=200, content_type="text/html", body="<p>video player</p>")

    page.route("https://www.youtube-nocookie.com/**", stub)
    open_blog(reader, live)
    button = page.get_by_role("button", name="Load content from YouTube")
    expect(button).to_be_visible()
    page.wait_for_timeout(300)
    assert foreign == [], foreign
    button.click()
    frame = page.locator("iframe[src*='youtube-nocookie.com/embed/dQw4w9WgXcQ']")
    expect(frame).to_have_count(1)
    assert frame.get_attribute("sandbox")
    page.wait_for_timeout(300)
    assert foreign and all("youtube-nocookie.com" in url for url in foreign), foreign
    assert reader.csp_violations() == [] and reader.errors == []


def test_editing_a_caption_on_the_desk_changes_it_on_an_open_reader_page(
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    blog: dict[str, Any],
    tokens: Tokens,
) -> None:
    """Edit loads an entry's pictures into the composer with their texts; a changed caption,
    saved, replaces the old one on an open reader page without a reload."""
    newsroom = Newsroom(live, tokens.editor)
    r = newsroom.client.post(
        f"/api/blogs/{SLUG}/media",
        files={"file": ("p.jpg", jpeg(photo()), "image/jpeg")},
        data={"alt": "Sandbags at the river", "caption": "Sandbags along the quay."},
    )
    made = newsroom.client.post(
        f"/api/blogs/{SLUG}/entries", json={"body": "Defences up", "media": [r.json()["id"]]}
    ).json()
    reader = new_page(browser, contexts, width=390)
    reader_page = open_blog(reader, live)
    expect(reader_page.locator(f"#entry-{made['id']} figcaption")).to_contain_text("the quay")
    editor = new_page(browser, contexts)
    page = sign_in_to_desk(editor, live)
    page.locator(f"#desk-entry-{made['id']} button[data-action=edit]").click()
    caption = page.locator("#picture-tray li.picture [data-field=caption]")
    expect(caption).to_have_value("Sandbags along the quay.")
    expect(page.locator("#picture-tray li.picture [data-field=alt]")).to_have_value(
        "Sandbags at the river"
    )
    caption.fill("Sandbags along the quay, three layers high.")
    page.click("#publish")
    expect(page.locator("#composer-status")).to_have_text("Saved.")
    expect(reader_page.locator(f"#entry-{made['id']} figcaption")).to_contain_text(
        "three layers high"
    )
    assert editor.errors == [] and reader.errors == []
