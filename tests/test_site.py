"""The site settings: the public address and names readers are told, checked at start, and
the logo or share image the app serves itself."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from liveblog.settings import SettingError, Settings
from liveblog.web.site import site_from_settings

from conftest import LiveServer
from pictures import photo, png


def test_without_a_base_url_the_server_s_own_address_is_used_and_a_warning_given(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No LIVEBLOG_BASE_URL: serve's http://HOST:PORT, names default to Liveblog, and the start
    log says what to set."""
    with caplog.at_level(logging.WARNING):
        site, _ = site_from_settings(Settings(host="127.0.0.1", port=8123, base_url=""))
    assert site.base_url == "http://127.0.0.1:8123"
    assert (site.name, site.publisher_name) == ("Liveblog", "Liveblog")
    assert "LIVEBLOG_BASE_URL" in caplog.text


def test_a_configured_site_keeps_its_address_and_names() -> None:
    """A base URL loses its trailing slash; the publisher defaults to the site's name."""
    site, _ = site_from_settings(
        Settings(base_url="https://live.example.org/", site_name="Daily Planet")
    )
    assert site.url("/blogs/x") == "https://live.example.org/blogs/x"
    assert site.publisher_name == "Daily Planet"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"base_url": "live.example.org"}, "LIVEBLOG_BASE_URL"),
        ({"base_url": "ftp://live.example.org"}, "LIVEBLOG_BASE_URL"),
        ({"publisher_logo": "/no/such/logo.png"}, "LIVEBLOG_PUBLISHER_LOGO"),
        ({"share_image": "notes.txt"}, "LIVEBLOG_SHARE_IMAGE"),
        ({"frame_origins": "partner.example"}, "LIVEBLOG_FRAME_ORIGINS"),
        ({"frame_origins": "https://partner.example/path"}, "LIVEBLOG_FRAME_ORIGINS"),
    ],
)
def test_bad_site_settings_stop_the_start_naming_the_variable(
    overrides: dict[str, str], variable: str
) -> None:
    """A value the site cannot use is refused at start with the variable named."""
    with pytest.raises(SettingError, match=variable):
        site_from_settings(Settings(**overrides))  # type: ignore[arg-type]


def test_a_local_logo_file_is_served_by_the_app(db_url: str, tmp_path: Path) -> None:
    """A logo given as a file path is served at /site/logo.EXT under the base URL."""
    logo = tmp_path / "logo.png"
    logo.write_bytes(png(photo(64, 64)))
    server = LiveServer(
        db_url, tmp_path, base_url="https://live.example.org", publisher_logo=str(logo)
    ).start()
    try:
        assert server.app.state.site.publisher_logo == "https://live.example.org/site/logo.png"
        r = httpx.get(server.url + "/site/logo.png")
        assert r.status_code == 200 and r.content == logo.read_bytes()
        assert r.headers["content-type"] == "image/png"
        assert httpx.get(server.url + "/site/logo.jpg").status_code == 404
    finally:
        server.stop()
