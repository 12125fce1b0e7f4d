"""Markdown to safe HTML, done once when an entry is written.

markdown-it runs with raw HTML disabled, so `<script>` in a body is shown as text; nh3 then
sanitises the output anyway, so a parser bug cannot become a stored XSS on every reader's page.
"""

from __future__ import annotations

from collections.abc import Sequence

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

from liveblog.domain.errors import InvalidInput
from liveblog.domain.rules import MAX_NESTING, check_body_size

_ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
    "sup", "sub",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
# Column alignment travels as a class: an inline style would break the pages' strict CSP.
_ALIGN_CLASSES = {"align-left", "align-right", "align-center"}
_ALLOWED_CLASSES = {"th": _ALIGN_CLASSES, "td": _ALIGN_CLASSES}
_ALLOWED_SCHEMES = {"http", "https", "mailto"}


def _parser() -> MarkdownIt:
    # maxNesting a little above our limit: markdown-it silently stops nesting at its cap, and we
    # want to see that the limit was crossed so we can refuse with a clear message instead.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.options["maxNesting"] = MAX_NESTING + 2
    md.enable(["table", "strikethrough"])
    return md


_MD = _parser()


def render_markdown(body: str) -> str:
    """Render an entry body to sanitised HTML, or raise if it breaks a size or nesting limit."""
    check_body_size(body)
    tokens = _MD.parse(body)
    depth = _max_depth(tokens)
    if depth > MAX_NESTING:
        raise InvalidInput(
            "body", f"Markdown nests {depth} levels deep; the limit is {MAX_NESTING}"
        )
    _alignment_as_class(tokens)
    html = _MD.renderer.render(tokens, _MD.options, {})
    return sanitise(html)


def _alignment_as_class(tokens: Sequence[Token]) -> None:
    for tok in tokens:
        style = tok.attrs.get("style")
        if tok.tag in ("th", "td") and isinstance(style, str):
            del tok.attrs["style"]
            tok.attrs["class"] = "align-" + style.removeprefix("text-align:").strip()


def _max_depth(tokens: Sequence[Token]) -> int:
    deepest = 0
    for tok in tokens:
        deepest = max(deepest, tok.level)
        if tok.children:
            deepest = max(deepest, tok.level + _max_depth(tok.children))
    return deepest


def sanitise(html: str) -> str:
    """Keep only the tags and attributes an entry may carry; links open safely."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_ALLOWED_SCHEMES,
        allowed_classes=_ALLOWED_CLASSES,
        link_rel="noopener noreferrer nofollow",
    )
