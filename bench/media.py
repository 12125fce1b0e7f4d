"""Photo intake (media/intake.py): wall time, peak memory and rendition bytes of
`process_image` for photo-like 12-megapixel (4000 x 3000) and 24-megapixel (6000 x 4000) JPEGs,
and the modern-format choice (AVIF or WebP) for one 1600 px rendition.

Each measurement runs in a fresh Python process, so its peak resident memory (the kernel's
high-water mark: Pillow's pixel buffers are C allocations that tracemalloc cannot see) belongs
to that one call. Two comparisons run the same way: intake with JPEG draft decoding turned off
(what reduced decoding saves), and a libvips pipeline (pyvips) doing the same job, when pyvips
can be imported (it is no dependency of Liveblog: `pip install --target DIR pyvips
pyvips-binary` and pass `--vips-site DIR`).

    python -m bench.media                          # 5 runs of each
    python -m bench.media --runs 3 --vips-site /tmp/vips-site
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, ROOT, log, median, save_results, source_state, table

NAME = "media"
PHOTOS = {"12 MP": (4000, 3000), "24 MP": (6000, 4000)}
VARIANTS = {
    "intake": "liveblog intake (Pillow)",
    "nodraft": "intake, JPEG draft off",
    "vips": "libvips (pyvips), pixel work only",
}
# The modern-format candidates for one 1600 x 1200 rendition: (label, Pillow format, options);
# a few qualities of each, so bytes can be compared at equal PSNR.
CANDIDATES: list[tuple[str, str, dict[str, Any]]] = [
    *[(f"AVIF q{q} speed 8", "AVIF", {"quality": q, "speed": 8}) for q in (50, 60, 70)],
    ("AVIF q60 speed 6 (Pillow's default speed)", "AVIF", {"quality": 60, "speed": 6}),
    ("AVIF q60 speed 8, one thread", "AVIF", {"quality": 60, "speed": 8, "max_threads": 1}),
    *[(f"WebP q{q} method 4", "WEBP", {"quality": q, "method": 4}) for q in (70, 80, 90)],
    ("WebP q80 method 6", "WEBP", {"quality": 80, "method": 6}),
    ("JPEG q82 progressive (the fallback)", "JPEG", {"quality": 82, "progressive": True}),
]


def photo(width: int, height: int, seed: int = 1) -> Any:
    """A synthetic picture that compresses like a photo: smooth gradients, a few hundred soft-
    edged shapes and lines, and fine sensor-like noise (about 0.33 bytes per pixel at q90)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rnd = random.Random(seed)
    ramp = Image.linear_gradient("L").resize((width, height))
    ring = Image.radial_gradient("L").resize((width, height))
    across = ramp.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    image = Image.merge("RGB", (ramp, ring, across))
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        x, y = rnd.randrange(width), rnd.randrange(height)
        s = rnd.randrange(width // 80, width // 5)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        kind = rnd.random()
        if kind < 0.4:
            draw.ellipse((x, y, x + s, y + s * rnd.random()), fill=colour)
        elif kind < 0.8:
            draw.rectangle((x, y, x + s * rnd.random(), y + s), fill=colour)
        else:
            draw.line((x, y, x + s, y + rnd.randrange(-s, s)), fill=colour, width=width // 800)
    image = image.filter(ImageFilter.GaussianBlur(width / 2000))
    noise = Image.effect_noise((width, height), 8).convert("RGB")
    return ImageChops.add(image, noise, 1.0, -128)


def make_photos(directory: Path) -> dict[str, Path]:
    from PIL import ExifTags, Image

    paths = {}
    for label, (w, h) in PHOTOS.items():
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "BenchCam"
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitude] = (46.0, 38.0, 12.5)
        path = directory / f"photo-{w}x{h}.jpg"
        photo(w, h).save(path, "JPEG", quality=90, exif=exif)
        paths[label] = path
    return paths


# --- one measurement, in a child process ----------------------------------------------------


def peak_rss_kib() -> int:
    """This process's peak resident memory. VmHWM rather than getrusage's ru_maxrss, which
    Linux carries across exec: a child would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(variant: str, path: Path) -> dict[str, Any]:
    """Import everything first (that is the baseline), then time one job."""
    job: Callable[[Path], list[tuple[str, int, int, int]]]
    if variant == "vips":
        import pyvips

        pyvips.cache_set_max(0)
        job = vips_job
    else:
        from PIL import JpegImagePlugin

        from liveblog.media.intake import process_image

        if variant == "nodraft":
            JpegImagePlugin.JpegImageFile.draft = lambda self, mode, size: None  # type: ignore[method-assign]

        def job(p: Path) -> list[tuple[str, int, int, int]]:
            done = process_image(p)
            return [(r.format, r.width, r.height, len(r.data)) for r in done.renditions]

    baseline = peak_rss_kib()
    started = time.perf_counter()
    cpu = time.process_time()
    renditions = job(path)
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "baseline_kib": baseline,
        "peak_kib": peak_rss_kib(),
        "renditions": renditions,
    }


def vips_job(path: Path) -> list[tuple[str, int, int, int]]:
    """The same renditions through libvips: shrink-on-load to 1600 px (thumbnail also applies
    the EXIF orientation), then 960 and 480 from it; AVIF at AV1 speed 8 and JPEG q82, with
    metadata stripped."""
    import pyvips

    out = []
    widest = pyvips.Image.thumbnail(str(path), 1600, height=100_000, size="down").copy_memory()
    for width in (1600, 960, 480):
        image = widest if width == 1600 else widest.thumbnail_image(width, height=100_000)
        avif = image.write_to_buffer(".avif", Q=60, effort=1, keep="none")
        jpeg = image.write_to_buffer(
            ".jpg", Q=82, interlace=True, optimize_coding=True, keep="none"
        )
        out += [("avif", image.width, image.height, len(avif))]
        out += [("jpeg", image.width, image.height, len(jpeg))]
    return out


def measure(variant: str, path: Path, vips_site: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if variant == "vips" and vips_site:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [vips_site, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "bench.media", "--child", variant, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{variant} on {path.name} failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def vips_version(vips_site: str | None) -> str | None:
    """libvips's version when pyvips can be imported (from `vips_site` if given), else None."""
    env = dict(os.environ)
    if vips_site:
        env["PYTHONPATH"] = vips_site
    probe = "import pyvips; print('.'.join(str(pyvips.version(i)) for i in range(3)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


# --- the modern-format choice, in this process ----------------------------------------------


def psnr(a: Any, b: Any) -> float:
    from PIL import ImageChops, ImageStat

    rms = ImageStat.Stat(ImageChops.difference(a, b.convert("RGB"))).rms
    mse = sum(v * v for v in rms) / len(rms)
    return 10 * math.log10(255 * 255 / mse) if mse else float("inf")


def format_choice(path: Path, runs: int) -> list[list[str]]:
    from PIL import Image

    with Image.open(path) as big:
        big.draft("RGB", (2000, 1500))
        rendition = big.convert("RGB").resize((1600, 1200), Image.Resampling.LANCZOS)
    rows = []
    for label, fmt, options in CANDIDATES:
        walls, cpus, data = [], [], b""
        for _ in range(runs):
            buf = io.BytesIO()
            started, cpu = time.perf_counter(), time.process_time()
            rendition.save(buf, fmt, **options)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            data = buf.getvalue()
        rows.append(
            [
                label,
                f"{median(walls) * 1000:.0f}",
                f"{median(cpus) * 1000:.0f}",
                f"{len(data) / 1000:.0f}",
                f"{psnr(rendition, Image.open(io.BytesIO(data))):.2f}",
            ]
        )
    return rows


# --- the session ------------------------------------------------------------------------------


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f}"


def tables(
    results: list[dict[str, Any]], choice: list[list[str]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows, sizes = [], []
    for label in PHOTOS:
        for variant, name in VARIANTS.items():
            runs = [r for r in results if r["photo"] == label and r["variant"] == variant]
            if not runs:
                continue
            walls = [r["wall_s"] for r in runs]
            rows.append(
                [
                    label,
                    name,
                    f"{runs[0]['file_bytes'] / 1e6:.1f}",
                    str(len(runs)),
                    f"{median(walls):.2f}",
                    f"{min(walls):.2f}\N{EN DASH}{max(walls):.2f}",
                    f"{median([r['cpu_s'] for r in runs]):.2f}",
                    mib(median([r["peak_kib"] for r in runs])),
                    mib(median([r["peak_kib"] - r["baseline_kib"] for r in runs])),
                ]
            )
            if variant in ("intake", "vips"):
                by_width: dict[int, dict[str, int]] = {}
                for fmt, w, _h, n in runs[0]["renditions"]:
                    by_width.setdefault(w, {})[fmt] = n
                for w in sorted(by_width):
                    kb = by_width[w]
                    sizes.append(
                        [
                            label,
                            name,
                            f"{w:,}",
                            f"{kb.get('avif', 0) / 1000:.0f}",
                            f"{kb.get('jpeg', 0) / 1000:.0f}",
                        ]
                    )
    when = time.strftime("%Y-%m-%d")
    machine = f"{os.cpu_count()} cores"
    vips_note = (
        f"libvips {args.vips} (pyvips-binary, not a Liveblog dependency): thumbnail with "
        "shrink-on-load, AVIF Q60 at effort 1 (AV1 speed 8), JPEG Q82."
        if args.vips
        else "libvips not measured: pyvips was not importable (see the module's docstring)."
    )
    return [
        table(
            "Photo intake: process_image on one photo-like JPEG (q90), fresh process per run",
            [
                "photo",
                "pipeline",
                "file (MB)",
                "runs",
                "wall median (s)",
                "wall min\N{EN DASH}max (s)",
                "CPU (s)",
                "peak RSS (MiB)",
                "peak over imports (MiB)",
            ],
            rows,
            [
                f"Measured {when} ({args.source}), {machine}. Each run is a fresh Python process;"
                " wall and CPU time cover the one call (sniff, scan, decode, sRGB, 3 widths x "
                "2 formats); peak RSS is the process's high-water mark (VmHWM), and 'over "
                "imports' subtracts its value just before the call.",
                "Draft off: the same intake with libjpeg's reduced-scale decoding disabled, so "
                "the whole picture is decoded at full size.",
                vips_note,
            ],
        ),
        table(
            "Photo intake: bytes of each rendition",
            ["photo", "pipeline", "width (px)", "AVIF (KB)", "JPEG (KB)"],
            sizes,
            ["AVIF quality 60; JPEG quality 82, progressive, optimised; no metadata in either."],
        ),
        table(
            "Modern format: encoding one 1600 x 1200 rendition of the 12 MP photo (chosen: AVIF "
            "q60 speed 8)",
            ["encoder and settings", "wall (ms)", "CPU (ms)", "bytes (KB)", "PSNR (dB)"],
            choice,
            [
                f"Median of {args.runs} encodes in one process; CPU counts every encoder thread "
                "(libaom uses both cores, libwebp one). PSNR against the rendition's own "
                "pixels, on a synthetic picture: a rough guide to quality, not a perceptual one."
            ],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--vips-site", default=os.environ.get("BENCH_VIPS_SITE"))
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return 0
    args.source = source_state()
    args.vips = vips_version(args.vips_site)
    variants = [v for v in VARIANTS if v != "vips" or args.vips]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        log("making the photos")
        paths = make_photos(Path(tmp))
        for run in range(1, args.runs + 1):
            for label, path in paths.items():
                for variant in variants:  # interleaved, so drift of the machine spreads evenly
                    r = measure(variant, path, args.vips_site)
                    r.update(photo=label, variant=variant, run=run, file_bytes=path.stat().st_size)
                    results.append(r)
                    log(
                        f"{label} {variant} run {run}: {r['wall_s']:.2f} s, "
                        f"peak {mib(r['peak_kib'])} MiB"
                    )
        log("encoding one 1600 px rendition with each candidate")
        choice = format_choice(paths["12 MP"], args.runs)
    raw = RESULTS_DIR / "runs" / f"{NAME}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(results, indent=1) + "\n")
    specs = tables(results, choice, args)
    path = save_results(NAME, specs)
    for spec in specs:
        print(f"\n{spec['caption']}")
        print(" | ".join(spec["columns"]))
        for row in spec["rows"]:
            print(" | ".join(row))
    log(f"media done: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
