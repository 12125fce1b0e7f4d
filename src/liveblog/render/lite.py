"""An entry's HTML made text-first for the lite page: pictures, sources and embed frames become
plain links (a reader on a metered or censored network chooses what to fetch), buttons go.

The input is our own sanitised HTML (render/markdown.py, render/figures.py, render/embeds.py);
what passes through is re-escaped here, so the output is as safe as the input.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

_DROPPED = {"picture", "source", "button", "iframe", "script", "style", "template"}
_VOID = {"br", "hr", "img", "source", "input", "meta", "link", "wbr"}
# Attributes the lite page keeps; classes only where its stylesheet uses them.
_KEPT = {"a": {"href"}, "ol": {"start"}, "figcaption": set(), "figure": set()}


class _Lite(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self._picture(dict(attrs))
            return
        if tag in _DROPPED:
            if tag not in _VOID:
                self.skipping += 1
            return
        if self.skipping:
            return
        kept = _KEPT.get(tag, set())
        shown = "".join(
            f' {name}="{escape(value or "", quote=True)}"' for name, value in attrs if name in kept
        )
        self.out.append(f"<{tag}{shown}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            if tag not in _VOID:
                self.skipping = max(0, self.skipping - 1)
            return
        if self.skipping or tag in _VOID:
            return
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(escape(data, quote=False))

    def _picture(self, attrs: dict[str, str | None]) -> None:
        src = attrs.get("src") or ""
        if not src:
            return
        alt = (attrs.get("alt") or "").strip() or "picture"
        self.out.append(
            f'<a class="photo-link" href="{escape(src, quote=True)}">[Photo: {escape(alt)}]</a>'
        )


def lite_html(html: str) -> str:
    """`html` with every picture a link to its file and every embed frame or button gone."""
    parser = _Lite()
    parser.feed(html)
    parser.close()
    return "".join(parser.out)
