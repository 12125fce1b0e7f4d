"""The Jinja environment for reader pages, with filters for times in a blog's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from liveblog.render.figures import eager_first
from liveblog.render.jsonview import iso
from liveblog.render.lite import lite_html

_DIR = Path(__file__).with_name("templates")


def local_time(moment: datetime | None, zone: str, fmt: str = "%H:%M") -> str:
    """Server-side fallback: the time in the blog's own zone (the script then shows the
    reader's). The zone is shown next to it so a time is never ambiguous without JavaScript."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


def local_day_time(moment: datetime | None, zone: str) -> str:
    """A day and time in the blog's zone, for what is not today's news (when a blog ended)."""
    return local_time(moment, zone, "%d %b %Y, %H:%M")


def url_slug(slug: str) -> str:
    """A slug as it goes into a URL: percent-encoded (a slug may be Cyrillic or Arabic)."""
    return quote(slug, safe="")


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = iso
    env.filters["local_time"] = local_time
    env.filters["local_day_time"] = local_day_time
    env.filters["eager"] = eager_first
    env.filters["lite"] = lite_html
    env.filters["urlslug"] = url_slug
    env.globals["now"] = lambda: datetime.now(UTC)
    return env


ENV = make_env()


def render(name: str, **context: object) -> str:
    return ENV.get_template(name).render(**context)
