"""Markdown to safe HTML, done once when an entry is written.

markdown-it runs with raw HTML disabled, so `<script>` in a body is shown as text; nh3 then
sanitises the output anyway, so a parser bug cannot become a stored XSS on every reader's page.

Bare URLs become links (linkify). A link standing alone in a top-level paragraph becomes an
embed placeholder or a link card instead (render/embeds.py); that markup is ours, escaped
there, and spliced between the sanitised pieces of the body rather than passed through nh3,
which would strip the data attributes the click-to-load script reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import nh3
from linkify_it import LinkifyIt
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from liveblog.domain.errors import InvalidInput
from liveblog.domain.rules import MAX_NESTING, check_body_size
from liveblog.render.embeds import standalone_link_html

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


# A fuzzy link is a host written without a scheme. "www." makes the intent plain, and e-mail
# addresses are unmistakable; other fuzzy matches are too often prose ("said.It", "main.py").
_WWW = re.compile(r"www\.", re.IGNORECASE)


def _linkify(state: StateCore) -> None:
    """markdown-it's core linkify rule in one forward pass, keeping only intended links. Its
    own rule copies the whole token list for every text it links, which made a 100 KB body
    of short lines take seconds. Raw HTML is off, so there are no HTML links to step over."""
    linkify = state.md.linkify
    if linkify is None:
        return
    for inline in state.tokens:
        if inline.type != "inline" or not inline.children or not linkify.pretest(inline.content):
            continue
        out: list[Token] = []
        depth = 0  # inside a Markdown link, text stays as it is
        for tok in inline.children:
            if tok.type in ("link_open", "link_close"):
                depth += 1 if tok.type == "link_open" else -1
            elif tok.type == "text" and depth == 0 and linkify.test(tok.content):
                after_escape = bool(out) and out[-1].type == "text_special"
                out += _linked(state, tok, after_escape)
                continue
            out.append(tok)
        inline.children = out


def _linked(state: StateCore, tok: Token, after_escape: bool) -> list[Token]:
    """A text token split into text and the links in it."""
    assert state.md.linkify is not None
    text, level, nodes, last = tok.content, tok.level, [], 0
    for link in state.md.linkify.match(text) or []:
        if link.index == 0 and after_escape:
            continue  # "http\://x" stays text, as markdown-it has it
        if not link.schema and not _WWW.match(link.text):
            continue
        href = state.md.normalizeLink(link.url)
        if not state.md.validateLink(href):
            continue
        shown = link.text if link.schema else link.url  # normalise the host as a URL would be
        label = state.md.normalizeLinkText(shown)
        if not link.schema:
            label = label.removeprefix("http://")
        if link.index > last:
            nodes.append(_token("text", "", 0, level, content=text[last : link.index]))
        nodes += [
            _token("link_open", "a", 1, level, markup="linkify", href=href),
            _token("text", "", 0, level + 1, content=label),
            _token("link_close", "a", -1, level, markup="linkify"),
        ]
        last = link.last_index
    if last < len(text):
        nodes.append(_token("text", "", 0, level, content=text[last:]))
    return nodes


def _token(
    kind: str,
    tag: str,
    nesting: Literal[-1, 0, 1],
    level: int,
    *,
    content: str = "",
    markup: str = "",
    href: str = "",
) -> Token:
    tok = Token(kind, tag, nesting, content=content, markup=markup, level=level)
    if href:
        tok.attrs = {"href": href}
    if markup:
        tok.info = "auto"
    return tok


def _parser() -> MarkdownIt:
    # maxNesting a little above our limit: markdown-it silently stops nesting at its cap, and we
    # want to see that the limit was crossed so we can refuse with a clear message instead.
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.options["maxNesting"] = MAX_NESTING + 2
    md.enable(["table", "strikethrough", "linkify"])
    # Only links a reader can follow: no ftp, and no scheme-relative "//host" links.
    md.linkify = LinkifyIt().add("ftp:", None).add("//", None)
    md.core.ruler.at("linkify", _linkify)
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
    return _render_blocks(tokens)


def _render_blocks(tokens: list[Token]) -> str:
    """The body's HTML: runs of ordinary blocks rendered and sanitised, with the blocks of
    standalone links (ours, escaped where they are made) between them."""
    pieces: list[str] = []
    start = 0
    for i in range(len(tokens)):
        block = _standalone_link_block(tokens, i)
        if block is None:
            continue
        pieces += [_sanitised(tokens[start:i]), block]
        start = i + 3
    pieces.append(_sanitised(tokens[start:]))
    return "".join(pieces)


def _sanitised(tokens: list[Token]) -> str:
    if not tokens:
        return ""
    return sanitise(_MD.renderer.render(tokens, _MD.options, {}))


def _standalone_link_block(tokens: list[Token], i: int) -> str | None:
    """The embed or card for a top-level paragraph that is one link and nothing else.
    Nested paragraphs (in lists, quotes) keep their links: a card there would break the list."""
    if i + 2 >= len(tokens) or tokens[i].type != "paragraph_open" or tokens[i].level != 0:
        return None
    children = tokens[i + 1].children or []
    if len(children) < 2 or children[0].type != "link_open" or children[-1].type != "link_close":
        return None
    if any(c.type in ("link_open", "link_close", "image") for c in children[1:-1]):
        return None  # two links side by side, or a linked picture: not a bare link
    href = children[0].attrs.get("href")
    if not isinstance(href, str):
        return None
    bare = children[0].markup in ("linkify", "autolink")
    return standalone_link_html(href, _plain_text(children[1:-1]), editor_text=not bare)


def _plain_text(tokens: Sequence[Token]) -> str:
    parts = []
    for tok in tokens:
        if tok.type in ("text", "code_inline"):
            parts.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif tok.children:
            parts.append(_plain_text(tok.children))
    return "".join(parts)


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
