"""An uploaded picture made safe: checked, decoded once, turned upright and into sRGB, and
re-encoded from its pixels alone into renditions of a few widths.

Nothing of the upload but its pixels reaches a rendition: no EXIF (GPS position, camera serial
number, time), no XMP or IPTC (names, places), no comments, maker notes, thumbnails or colour
profiles. A field photo can reveal where a source was standing; a careless upload must not.

Every way a file can be wrong ends as a domain error naming the problem (the web answers 4xx):
empty, too many bytes, too many pixels (judged from the header, before decoding), a shape no
photo has, truncated or damaged, not a picture we take (by content, never by name), or a
picture that also carries markup, script or an archive (media/sniff.py).
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, ImageCms, ImageOps

from liveblog.domain.errors import InvalidInput, TooLarge, UnsupportedMedia
from liveblog.media import sniff

MIN_SIDE = 16
"""Pictures narrower or lower than this are refused: an icon, a tracking pixel or a mistake,
never a photo worth a place in an entry."""
MAX_ASPECT = 20
"""The long side may be at most this many times the short one. A panorama from a phone is
about 4:1 to 9:1; 20:1 leaves room for strips and tall graphics, and refuses the 100,000 x 1
files made to stress a decoder or a page layout."""
MAX_RENDITION_SIDE = 16_383
"""No rendition is taller than this (WebP's limit, and what every browser decodes): a very tall
picture gets narrower renditions instead."""

MODERN_FORMAT = "avif"
"""The modern format offered first, with a JPEG (or PNG) fallback: AVIF rather than WebP.

Measured by bench/media.py on this project's 2-core machine, one 1600 x 1200 rendition of a
photo-like 12 MP picture: AVIF (libaom, quality 60, speed 8) encodes in 140 ms wall, WebP
(quality 80, method 4) in 138 ms; AVIF spends twice the CPU (both cores), which an upload,
done once per picture, can afford. On that synthetic picture the two give the same bytes at
the same PSNR (107 and 100 KB, 34.7 dB; JPEG q82 needs 227 KB for 34.3 dB), so time does not
decide and neither does our own test image. Comparisons on real photographs with perceptual
metrics find AVIF clearly smaller at equal quality (ctrl.blog's 600 photos at equal DSSIM:
a median saving over JPEG of 50% for AVIF, 31% for WebP), and our readers, many on phones and
slow networks, fetch each picture many times. Speed 8, not Pillow's default 6: 6 took 2.6 times
as long for 4% fewer bytes. Every current browser decodes AVIF; the others get the fallback."""

ENCODERS: dict[str, tuple[str, dict[str, Any]]] = {
    "avif": ("AVIF", {"quality": 60, "speed": 8}),
    "webp": ("WEBP", {"quality": 80, "method": 4}),
    "jpeg": ("JPEG", {"quality": 82, "progressive": True, "optimize": True}),
    "png": ("PNG", {"compress_level": 6}),
}
"""Pillow's encoder and its settings for each rendition format."""

EXTENSIONS = {"avif": "avif", "webp": "webp", "jpeg": "jpg", "png": "png"}
MEDIA_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png"}
KEY_PATTERN = re.compile(r"\A[0-9a-f]{64}\.(?:avif|webp|jpg|png)\Z")
"""A rendition key, whole (the pattern is anchored): the web checks a requested name with it
before anything looks the key up, so no path can be smuggled in."""

# Pillow's plugin name for each format we accept (HEIC is pillow-heif's "HEIF").
_PILLOW_FORMATS = {
    "jpeg": ("JPEG",),
    "png": ("PNG",),
    "gif": ("GIF",),
    "webp": ("WEBP",),
    "heic": ("HEIF",),
    "avif": ("AVIF",),
}
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that turn the picture a quarter
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# What Pillow and its plugins raise for files they cannot read: a damaged or truncated file.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    RuntimeError,
    ZeroDivisionError,
)


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    max_bytes: int = 30 * 1024 * 1024
    max_pixels: int = 50_000_000
    widths: tuple[int, ...] = (480, 960, 1600)
    """Rendition widths, never upscaled: a picture narrower than the largest gets the widths
    below its own and its own width."""


@dataclass(frozen=True, slots=True)
class Rendition:
    key: str
    """sha256 hex of `data`, a dot, and the extension: the content address."""
    width: int
    height: int
    format: str
    """avif, webp, jpeg or png."""
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Processed:
    width: int
    """The picture's own size, upright (after its EXIF orientation)."""
    height: int
    source_format: str
    """What the upload was: jpeg, png, webp, gif, heic or avif."""
    has_alpha: bool
    """Some pixel is not fully opaque (then the fallback is PNG, not JPEG)."""
    renditions: list[Rendition]
    """For each width, narrowest first: the modern format, then the fallback."""


def process_image(path: Path, limits: IntakeLimits = IntakeLimits()) -> Processed:
    """The renditions of the picture in `path` (an upload on disk), or a domain error."""
    size = path.stat().st_size
    if size == 0:
        raise InvalidInput("file", "is empty")
    if size > limits.max_bytes:
        raise TooLarge(
            f"file: is {_mib(size)} ({size:,} bytes); the limit is {_mib(limits.max_bytes)} "
            f"({limits.max_bytes:,} bytes)",
            field="file",
        )
    with path.open("rb") as fp:
        head = fp.read(sniff.HEAD_BYTES)
        kind = sniff.kind_of(head)
        claimed = sniff.claimed_size(fp, kind, head)
        if claimed is not None:
            _check_shape(*claimed, limits)
        active = sniff.active_content(fp, size)
        if active is not None:
            what, offset = active
            raise UnsupportedMedia(
                "file",
                f"is a {sniff.LABELS[kind]} image that also carries {what} at byte {offset:,}; "
                "a file like that can act as a web page, script or archive. Save the photo "
                "again from a photo app or image editor and upload that copy",
            )
        width, height, picture = _decode(fp, kind, limits)
    colour, has_alpha = _to_srgb(picture)
    del picture
    return Processed(
        width=width,
        height=height,
        source_format=kind,
        has_alpha=has_alpha,
        renditions=_renditions(colour, has_alpha, (width, height), limits.widths),
    )


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def _check_shape(width: int, height: int, limits: IntakeLimits) -> None:
    pixels = width * height
    if pixels > limits.max_pixels:
        raise TooLarge(
            f"file: is {width:,} x {height:,} = {pixels:,} pixels; the limit is "
            f"{limits.max_pixels:,} pixels (a larger picture may be a decompression bomb)",
            field="file",
        )
    if width == 0 or height == 0:
        raise InvalidInput("file", f"is {width} x {height} pixels: a picture with no pixels")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InvalidInput(
            "file",
            f"is {width:,} x {height:,} pixels; the long side may be at most {MAX_ASPECT} "
            "times the short one",
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidInput(
            "file", f"is {width} x {height} pixels; each side must be at least {MIN_SIDE}"
        )


@functools.cache
def _heif_opener() -> None:
    """Teach Pillow HEIC (pillow-heif), once, at the first HEIC upload."""
    import pillow_heif

    # libheif applies the file's rotation itself and pillow-heif then resets EXIF's
    # orientation, so exif_transpose below does not turn the picture twice.
    pillow_heif.register_heif_opener(thumbnails=False)


@contextmanager
def _read_errors(kind: str, limits: IntakeLimits) -> Iterator[None]:
    """Pillow's and pillow-heif's exceptions as domain errors: none escapes."""
    label = sniff.LABELS[kind]
    try:
        yield
    except Image.DecompressionBombError:
        # Pillow's own guard, for a header our checks could not read first (HEIC, AVIF).
        raise TooLarge(
            f"file: has more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels; the limit is "
            f"{limits.max_pixels:,} pixels (a larger picture may be a decompression bomb)",
            field="file",
        ) from None
    except _DECODE_ERRORS as exc:
        raise InvalidInput(
            "file", f"is a {label} image that is truncated or damaged ({_reason(exc)})"
        ) from None


def _reason(exc: BaseException) -> str:
    """The decoder's own words, which say what it tripped on, unless they would show the
    server's temporary file or a Python object to the uploader."""
    if isinstance(exc, Image.UnidentifiedImageError):
        return "the decoder cannot read its header"
    text = str(exc).strip()
    if not text or "<" in text or "/" in text:
        return type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _decode(fp: BinaryIO, kind: str, limits: IntakeLimits) -> tuple[int, int, Image.Image]:
    """The picture's upright size, and its first frame decoded upright (a JPEG possibly at a
    fraction of its size, never below the largest rendition it needs)."""
    if kind == "heic":
        _heif_opener()
    with _read_errors(kind, limits):
        fp.seek(0)
        picture = Image.open(fp, formats=_PILLOW_FORMATS[kind])
        _check_shape(*picture.size, limits)  # the decoder's reading of the header decides
        orientation = picture.getexif().get(0x0112, 1)
        width, height = picture.size
        if orientation in _SWAPS_AXES:
            width, height = height, width
        if picture.format in ("JPEG", "MPO"):
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale for a fraction of the time and memory;
            # ask for the scale that keeps the upright width at the largest rendition's.
            need = min(max(limits.widths), width)
            picture.draft(picture.mode, (1, need) if orientation in _SWAPS_AXES else (need, 1))
        picture.load()  # the first frame of an animation
        ImageOps.exif_transpose(picture, in_place=True)
    return width, height, picture


def _to_srgb(picture: Image.Image) -> tuple[Image.Image, bool]:
    """RGB (or RGBA when some pixel is transparent) in sRGB, with no metadata attached."""
    icc = picture.info.get("icc_profile")
    image = _eight_bit(picture)
    alpha: Image.Image | None = None
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        if alpha.getextrema()[0] == 255:  # an alpha channel, but every pixel opaque
            alpha = None
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
    if icc:
        image = _apply_profile(image, icc)
    if image.mode != "RGB":
        image = image.convert("RGB")  # grey, and CMYK without a profile
    if alpha is not None:
        image.putalpha(alpha)
    image.info = {}  # encoders copy metadata from here (JPEG comments, PNG/AVIF profiles)
    return image, alpha is not None


def _eight_bit(picture: Image.Image) -> Image.Image:
    """One of L, LA, RGB, RGBA, CMYK: palettes unpacked, transparent colour keys made alpha,
    16-bit grey scaled (Pillow's own conversion would clip it to white), premultiplied alpha
    undone."""
    mode = picture.mode
    if mode in ("P", "PA", "L", "RGB") and ("transparency" in picture.info or mode == "PA"):
        return picture.convert("RGBA")  # a palette entry or colour key that is see-through
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return picture
    if mode == "P":
        return picture.convert("RGB")
    if mode.startswith("I;16") or mode == "I":
        return picture.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if mode in ("La", "RGBa"):
        return picture.convert(mode.upper())
    if mode == "1":
        return picture.convert("L")
    return picture.convert("RGBA" if "A" in mode else "RGB")


def _apply_profile(image: Image.Image, icc: bytes) -> Image.Image:
    """Colours moved from the embedded profile to sRGB. A profile that is sRGB already, does
    not fit the picture's colour space or cannot be read is ignored: the pixels are then
    taken as sRGB, which is what a browser would assume of them too."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = profile.profile.xcolor_space.strip()
        if "srgb" in ImageCms.getProfileDescription(profile).lower():
            return image
        if (space, image.mode) not in (("RGB", "RGB"), ("GRAY", "L"), ("CMYK", "CMYK")):
            return image
        converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    assert converted is not None  # not in place, so a new image
    return converted


def rendition_sizes(
    width: int, height: int, widths: tuple[int, ...] = IntakeLimits().widths
) -> list[tuple[int, int]]:
    """The (width, height) of each rendition, narrowest first: the requested widths below the
    picture's own, and its own width when it is narrower than the largest requested (so a
    700 px picture gets 480 and 700); none upscaled, none taller than MAX_RENDITION_SIDE."""
    wanted = {w for w in widths if w < width}
    if width <= max(widths):
        wanted.add(width)
    sizes: dict[int, int] = {}
    for w in sorted(wanted):
        h = max(1, round(height * w / width))
        if h > MAX_RENDITION_SIDE:
            w, h = max(1, MAX_RENDITION_SIDE * width // height), MAX_RENDITION_SIDE
        sizes[w] = h
    return sorted(sizes.items())


def _renditions(
    image: Image.Image, has_alpha: bool, size: tuple[int, int], widths: tuple[int, ...]
) -> list[Rendition]:
    out: list[Rendition] = []
    source = image
    # Widest first, each smaller one resized from the one before it: every step is at most a
    # few times smaller, so Lanczos stays sharp and costs a fraction of resizing from the
    # full picture each time.
    for w, h in reversed(rendition_sizes(*size, widths)):
        scaled = (
            source if source.size == (w, h) else source.resize((w, h), Image.Resampling.LANCZOS)
        )
        scaled.info = {}
        fallback = "png" if has_alpha else "jpeg"
        out.append(encode(scaled, fallback))
        out.append(encode(scaled, MODERN_FORMAT))
        source = scaled
    out.reverse()  # narrowest first, the modern format before its fallback
    return out


def encode(image: Image.Image, fmt: str) -> Rendition:
    """One rendition of `image` (RGB or RGBA, its `info` emptied) in `fmt`, as it is."""
    plugin, options = ENCODERS[fmt]
    buf = io.BytesIO()
    image.save(buf, plugin, **options)
    data = buf.getvalue()
    key = f"{hashlib.sha256(data).hexdigest()}.{EXTENSIONS[fmt]}"
    return Rendition(key, image.width, image.height, fmt, MEDIA_TYPES[fmt], data)
