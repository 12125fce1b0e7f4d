"""/api/docs, the page `make run` prints: Swagger UI served by the app itself, whole under the
app's own Content-Security-Policy, in a real browser."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Request, expect

from liveblog.web.security import CSP

from browser import CSP_WATCH, Watched
from conftest import LiveServer


def test_api_docs_render_every_operation_with_nothing_from_elsewhere(
    browser: Browser, live: LiveServer
) -> None:
    """In Chromium, /api/docs shows the API's operations (POST /api/blogs among them) with every
    script and style loaded from this site, no CSP violation and no console error."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(CSP_WATCH)
    watched = Watched(page)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))
    loaded: list[str] = []

    def on_request(request: Request) -> None:
        loaded.append(request.url)

    page.on("request", on_request)
    try:
        response = page.goto(f"{live.url}/api/docs")
        assert response is not None and response.headers["content-security-policy"] == CSP
        create_blog = page.locator(".opblock-post .opblock-summary-path[data-path='/api/blogs']")
        expect(create_blog).to_be_visible(timeout=15_000)
        expect(page.locator(".opblock-get .opblock-summary-path").first).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert watched.csp_violations() == []
        assert watched.errors == []
        assert loaded and all(url.startswith(live.url) for url in loaded), loaded
    finally:
        context.close()


def test_api_docs_assets_are_the_installed_release_only(live: LiveServer) -> None:
    """The docs page's assets come with a long cache lifetime under a path naming their
    release; any other file or release under that path is a 404, not a file from disk."""
    with httpx.Client(base_url=live.url, timeout=10) as http:
        page = http.get("/api/docs")
        assert page.status_code == 200 and "<script>" not in page.text
        script = next(
            part.split('"')[0] for part in page.text.split('src="')[1:] if "bundle" in part
        )
        asset = http.get(script)
        assert asset.status_code == 200 and "SwaggerUIBundle" in asset.text
        assert asset.headers["content-type"].startswith("text/javascript")
        assert "immutable" in asset.headers["cache-control"]
        release = script.rsplit("/", 2)[1]
        for missing in (
            f"/api/docs/{release}/index.html",
            f"/api/docs/{release}/swagger-initializer.js",
            f"/api/docs/{release}/..%2f..%2f__init__.py",
            "/api/docs/swagger-ui-0.0.1/swagger-ui-bundle.js",
        ):
            assert http.get(missing).status_code == 404, missing
