"""The desk's home page over real HTTP and in a real browser: the blog list, and the form that
starts a blog, which refuses bad input and forged requests clearly and creates nothing then."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from liveblog.web.security import CSP

from browser import CSP_WATCH, Watched
from conftest import LiveServer, Team
from test_login import EDITOR, csrf_in, error_text, log_in

CONTRIBUTOR = ("cora", "contrib-password")
ADMIN = ("ada", "admin-password")
STORM = {
    "title": "Storm Eunice",
    "slug": "storm-eunice",
    "description": "Gales across the country",
    "language": "en-GB",
    "timezone": "Europe/London",
}


def desk_as(http: httpx.Client, user: tuple[str, str]) -> str:
    """Log in and return the desk page's CSRF token."""
    assert log_in(http, *user).status_code == 303
    page = http.get("/desk")
    assert page.status_code == 200, page.text
    return csrf_in(page.text)


def field_value(page: str, name: str) -> str:
    if name == "description":
        found = re.search(r'name="description"[^>]*>([^<]*)</textarea>', page)
    else:
        found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    assert found is not None, page
    return html.unescape(found.group(1))


def error(response: httpx.Response) -> str:
    return html.unescape(error_text(response.text))


def test_an_editor_creates_a_blog_and_lands_on_its_desk(
    http: httpx.Client, live: LiveServer
) -> None:
    """The form's blog is created with every field as typed, the answer is a 303 to its desk
    page, which exists, and the desk's list links it and its reader page."""
    token = desk_as(http, EDITOR)
    response = http.post("/desk/blogs", data={**STORM, "csrf": token})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/desk/blogs/storm-eunice"
    assert http.get(response.headers["location"]).status_code == 200
    blog = live.svc.blog("storm-eunice")
    assert (blog.title, blog.description, blog.language, blog.timezone) == (
        "Storm Eunice", "Gales across the country", "en-GB", "Europe/London"
    )  # fmt: skip
    listed = http.get("/desk").text
    assert '<a href="/desk/blogs/storm-eunice">Storm Eunice</a>' in listed
    assert '<a href="/blogs/storm-eunice">Reader page</a>' in listed


def test_the_list_is_newest_first_with_status_and_last_update(
    http: httpx.Client, live: LiveServer, team: Team
) -> None:
    """Blogs are listed newest first, each with its status and last update time in its zone."""
    live.svc.create_blog(team.editor, slug="older", title="Older", timezone="Asia/Tokyo")
    live.svc.create_blog(team.editor, slug="newer", title="Newer")
    live.svc.update_blog(team.editor, "older", {"status": "ended"})
    desk_as(http, EDITOR)
    page = http.get("/desk").text
    assert page.index("/desk/blogs/newer") < page.index("/desk/blogs/older")
    older = page[page.index("/desk/blogs/older") - 200 :]
    assert "badge-ended" in older and "JST</time>" in older
    assert 'badge-live">live</span> <a href="/desk/blogs/newer">' in page


def test_a_fresh_form_offers_english_and_utc_and_the_page_keeps_the_strict_csp(
    http: httpx.Client,
) -> None:
    """The new-blog form starts with language 'en' and time zone 'UTC', offers common zones,
    and the page loads only its own script file, no inline script or style."""
    desk_as(http, EDITOR)
    page = http.get("/desk")
    assert field_value(page.text, "language") == "en"
    assert field_value(page.text, "timezone") == "UTC"
    assert '<option value="Europe/Kyiv">' in page.text
    assert page.headers["content-security-policy"] == CSP
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/desk_home.js" defer>']
    assert " style=" not in page.text and "<style" not in page.text


def test_a_missing_or_forged_csrf_token_is_refused(http: httpx.Client, live: LiveServer) -> None:
    """Without the session's CSRF token the form gets a 403 naming the token, and no blog."""
    token = desk_as(http, EDITOR)
    for form in ({}, {"csrf": "forged" + token[6:]}):
        refused = http.post("/desk/blogs", data={**STORM, **form})
        assert refused.status_code == 403, refused.text
        assert "CSRF token" in refused.text
    assert live.svc.blogs() == []


def test_a_contributor_sees_no_form_and_is_refused_with_403(
    http: httpx.Client, live: LiveServer
) -> None:
    """A contributor's desk has no new-blog form, and posting one anyway is 403 with nothing
    created."""
    token = desk_as(http, CONTRIBUTOR)
    page = http.get("/desk").text
    assert 'action="/desk/blogs"' not in page and "desk_home.js" not in page
    refused = http.post("/desk/blogs", data={**STORM, "csrf": token})
    assert refused.status_code == 403, refused.text
    assert "contributor may not create blogs" in refused.text
    assert live.svc.blogs() == []


def test_a_taken_slug_is_409_naming_the_slug_with_the_values_kept(
    http: httpx.Client, live: LiveServer, team: Team
) -> None:
    """A slug already in use is refused with 409 and a message naming the slug; the form comes
    back with everything the editor typed, and the existing blog is untouched."""
    live.svc.create_blog(team.editor, slug="storm-eunice", title="The first one")
    token = desk_as(http, EDITOR)
    refused = http.post("/desk/blogs", data={**STORM, "csrf": token})
    assert refused.status_code == 409, refused.text
    assert error(refused) == "Slug: a blog with slug 'storm-eunice' already exists."
    for name, value in STORM.items():
        assert field_value(refused.text, name) == value, name
    assert re.search(r'<input id="blog-slug"[^>]*aria-invalid="true"', refused.text)
    assert [b.title for b in live.svc.blogs()] == ["The first one"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "Time zone: unknown IANA time zone"),
        ({"title": "  "}, "Title: must not be empty."),
        ({"slug": "Storm Eunice!"}, "Slug: use 1-80 lower-case letters"),
        ({"language": "english please"}, "Language: use a BCP 47 language tag"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_creates_nothing(
    http: httpx.Client, live: LiveServer, change: dict[str, str], message: str
) -> None:
    """An unknown time zone, an empty title, a bad slug or language tag: 422, a message that
    names the field, the typed values kept, and no blog."""
    token = desk_as(http, EDITOR)
    refused = http.post("/desk/blogs", data={**STORM, **change, "csrf": token})
    assert refused.status_code == 422, refused.text
    assert error(refused).startswith(message)
    assert field_value(refused.text, "description") == STORM["description"]
    for name, value in change.items():
        assert field_value(refused.text, name) == value.strip()
    assert live.svc.blogs() == []


def test_without_a_session_the_desk_and_the_form_go_to_the_login_page(
    http: httpx.Client, live: LiveServer
) -> None:
    """Not logged in, the desk and the form's target both redirect to the login page, which
    leads back to the desk; nothing is created."""
    for response in (http.get("/desk"), http.post("/desk/blogs", data=STORM)):
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fdesk"
    assert live.svc.blogs() == []


def test_only_an_admin_is_shown_the_admin_link(http: httpx.Client) -> None:
    """The desk links /desk/admin for an admin and not for an editor."""
    desk_as(http, EDITOR)
    assert 'href="/desk/admin"' not in http.get("/desk").text
    http.cookies.clear()
    desk_as(http, ADMIN)
    page = http.get("/desk").text
    assert 'href="/desk/admin"' in page and "(admin)" in page


def test_the_slug_follows_the_title_until_edited_by_hand(
    browser: Browser, live: LiveServer
) -> None:
    """Typing a French title suggests its ASCII slug; once the editor edits the slug it stays
    theirs while the title changes; the form then creates that blog; no CSP violations."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(CSP_WATCH)
        watched = Watched(page)
        page.on("console", watched.on_console)
        page.goto(f"{live.url}/desk")
        page.fill("#username", EDITOR[0])
        page.fill("#password", EDITOR[1])
        page.click("button[type=submit]")
        expect(page.locator("#desk-user")).to_have_text("eddie")
        title, slug = page.locator("#blog-title"), page.locator("#blog-slug")
        title.fill("Gale " * 20)  # cut to 80 characters, then the trailing hyphen dropped
        expect(slug).to_have_value("gale-" * 15 + "gale")
        title.fill("")
        title.press_sequentially("Élection présidentielle : résultats")
        expect(slug).to_have_value("election-presidentielle-resultats")
        slug.fill("presidentielle-2027")
        title.press("End")
        title.press_sequentially(" en direct")
        expect(title).to_have_value("Élection présidentielle : résultats en direct")
        expect(slug).to_have_value("presidentielle-2027")
        assert watched.errors == [] and watched.csp_violations() == []
        page.click("#new-blog button[type=submit]")
        expect(page).to_have_url(f"{live.url}/desk/blogs/presidentielle-2027")
    finally:
        context.close()
