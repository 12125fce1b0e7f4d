"""What an upload is, judged by its bytes alone: which picture format, the size its header
claims, and whether it also carries markup, script or an archive.

The file's name and declared type are never consulted: both are the uploader's word, and a
careless or hostile upload says whatever it likes there.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from liveblog.domain.errors import UnsupportedMedia

HEAD_BYTES = 4096
"""How much of the start of a file the format is judged from."""

ACCEPTED = "upload JPEG, PNG, WebP, GIF, HEIC or AVIF"

LABELS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WebP",
    "heic": "HEIC",
    "avif": "AVIF",
}

# ISO base media files (HEIF, AVIF, MP4, QuickTime) name their kind by brands in the `ftyp` box.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}

# Formats we refuse, by their magic bytes, so the message can say what the file looks like.
_REFUSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"II*\x00", "a TIFF image (or a camera raw file)"),
    (b"MM\x00*", "a TIFF image (or a camera raw file)"),
    (b"8BPS", "a Photoshop document"),
    (b"\xff\x0a", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"),
    (b"\x1a\x45\xdf\xa3", "a WebM or Matroska video"),
    (b"\x1f\x8b", "a gzip-compressed file (perhaps a compressed SVG)"),
    (b"\x00\x00\x01\x00", "an icon (ICO) file"),
    (b"RIFF", "a RIFF file (audio or video)"),
)

_TEXT_BYTES = frozenset(b"\t\n\r\f" + bytes(range(0x20, 0x7F)))


def kind_of(head: bytes) -> str:
    """The format of an accepted picture ("jpeg", "png", "gif", "webp", "heic", "avif"), or
    UnsupportedMedia naming what the file looks like instead."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return _iso_kind(head)
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":  # reserved bytes are zero
        raise UnsupportedMedia("file", f"is a BMP image; {ACCEPTED}")
    for magic, what in _REFUSED_MAGIC:
        if head.startswith(magic):
            raise UnsupportedMedia("file", f"is {what}; {ACCEPTED}")
    raise UnsupportedMedia("file", f"is {_text_kind(head)}; {ACCEPTED}")


def _iso_kind(head: bytes) -> str:
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    # The major brand decides when it is one of ours; otherwise any compatible brand we know.
    if major in _AVIF_BRANDS:
        return "avif"
    if major in _HEIC_BRANDS - {b"mif1", b"msf1"}:
        return "heic"
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIC_BRANDS:
        return "heic"
    raise UnsupportedMedia("file", f"is a video or audio file (MP4 or QuickTime); {ACCEPTED}")


def _text_kind(head: bytes) -> str:
    """What a file that is no picture format we know looks like: markup, text or unknown."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", "replace").lower()
    else:
        text = head.removeprefix(b"\xef\xbb\xbf").decode("latin-1").lower()
    text = text.lstrip()
    if text.startswith(("<!doctype html", "<html")):
        return "an HTML document"
    if "<svg" in text:
        return "an SVG image"
    if text.startswith("<?xml"):
        return "an XML document"
    if any(tag in text for tag in ("<html", "<head", "<body", "<script", "<iframe")):
        return "an HTML document"
    if head and all(b in _TEXT_BYTES for b in head.rstrip(b"\x00")[:512]):
        return "a text file"
    return "a file of unknown type"


# --- the size a header claims ---------------------------------------------------------------


def claimed_size(fp: BinaryIO, kind: str, head: bytes) -> tuple[int, int] | None:
    """Width and height as the file's header states them, read before any pixel is decoded;
    None where we leave the header to the decoder (HEIC, AVIF) or cannot read it."""
    if kind == "png" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if kind == "gif" and len(head) >= 10:
        return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
    if kind == "webp":
        return _webp_size(head)
    if kind == "jpeg":
        return _jpeg_size(fp)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:  # the extended format's canvas
        return (
            int.from_bytes(head[24:27], "little") + 1,
            int.from_bytes(head[27:30], "little") + 1,
        )
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a" and len(head) >= 30:
        return (
            int.from_bytes(head[26:28], "little") & 0x3FFF,
            int.from_bytes(head[28:30], "little") & 0x3FFF,
        )
    if chunk == b"VP8L" and head[20:21] == b"\x2f" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(fp: BinaryIO) -> tuple[int, int] | None:
    """The frame header (SOFn) is found by walking the segments that precede it; each segment
    says its own length, so only a few bytes of each are read."""
    pos = 2
    while True:
        fp.seek(pos)
        b = fp.read(4)
        if len(b) < 4 or b[0] != 0xFF:
            return None
        marker = b[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            frame = fp.read(5)
            if len(frame) < 5:
                return None
            return int.from_bytes(frame[3:5], "big"), int.from_bytes(frame[1:3], "big")
        pos += 2 + int.from_bytes(b[2:4], "big")


# --- active content -------------------------------------------------------------------------
#
# A polyglot is a file that is a valid picture and also something else: a web page, a script
# for PHP, a JAR or ZIP archive. We never serve or keep the upload itself (renditions are
# re-encoded from pixels), so a polyglot cannot hurt our readers; we refuse it because it is a
# sign of an attack or of a tampered file that a newsroom should not publish, and because other
# tools along the way (a desk's download folder, a CMS the photo is also sent to) may trust it.
#
# Every byte of the file is scanned, not only metadata and trailers: markup can hide anywhere
# an image format tolerates bytes it does not read, and walking six container formats to find
# those places would be a parser of its own to get wrong. Compressed pixel data is close to
# random, though: a random 30 MB file contains a given 4-byte string with a chance of about
# 1 in 140, and "<svg" in some letter case about 1 in 18. So:
#
# - Markers of 7 bytes or more count wherever they are: chance all but never produces them
#   (about 1 in 10^7 per 30 MB upload for all of them together).
# - Shorter markers count only inside a run of at least TEXT_RUN printable ASCII bytes, which
#   is how markup that a browser or an interpreter could act on looks ("<svg onload=...>",
#   "<?php system(...)"). In random bytes such a run around a marker is rarer than one in a
#   million uploads of the largest size; in a text payload it is the payload itself. Metadata
#   text (XMP, maker notes) is full of printable runs but uses none of these tags.
# - An archive: a ZIP local file header with plausible fields (the version and method bytes
#   narrow a chance match of "PK\3\4" to below 1 in 10^9 per upload), or the end-of-central-
#   directory record at the file's very end, which is where every ZIP reader looks.
#
# A trailer after the image (camera makers' data, an MP4 of a "motion photo", a second JPEG of
# a multi-picture file) is never refused for being there: only for what it contains.

LONG_MARKERS: dict[bytes, str] = {
    b"<script": "a script",
    b"<iframe": "an HTML frame",
    b"<object": "an HTML object",
    b"javascript:": "a javascript: link",
    b"<!doctype": "an HTML or XML document",
    b"__halt_compiler": "a PHP archive (phar)",
}
SHORT_MARKERS: dict[bytes, str] = {
    b"<html": "an HTML document",
    b"<body": "an HTML document",
    b"<svg": "SVG markup",
    b"<?php": "PHP code",
    b"<embed": "an HTML embed",
}
TEXT_RUN = 20
"""Printable bytes, marker included, that make a short marker count as markup."""

_TAGS = tuple(m for m in (*LONG_MARKERS, *SHORT_MARKERS) if m.startswith(b"<"))
_UNTAGGED = tuple(m for m in LONG_MARKERS if not m.startswith(b"<"))
_CHUNK = 1 << 20
_OVERLAP = 64  # more than the longest marker and the context a short marker needs each side
_ZIP_LOCAL = re.compile(rb"PK\x03\x04[\x0a-\x3f]\x00..(?:\x00|\x08)\x00", re.DOTALL)
_ZIP_END = b"PK\x05\x06"
_ZIP_END_SIZE = 22


def active_content(fp: BinaryIO, size: int) -> tuple[str, int] | None:
    """What active content the file carries and at which byte, or None. Reads the file in
    pieces of 1 MiB, so an upload is never held in memory whole."""
    fp.seek(0)
    carried = b""
    offset = 0  # of `carried`'s first byte in the file
    while True:
        piece = fp.read(_CHUNK)
        last = not piece
        buf = carried + piece
        found = _scan(buf, offset)
        if found:
            return found
        if last:
            break
        keep = min(len(buf), _OVERLAP)
        offset += len(buf) - keep
        carried = buf[len(buf) - keep :]
    return _zip_end(fp, size)


def _scan(buf: bytes, offset: int) -> tuple[str, int] | None:
    low = buf.lower()
    # One pass over the "<"s (about one byte in 256 of compressed data) costs a third of a
    # search per tag.
    i = low.find(b"<")
    while i >= 0:
        if low.startswith(_TAGS, i):
            marker = next(m for m in _TAGS if low.startswith(m, i))
            if marker in LONG_MARKERS or _in_text(low, i, i + len(marker)):
                what = LONG_MARKERS.get(marker) or SHORT_MARKERS[marker]
                return f"{what} ({marker.decode()!r})", offset + i
        i = low.find(b"<", i + 1)
    for marker in _UNTAGGED:
        i = low.find(marker)
        if i >= 0:
            return f"{LONG_MARKERS[marker]} ({marker.decode()!r})", offset + i
    archive = _ZIP_LOCAL.search(buf)
    if archive:
        return "a ZIP archive", offset + archive.start()
    return None


def _in_text(buf: bytes, start: int, end: int) -> bool:
    """Whether the marker at buf[start:end] sits in a run of TEXT_RUN printable bytes. A run
    cut short by either end of a piece is judged again whole in the piece that carries those
    bytes over (the overlap is longer than a marker and its run)."""
    need = TEXT_RUN - (end - start)
    before = 0
    while before < need and start - before > 0 and buf[start - before - 1] in _TEXT_BYTES:
        before += 1
    after = 0
    while before + after < need and end + after < len(buf) and buf[end + after] in _TEXT_BYTES:
        after += 1
    return before + after >= need


def _zip_end(fp: BinaryIO, size: int) -> tuple[str, int] | None:
    """A ZIP end-of-central-directory record whose comment runs exactly to the end of the file:
    what a ZIP reader (and so a JAR or a phar:// stream) finds when it opens the file."""
    tail_start = max(0, size - (_ZIP_END_SIZE + 0xFFFF))
    fp.seek(tail_start)
    tail = fp.read()
    i = tail.rfind(_ZIP_END)
    while i >= 0:
        comment = int.from_bytes(tail[i + 20 : i + 22], "little")
        if i + _ZIP_END_SIZE + comment == len(tail):
            return "a ZIP archive", tail_start + i
        i = tail.rfind(_ZIP_END, 0, i)
    return None
