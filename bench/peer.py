"""The peer we measure against: nginx with the nchan module, one worker, as configured in
../shared/peers/nginx-nchan.conf. Installs the Debian packages when missing (root only)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from bench.common import (
    HOST,
    ROOT,
    HttpClient,
    Response,
    child_pids,
    die_with_parent,
    log,
    port_in_use,
    wait_for_port,
)

NCHAN_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")
DEFAULT_CONF = ROOT.parent / "shared" / "peers" / "nginx-nchan.conf"
PACKAGES = {"nginx": "nginx", "libnginx-mod-nchan": "nchan", "wrk": "wrk"}


def nchan_conf() -> Path:
    return Path(os.environ.get("BENCH_NCHAN_CONF", DEFAULT_CONF)).resolve()


def binary(name: str) -> str | None:
    """A command by name, also from /usr/sbin (nginx lives there; not on every user's PATH)."""
    found = shutil.which(name)
    if found is None and Path("/usr/sbin", name).exists():
        found = str(Path("/usr/sbin", name))
    return found


def _installed(package: str) -> bool:
    if package == "libnginx-mod-nchan":
        return NCHAN_MODULE.exists()
    return binary(package) is not None


def ensure_packages(packages: tuple[str, ...] = ("nginx", "libnginx-mod-nchan")) -> None:
    """apt-get install what is missing when we are root; otherwise say what to install."""
    missing = [p for p in packages if not _installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"missing {', '.join(missing)}: run `apt-get install {' '.join(missing)}`")
    log(f"installing {' '.join(missing)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        check=True,
        env=env,
        timeout=900,
    )


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        out = subprocess.run(
            [binary("nginx") or "nginx", "-v"], capture_output=True, text=True, timeout=10
        )
        found["nginx"] = (out.stderr or out.stdout).strip().split("/")[-1]
    except OSError:
        pass
    for package in ("libnginx-mod-nchan", "wrk"):
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}", package],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if out.returncode == 0:
                found[PACKAGES[package]] = out.stdout.strip()
        except OSError:
            pass
    return found


def conf_port(conf: Path) -> int:
    match = re.search(r"listen\s+127\.0\.0\.1:(\d+)", conf.read_text())
    if match is None:
        raise SystemExit(f"{conf} does not listen on 127.0.0.1")
    return int(match.group(1))


class NchanServer:
    """nginx -p PREFIX -c nginx-nchan.conf, started fresh in `workdir`."""

    name = "nginx+nchan"
    stream_headers = (("Accept", "text/event-stream"),)

    def __init__(self, workdir: Path, channel: str = "bench", page: bytes = b"") -> None:
        self.conf = nchan_conf()
        self.port = conf_port(self.conf)
        self.prefix = workdir / "nginx"
        self.page = page or b"<!doctype html><title>page</title><p>page</p>\n"
        self.channel = channel
        self.proc: subprocess.Popen[bytes] | None = None
        self.worker = 0
        self.client: HttpClient | None = None

    @property
    def stream_path(self) -> str:
        return f"/sub/{self.channel}"

    def start(self) -> None:
        ensure_packages()
        deadline = time.monotonic() + 300
        while port_in_use(self.port):  # another benchmark's nginx: wait for it to finish
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {self.port} (from {self.conf}) stays taken")
            time.sleep(1)
        for sub in ("logs", "html", "tmp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        (self.prefix / "html" / "page.html").write_bytes(self.page)
        with open(self.prefix / "logs" / "stderr.log", "wb") as out:
            self.proc = subprocess.Popen(
                [binary("nginx") or "nginx", "-p", f"{self.prefix}/", "-c", str(self.conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        wait_for_port(
            self.port, 30, alive=lambda: self.proc is not None and self.proc.poll() is None
        )
        workers = child_pids(self.proc.pid)
        if len(workers) != 1:
            raise RuntimeError(f"expected one nginx worker, found {workers}")
        self.worker = workers[0]
        self.client = HttpClient(self.port)

    def pids(self) -> list[int]:
        """Every process whose CPU time counts as the server's."""
        assert self.proc is not None
        return [self.proc.pid, self.worker]

    @property
    def memory_pid(self) -> int:
        return self.worker

    def publish(self, body: bytes, channel: str | None = None) -> Response:
        assert self.client is not None
        return self.client.request(
            "POST", f"/pub/{channel or self.channel}", body, {"Content-Type": "text/plain"}
        )

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nginx: fast shutdown
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"
