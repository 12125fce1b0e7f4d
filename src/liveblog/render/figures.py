"""An entry's pictures as HTML: one `<figure>` each, a gallery for two or more.

Rendered when the entry is written, like its body, and appended after the body. The markup is
ours (not the Markdown's), so every text in it is escaped here. Each picture offers the modern
format first in `<source>`, then an `<img>` with JPEG (or PNG) widths in `srcset`, its own
`width`/`height` (the page keeps its place while pictures load) and lazy loading; a page makes
the first pictures eager itself (`eager_first`).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from liveblog.domain.media import MediaFile, MediaRef

MODERN = ("avif", "webp")
# The reader column is at most 680 px wide; a gallery shows two side by side on wide screens
# and one and a bit (a strip to swipe) at phone width.
SIZES_ONE = "(min-width: 760px) 680px, calc(100vw - 2rem)"
SIZES_GALLERY = "(min-width: 760px) 336px, 82vw"
_LAZY = ' loading="lazy"'


def figures_html(refs: Sequence[MediaRef]) -> str:
    if not refs:
        return ""
    gallery = len(refs) > 1
    sizes = SIZES_GALLERY if gallery else SIZES_ONE
    figures = "".join(_figure(ref, sizes) for ref in refs)
    if gallery:
        label = f"Gallery, {len(refs)} pictures"
        return f'<div class="entry-media gallery" role="group" aria-label="{label}">{figures}</div>'
    return f'<div class="entry-media">{figures}</div>'


def eager_first(html: str) -> str:
    """The same HTML with its pictures loading at once: for the entries on a page's first
    screen, where lazy loading would only delay what the reader sees first."""
    return html.replace(_LAZY, ' loading="eager"')


def _srcset(files: Sequence[MediaFile]) -> str:
    return ", ".join(f"{escape(f.url)} {f.width}w" for f in files)


def _figure(ref: MediaRef, sizes: str) -> str:
    modern = [f for f in ref.files if f.format in MODERN]
    fallback = [f for f in ref.files if f.format not in MODERN]
    if not fallback:  # cannot happen with our renditions; never emit an <img> without a source
        return ""
    largest = max(fallback, key=lambda f: f.width)
    middle = sorted(fallback, key=lambda f: f.width)[(len(fallback) - 1) // 2]
    source = ""
    if modern:
        source = (
            f'<source type="{escape(modern[0].media_type)}" srcset="{_srcset(modern)}" '
            f'sizes="{sizes}">'
        )
    img = (
        f'<img src="{escape(middle.url)}" srcset="{_srcset(fallback)}" sizes="{sizes}" '
        f'width="{largest.width}" height="{largest.height}" alt="{escape(ref.alt)}"'
        f'{_LAZY} decoding="async">'
    )
    caption = ""
    if ref.caption or ref.credit:
        text = f'<span class="figure-caption">{escape(ref.caption)}</span>' if ref.caption else ""
        credit = ""
        if ref.credit:
            credit = (
                '<span class="figure-credit"><span class="visually-hidden">Credit: </span>'
                f"{escape(ref.credit)}</span>"
            )
        caption = f"<figcaption>{text}{' ' if text and credit else ''}{credit}</figcaption>"
    return f'<figure class="entry-figure"><picture>{source}{img}</picture>{caption}</figure>'
