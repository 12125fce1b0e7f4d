"""Screenshots of photos and embeds for docs/newsroom.md, taken from a real server.

    .venv/bin/python tools/media_screenshots.py      # writes docs/images/media-*.png

Starts `liveblog serve` on a throwaway SQLite database seeded with the demo blog, draws two
photo-like pictures (no real photo is shipped), adds them to the desk's composer in Debian's
chromium, publishes, and photographs the composer, the reader page on a laptop and a phone, and
an embed before and after "Load content".
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFilter
from playwright.sync_api import Route, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from desk_screenshots import CHROMIUM, LIVEBLOG, OUT, SLUG, free_port, log_in, run


def scene(path: Path, sky: tuple[int, int, int], seed: int) -> Path:
    """A road under a sky with a queue of vehicles: enough like a photo to judge a layout."""
    rng = random.Random(seed)
    width, height = 2400, 1600
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):
        t = y / height
        if y < height * 0.55:
            colour = tuple(int(c * (1 - t) + 235 * t) for c in sky)
        else:
            grey = int(90 + 40 * (t - 0.55))
            colour = (grey, grey, grey + 5)
        draw.line([(0, y), (width, y)], fill=colour)
    for i in range(16):
        x = 80 + i * 150 + rng.randint(-20, 20)
        y = int(height * 0.6) + i * 18
        w, h = 240 - i * 6, 120 - i * 3
        body = tuple(rng.randint(40, 220) for _ in range(3))
        draw.rounded_rectangle([x, y, x + w, y + h], radius=18, fill=body)
        draw.rectangle([x + 30, y + 15, x + w - 30, y + h // 2], fill=(40, 50, 60))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    img.save(path, "JPEG", quality=88)
    return path


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        token = run(data, "demo", "--port", str(port)).strip().splitlines()[-1]
        env = {"LIVEBLOG_DATA_DIR": str(data), "LIVEBLOG_DATABASE_URL": ""}
        server = subprocess.Popen(
            [*LIVEBLOG, "serve", "--port", str(port), "--log-level", "warning"],
            env={**os.environ, **env},
        )
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
                shoot(base, api, data)
        finally:
            server.terminate()
            server.wait(10)
    return 0


def shoot(base: str, api: httpx.Client, data: Path) -> None:
    border = scene(data / "border.jpg", (90, 140, 200), 1)
    trucks = scene(data / "trucks.jpg", (170, 150, 120), 2)
    embed = api.post(
        f"/api/blogs/{SLUG}/entries",
        json={
            "headline": "The governor's briefing",
            "body": "Watch the briefing in full:\n\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\n\n"
            "Shelter locations are listed by the city:\n\n"
            "[Emergency shelters open tonight](https://www.example.org/shelters)",
        },
    )
    assert embed.status_code == 201, embed.text
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        desk = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        log_in(desk, base, "demo-editor", "demo-password")
        desk.set_input_files("#picture-input", [str(border), str(trucks)])
        items = desk.locator("#picture-tray li.picture")
        texts = [
            (
                "Cars wait in long lines at the border checkpoint",
                "Cars wait in long lines at the checkpoint near Vaalimaa.",
                "Staff photographer",
            ),
            ("Trucks parked along the road to the border", "Trucks on the road.", "Agency"),
        ]
        for i, (alt, caption, credit) in enumerate(texts):
            items.nth(i).locator("[data-field=alt]").fill(alt)
            items.nth(i).locator("[data-field=caption]").fill(caption)
            items.nth(i).locator("[data-field=credit]").fill(credit)
            items.nth(i).locator("[data-field=alt]").dispatch_event("change")
        desk.fill("#headline", "Long lines at the border")
        desk.fill("#body", "Photographers captured long lines of cars at the checkpoint.")
        desk.wait_for_function(
            "() => [...document.querySelectorAll('.picture-state')]"
            ".filter(p => p.textContent.startsWith('Uploaded')).length === 2"
        )
        desk.locator(".composer").screenshot(path=OUT / "media-desk-pictures.png")
        desk.click("#publish")
        desk.wait_for_selector("#composer-status:has-text('Published.')")
        for width, name in ((1280, "media-reader.png"), (390, "media-reader-phone.png")):
            page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
            page.goto(f"{base}/blogs/{SLUG}")
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            page.locator("#entries article").first.screenshot(path=OUT / name)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

        def stub(route: Route) -> None:  # no network here: stand in for the platform's player
            route.fulfill(
                status=200,
                content_type="text/html",
                body="<body style='margin:0;background:#111;color:#eee;font:20px sans-serif;"
                "display:grid;place-items:center;height:100vh'>the platform's player</body>",
            )

        page.route("https://www.youtube-nocookie.com/**", stub)
        page.goto(f"{base}/blogs/{SLUG}")
        entry = page.locator("article", has_text="The governor's briefing")
        entry.screenshot(path=OUT / "media-embed.png")
        entry.get_by_role("button", name="Load content from YouTube").click()
        page.wait_for_timeout(500)
        entry.screenshot(path=OUT / "media-embed-loaded.png")
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
