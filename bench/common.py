"""What every benchmark shares: file limits, /proc readings, a tiny HTTP client with kernel
receive timestamps, percentiles and the results files that report.py assembles."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
HOST = "127.0.0.1"  # every benchmark stays on loopback

# Linux's SO_TIMESTAMPNS (asm-generic; the `socket` module does not export it): each recvmsg
# carries the CLOCK_REALTIME time the kernel received the data, so a busy client's own lag
# does not count as the server's.
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
TIMESPEC = struct.Struct("@qq")
ANCILLARY_SPACE = socket.CMSG_SPACE(TIMESPEC.size)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_file_limit() -> int:
    """Lift the soft open-files limit to the hard one (each reader is a socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def enable_timestamps(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def kernel_timestamp(ancdata: list[tuple[int, int, bytes]]) -> int:
    """The receive time (ns since the epoch) from recvmsg's ancillary data, 0 if absent."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            sec, nsec = TIMESPEC.unpack_from(data)
            return sec * 1_000_000_000 + nsec
    return 0


# --- /proc ----------------------------------------------------------------------------------


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of the processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(c) for c in text)
    return children


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each of the processes still alive (one may have exited meanwhile)."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            out[pid] = cpu_seconds([pid])
    return out


def cpu_since(before: dict[int, float], pids: list[int]) -> float:
    """CPU used since `before` by the processes alive now (new ones count from zero)."""
    return sum(now - before.get(pid, 0.0) for pid, now in cpu_by_pid(pids).items())


def established_per_process(port: int, pids: list[int], skip: int) -> list[int]:
    """For each process: how many ESTABLISHED TCP sockets (IPv4) on local `port` it holds, not
    counting the one whose peer's port is `skip` (say, the publisher's connection)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local, remote = (int(cols[i].rsplit(":", 1)[1], 16) for i in (1, 2))
        if cols[3] == "01" and local == port and remote != skip:
            inodes.add(f"socket:[{cols[9]}]")
    return [sum(_readlink(f) in inodes for f in Path(f"/proc/{pid}/fd").iterdir()) for pid in pids]


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # the fd closed meanwhile
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, alive: Any = None) -> None:
    """Until something accepts on HOST:port; `alive()` returning False aborts early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"the server on port {port} exited while starting")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout:.0f} s")


def port_in_use(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- a small keep-alive HTTP/1.1 client -----------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    sent_ns: int = 0  # CLOCK_REALTIME just before the request's first byte was sent
    received_ns: int = 0  # kernel receive time of the byte that completed the response

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def latency_ms(self) -> float:
        return (self.received_ns - self.sent_ns) / 1e6


@dataclass
class HttpClient:
    """Blocking, one keep-alive connection, requests of known length only. The publisher's
    send time is taken just before `send`, the response time from the kernel's timestamp."""

    port: int
    timeout: float = 30.0
    sock: socket.socket | None = field(default=None, repr=False)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        enable_timestamps(sock)
        self.sock = sock
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        sock = self.sock or self._connect()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        sent_ns = time.time_ns()
        sock.sendall(raw)
        buf = bytearray()
        received_ns = 0
        while (head_end := buf.find(b"\r\n\r\n")) < 0:
            received_ns = self._recv(sock, buf)
        status_line, *header_lines = buf[:head_end].decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        length = int(hdrs.get("content-length", "0"))
        content = buf[head_end + 4 :]
        while len(content) < length:
            received_ns = self._recv(sock, content)
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return Response(status, hdrs, bytes(content[:length]), sent_ns, received_ns)

    @staticmethod
    def _recv(sock: socket.socket, buf: bytearray) -> int:
        data, anc, _flags, _addr = sock.recvmsg(65536, ANCILLARY_SPACE)
        if not data:
            raise ConnectionError("the server closed the connection mid-response")
        buf += data
        return kernel_timestamp(anc) or time.time_ns()


# --- statistics -----------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100); NaN if empty."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


def median(values: Sequence[float]) -> float:
    ordered = sorted(v for v in values if v == v)  # drop NaN
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# --- results --------------------------------------------------------------------------------


def table(
    caption: str, columns: list[str], rows: list[list[Any]], notes: list[str] | None = None
) -> dict[str, Any]:
    """One table of a results file: report.py renders the caption, a Markdown table (cells are
    printed as given, so format numbers first) and the notes as a list below it."""
    return {"caption": caption, "columns": columns, "rows": rows, "notes": notes or []}


def save_results(name: str, tables: list[dict[str, Any]]) -> Path:
    """bench/results/<name>.json: a list of tables (see `table`), in the order to print them."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(tables, indent=1, ensure_ascii=False) + "\n")
    return path


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def die_with_parent() -> None:
    """preexec_fn for servers: a benchmark that is killed must not leave them running."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# --- the liveblog server, exactly as users run it -------------------------------------------

EDITOR = "bench"
BLOG_SLUG = "fanout"

_BODY = (
    "**Update {n}** ({marker}): emergency services say the ring road is closed between "
    "junctions 4 and 7 after the river rose above the flood barrier overnight. "
    "[Live traffic map](https://example.org/traffic) shows the diversions.\n\n"
    "- Ferries suspended until 18:00\n"
    "- Schools in the *north district* closed\n"
    "- Call 112 only in an emergency\n\n"
    '> "We are asking people to stay at home tonight," the mayor said.'
)


def entry_json(n: int | None) -> bytes:
    """A realistic entry (~400-character Markdown body) carrying the marker `bench-<n>`."""
    marker = f"bench-{n}" if n is not None else "warm-up"
    body = _BODY.format(n=n if n is not None else 0, marker=marker)
    headline = f"Flood update {n}" if n is not None else "Warm-up"
    return json.dumps({"headline": headline, "body": body}).encode()


def liveblog_command() -> str:
    local = Path(sys.executable).parent / "liveblog"
    found = str(local) if local.exists() else shutil.which("liveblog")
    if found is None:
        raise SystemExit("no `liveblog` command: run `make setup` first")
    return found


class LiveblogServer:
    """`liveblog serve` (one process, SQLite) in a fresh data directory, an editor with an API
    token made by the CLI, and one blog created through the API.

    `database_url` runs it on that database instead (PostgreSQL: migrate it first),
    `serve_args` are added to `serve` (e.g. `--workers 2`), `env` to the server's environment,
    and `setup=False` starts another node on a database that already has the editor and the
    blog (it cannot publish)."""

    name = "liveblog"
    stream_headers: tuple[tuple[str, str], ...] = (("Accept", "text/event-stream"),)

    def __init__(
        self,
        workdir: Path,
        slug: str = BLOG_SLUG,
        *,
        database_url: str = "",
        serve_args: Sequence[str] = (),
        setup: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.env = env or {}
        self.database_url = database_url
        self.serve_args = tuple(serve_args)
        self.setup = setup
        self.data_dir = workdir / "liveblog-data"
        self.port = free_port()
        self.slug = slug
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: HttpClient | None = None
        self.token = ""

    @property
    def stream_path(self) -> str:
        return f"/api/blogs/{self.slug}/stream"

    def _database_args(self) -> list[str]:
        return ["--database-url", self.database_url] if self.database_url else []

    def _cli(self, *args: str, stdin: str = "") -> str:
        out = subprocess.run(
            [liveblog_command(), *args, "--data-dir", str(self.data_dir), *self._database_args()],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.setup:
            self._cli("migrate")  # the other commands refuse to make a new, empty database
            self._cli(
                "user",
                "create",
                EDITOR,
                "--role",
                "editor",
                "--password-stdin",
                stdin="bench-password-not-secret\n",
            )
            self.token = self._cli("token", "create", EDITOR).strip().splitlines()[-1]
        with open(self.workdir / "liveblog.log", "wb") as out:
            self.proc = subprocess.Popen(
                [
                    liveblog_command(),
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    *self._database_args(),
                    *self.serve_args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
                env={**os.environ, **self.env},
            )
        proc = self.proc
        wait_for_port(self.port, 60, alive=lambda: proc.poll() is None)
        self.client = HttpClient(self.port)
        if not self.setup:
            return
        blog = json.dumps({"slug": self.slug, "title": "Floods, live"}).encode()
        response = self.client.request("POST", "/api/blogs", blog, self._auth())
        if response.status != 201:
            raise RuntimeError(f"creating the blog: {response.status} {response.body[:200]!r}")

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def pids(self) -> list[int]:
        assert self.proc is not None
        return [self.proc.pid]

    @property
    def memory_pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def publish(self, body: bytes) -> Response:
        assert self.client is not None
        return self.client.request("POST", f"/api/blogs/{self.slug}/entries", body, self._auth())

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def source_state() -> str:
    """Which code was measured: the commit, and whether src/ had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        return "liveblog (unknown commit)"
    return f"liveblog at commit {head or '?'}" + (
        " with uncommitted changes in src/" if dirty else ""
    )


def system_busy_seconds() -> float:
    """CPU time the whole machine was busy (/proc/stat: user, nice, system, irq, softirq).
    Interrupt time counts too because a process's stime includes the softirq work (here: the
    loopback receive path) that ran on its behalf."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def wait_until_quiet(max_cores: float, timeout: float, sample: float = 2.0) -> float:
    """Before a run: wait (up to `timeout` s) until the machine's busy CPU over `sample` s is
    at most `max_cores` (other benchmarks may share it). Returns the last reading, in cores."""
    deadline = time.monotonic() + timeout
    while True:
        before = system_busy_seconds()
        time.sleep(sample)
        busy = (system_busy_seconds() - before) / sample
        if busy <= max_cores or time.monotonic() >= deadline:
            return busy
        log(f"  the machine is busy ({busy:.2f} cores): waiting before the run")
