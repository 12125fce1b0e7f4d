"""Pictures made by the tests: photo-like JPEGs carrying what a field photo can leak (GPS, a
comment, XMP, a camera owner), and the byte patterns to search for afterwards."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image, ImageDraw

GPS_IFD = 0x8825
ORIENTATION = 0x0112
ARTIST = 0x013B
# Latitude 60° 34' 56.789" N, longitude 27° 44' 55.321" E: near a border crossing.
LATITUDE = ((60, 1), (34, 1), (56789, 1000))
LONGITUDE = ((27, 1), (44, 1), (55321, 1000))


@dataclass(frozen=True)
class Leaky:
    data: bytes
    secrets: tuple[bytes, ...]
    """Byte strings that must appear nowhere once the picture is taken in."""


def photo(
    width: int = 1200, height: int = 800, colour: tuple[int, int, int] = (40, 90, 160)
) -> Image.Image:
    """A picture with gradients and a marker square top left, so orientation can be checked."""
    img = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(img)
    for x in range(0, width, 8):
        shade = int(255 * x / width)
        draw.line([(x, 0), (x, height)], fill=(shade, colour[1], 255 - shade), width=8)
    draw.rectangle([0, 0, width // 5, height // 5], fill=(250, 20, 20))
    return img


def jpeg(img: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **options)
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def leaky_jpeg(width: int = 1200, height: int = 800, orientation: int = 1) -> Leaky:
    """A JPEG as a phone might send it: GPS position, the owner's name, a comment, XMP."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[ARTIST] = "Owner Jane Fieldreporter"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: LATITUDE_FLOATS, 3: "E", 4: LONGITUDE_FLOATS})
    comment = b"source-safehouse-17"
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b"<dc:creator>xmp-creator-hidden-name</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    data = jpeg(photo(width, height), exif=exif.tobytes(), comment=comment, xmp=xmp)
    secrets = (
        b"Owner Jane Fieldreporter",
        comment,
        b"xmp-creator-hidden-name",
        *_rational_bytes(LATITUDE[2]),
        *_rational_bytes(LONGITUDE[2]),
    )
    for secret in secrets[:3]:
        assert secret in data, "the test picture must carry what it tests for"
    assert any(pattern in data for pattern in _rational_bytes(LATITUDE[2]))
    return Leaky(data=data, secrets=secrets)


LATITUDE_FLOATS = tuple(n / d for n, d in LATITUDE)
LONGITUDE_FLOATS = tuple(n / d for n, d in LONGITUDE)


def _rational_bytes(value: tuple[int, int]) -> tuple[bytes, bytes]:
    """An EXIF rational as stored, in either byte order."""
    return struct.pack("<II", *value), struct.pack(">II", *value)


# --- crafted PNGs: a header can claim any size ---------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)


def real_bomb_png(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG of `width` x `height` black pixels: a few KB on disk."""
    row = b"\x00" + bytes((width + 7) // 8)
    packer = zlib.compressobj(9)
    rows = 500
    body = b"".join(packer.compress(row * rows) for _ in range(height // rows))
    body += packer.compress(row * (height % rows)) + packer.flush()
    return png_header(width, height, 1, 0) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")
