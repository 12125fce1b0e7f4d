"""Screenshots of the desk for docs/newsroom.md, taken from a real server with the demo blog.

    .venv/bin/python tools/desk_screenshots.py      # writes docs/images/desk-*.png

Starts `liveblog serve` on a throwaway SQLite database seeded with the demo blog, logs in
through the login form in Debian's chromium, and photographs the login page, the desk on a
laptop and on a phone, the worklist with a submission, the conflict view and the retract dialog.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
SLUG = "demo-storm"
LIVEBLOG = [sys.executable, "-m", "liveblog"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(data: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "LIVEBLOG_DATA_DIR": str(data), "LIVEBLOG_DATABASE_URL": ""}
    done = subprocess.run(
        [*LIVEBLOG, *args], env=env, input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout


def log_in(page: Page, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/desk/blogs/{SLUG}")
    page.fill("#username", user)
    page.fill("#password", password)
    with page.expect_response(lambda r: "/stream" in r.url):
        page.click("button[type=submit]")
    page.wait_for_timeout(300)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        token = run(data, "demo", "--port", str(port)).strip().splitlines()[-1]
        run(data, "user", "create", "rita", "--role", "contributor", "--password-stdin",
            stdin="rita-password\n")  # fmt: skip
        run(data, "user", "create", "ada", "--role", "admin", "--password-stdin",
            stdin="ada-password\n")  # fmt: skip
        env = {**os.environ, "LIVEBLOG_DATA_DIR": str(data), "LIVEBLOG_DATABASE_URL": ""}
        server = subprocess.Popen(
            [*LIVEBLOG, "serve", "--port", str(port), "--log-level", "warning"], env=env
        )
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
            shoot(base, api)
        finally:
            server.terminate()
            server.wait(10)
    print(f"screenshots written to {OUT.relative_to(ROOT)}")
    return 0


def shoot(base: str, api: httpx.Client) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        laptop = browser.new_context(viewport={"width": 1280, "height": 860})
        page = laptop.new_page()
        page.goto(f"{base}/login")
        page.screenshot(path=OUT / "desk-login.png")

        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        rita = phone.new_page()
        log_in(rita, base, "rita", "rita-password")
        rita.fill("#body", "Queues of cars at the **ring road** exit as people leave the coast.")
        rita.click("#submit-review")
        rita.wait_for_timeout(300)
        rita.fill("#headline", "Power cut in the old town")
        rita.fill("#body", "About 2,000 homes without power, the grid operator says.")
        rita.wait_for_timeout(500)
        rita.screenshot(path=OUT / "desk-phone.png", full_page=False)

        log_in(page, base, "demo-editor", "demo-password")
        page.wait_for_timeout(5500)  # a presence heartbeat: rita's phone is on this desk too
        page.fill("#headline", "Harbour wall breached")
        page.fill("#body", "Water is coming over the harbour wall at **Pier 3**.\n\n- Stay away")
        page.wait_for_timeout(600)
        page.screenshot(path=OUT / "desk-composer.png", full_page=True)

        first = page.locator("#desk-entries li").first
        first.get_by_role("button", name="Edit").click()
        entry_id = first.get_attribute("data-id")
        current = api.get(f"/api/blogs/{SLUG}/entries/{entry_id}").json()
        api.patch(
            f"/api/blogs/{SLUG}/entries/{entry_id}",
            json={"body": current["body"] + " (updated by a colleague)"},
            headers={"If-Match": f'"{current["version"]}"'},
        )
        page.fill("#body", current["body"] + " Wind speeds are now easing.")
        page.click("#publish")
        page.locator("#conflict").wait_for()
        page.locator("#conflict").screenshot(path=OUT / "desk-conflict.png")
        page.click("#take-theirs")

        page.locator("#desk-entries li").nth(1).get_by_role("button", name="Retract…").click()
        page.fill("#public-note", "Removed: this report could not be confirmed.")
        page.screenshot(path=OUT / "desk-retract.png")
        page.click("#cancel-retract")

        page.goto(f"{base}/desk")
        page.screenshot(path=OUT / "desk-home.png", full_page=True)
        admin = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        admin.goto(f"{base}/login?next=/desk/admin")
        admin.fill("#username", "ada")
        admin.fill("#password", "ada-password")
        admin.click("button[type=submit]")
        admin.wait_for_url(f"{base}/desk/admin")
        admin.screenshot(path=OUT / "desk-admin.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
