"""The command line and the server as separate processes, the way an operator runs them."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from liveblog import cli
from liveblog.settings import Settings

from conftest import free_port


def liveblog(
    data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liveblog", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LIVEBLOG_DATABASE_URL": ""},
    )


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "liveblog",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/blogs", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def migrate(data_dir: Path) -> None:
    """`liveblog migrate` (in this process: quicker), which the other commands need first."""
    url = f"sqlite:///{data_dir / 'liveblog.sqlite3'}"
    assert cli.main(["migrate", "--database-url", url]) == 0


def make_editor_token(data_dir: Path) -> str:
    """Create an editor through the CLI and return the token `token create` printed last."""
    migrate(data_dir)
    made = liveblog(
        data_dir,
        "user",
        "create",
        "rita",
        "--role",
        "editor",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert made.returncode == 0, made.stderr
    out = liveblog(data_dir, "token", "create", "rita")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_user_and_token_commands_give_a_working_token(tmp_path: Path) -> None:
    """`user create` then `token create` prints, on its last line, a token the API accepts."""
    token = make_editor_token(tmp_path)
    assert token.startswith("lb_") and " " not in token
    port = free_port()
    server = start_server(tmp_path, port)
    try:
        r = httpx.post(
            f"http://127.0.0.1:{port}/api/blogs",
            json={"slug": "s", "title": "T"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
    finally:
        server.terminate()
        server.wait(10)


def test_cli_refuses_bad_input_with_a_message(tmp_path: Path) -> None:
    """A bad role, a short password or an unknown user is an error message, not a traceback."""
    migrate(tmp_path)
    short = liveblog(
        tmp_path, "user", "create", "rita", "--role", "editor", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 1 and "password" in short.stderr and "Traceback" not in short.stderr
    unknown = liveblog(tmp_path, "token", "create", "nobody")
    assert unknown.returncode == 1 and "nobody" in unknown.stderr
    bad_role = liveblog(
        tmp_path,
        "user",
        "create",
        "rita",
        "--role",
        "boss",
        "--password-stdin",
        stdin="long enough password\n",
    )
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


def test_demo_seeds_once_and_prints_a_fresh_token_each_run(tmp_path: Path) -> None:
    """Running the demo seeding twice keeps the data as it was and hands out a new token."""
    first = liveblog(tmp_path, "demo")
    second = liveblog(tmp_path, "demo")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "created" in first.stdout and "left it as it is" in second.stdout
    tokens = [run.stdout.strip().splitlines()[-1] for run in (first, second)]
    assert tokens[0] != tokens[1]
    port = free_port()
    server = start_server(tmp_path, port)
    try:
        entries = httpx.get(f"http://127.0.0.1:{port}/api/blogs/demo-storm/entries").json()
        assert len(entries["entries"]) == 5
        assert sum(e["pinned"] for e in entries["entries"]) == 1
        for token in tokens:  # both printed tokens work
            r = httpx.get(
                f"http://127.0.0.1:{port}/api/blogs/demo-storm/entries/1/revisions",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200
    finally:
        server.terminate()
        server.wait(10)


def test_acknowledged_publish_survives_kill_9(tmp_path: Path) -> None:
    """Every entry the server answered 201 for is still there after SIGKILL and a restart."""
    token = make_editor_token(tmp_path)
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port)
    httpx.post(f"{base}/api/blogs", json={"slug": "s", "title": "T"}, headers=headers)
    acknowledged: list[int] = []

    def publish_until_killed() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
            for i in range(10_000):
                try:
                    r = client.post("/api/blogs/s/entries", json={"body": f"durable {i}"})
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    acknowledged.append(r.json()["id"])

    writer = threading.Thread(target=publish_until_killed)
    writer.start()
    while len(acknowledged) < 40:
        time.sleep(0.01)
    os.kill(server.pid, signal.SIGKILL)  # mid-stream: requests are in flight
    server.wait(10)
    writer.join(10)
    assert len(acknowledged) >= 40
    server = start_server(tmp_path, port)
    try:
        stored = set()
        cursor = ""
        while True:
            page = httpx.get(f"{base}/api/blogs/s/entries?limit=100{cursor}").json()
            stored |= {e["id"] for e in page["entries"]}
            if not page["next"]:
                break
            cursor = f"&before={page['next']}"
        assert set(acknowledged) <= stored
        seq = httpx.get(f"{base}/api/blogs/s").json()["seq"]
        assert seq == len(stored)  # one event per stored entry, none lost from the log
    finally:
        server.terminate()
        server.wait(10)


def test_sigterm_ends_open_streams_with_a_retry_hint_and_exits_promptly(tmp_path: Path) -> None:
    """On SIGTERM a reader's stream ends cleanly with a reconnect hint and the server exits fast."""
    token = make_editor_token(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port)
    try:
        httpx.post(
            f"{base}/api/blogs",
            json={"slug": "s", "title": "T"},
            headers={"Authorization": f"Bearer {token}"},
        )
        with httpx.stream("GET", f"{base}/api/blogs/s/stream", timeout=10) as response:
            lines = response.iter_lines()
            assert next(lines) == "retry: 3000"
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            rest = list(lines)  # ends when the server closes the stream
        assert any(line.startswith("retry: ") for line in rest)
        # uvicorn re-raises the signal once it has shut down cleanly, as servers conventionally do
        assert server.wait(10) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 3
    finally:
        if server.poll() is None:
            server.kill()


def test_user_commands_list_disable_enable_and_reset_passwords(tmp_path: Path) -> None:
    """`user list` shows names, roles and state; `user disable` ends the user's sessions and
    refuses their login, `user enable` lets them in again; `user password` sets a new password
    (ending sessions, the old password refused); mistakes are messages, not tracebacks."""
    from liveblog.broadcast.base import NullHub
    from liveblog.domain.errors import Forbidden, NotAuthenticated
    from liveblog.service import Liveblog
    from liveblog.storage.sql import SqlStore

    make_editor_token(tmp_path)
    store = SqlStore(f"sqlite:///{tmp_path / 'liveblog.sqlite3'}")
    accounts = Liveblog(store, NullHub())

    def session() -> str:
        return accounts.login("rita", password, address="192.0.2.1").session_id

    try:
        password = "correct horse battery"
        listed = liveblog(tmp_path, "user", "list")
        assert listed.returncode == 0 and listed.stdout.split() == ["rita", "editor", "active"]

        cookie = session()
        disabled = liveblog(tmp_path, "user", "disable", "rita")
        assert disabled.returncode == 0 and "1 session ended" in disabled.stdout
        assert liveblog(tmp_path, "user", "list").stdout.split()[-1] == "disabled"
        with pytest.raises(NotAuthenticated):
            accounts.session(cookie)
        with pytest.raises(Forbidden, match="disabled"):
            session()
        assert liveblog(tmp_path, "user", "enable", "rita").returncode == 0
        cookie = session()

        short = liveblog(tmp_path, "user", "password", "rita", "--password-stdin", stdin="short\n")
        assert short.returncode == 1 and "at least 8" in short.stderr
        assert "Traceback" not in short.stderr
        reset = liveblog(
            tmp_path, "user", "password", "rita", "--password-stdin", stdin="a new password\n"
        )
        assert reset.returncode == 0 and "1 session ended" in reset.stdout, reset.stderr
        with pytest.raises(NotAuthenticated):
            accounts.session(cookie)
        with pytest.raises(NotAuthenticated):
            session()
        password = "a new password"
        session()

        for command in ("disable", "enable"):
            unknown = liveblog(tmp_path, "user", command, "nobody")
            assert unknown.returncode == 1 and "no user named 'nobody'" in unknown.stderr
    finally:
        store.close()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LIVEBLOG_TRUSTED_PROXIES", "10.0.0.0/8, nginx-box", "'nginx-box' is not an IP"),
        ("LIVEBLOG_SECRET_KEY", "too-short", "at least 32 characters"),
    ],
)
def test_serve_refuses_bad_security_settings_with_a_message(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    """`serve` with an unusable trusted-proxy list or a short secret key stops at once with
    the variable named, instead of starting half-protected."""
    env = {**os.environ, "LIVEBLOG_DATABASE_URL": "", variable: value}
    command = [sys.executable, "-m", "liveblog", "serve", "--data-dir", str(tmp_path)]
    command += ["--port", str(free_port())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1, done.stderr
    assert variable in done.stderr and message in done.stderr and "Traceback" not in done.stderr


# --- which database: named first, and never made by accident ---------------------------------

REFUSED = [
    ["user", "list"],
    ["user", "create", "rita", "--role", "editor", "--password-stdin"],
    ["user", "disable", "rita"],
    ["user", "enable", "rita"],
    ["user", "password", "rita", "--password-stdin"],
    ["token", "create", "rita"],
    ["token", "revoke"],
    ["audit"],
]


@pytest.fixture
def no_database_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LIVEBLOG_DATA_DIR", "LIVEBLOG_DATABASE_URL"):
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.usefixtures("no_database_settings")
@pytest.mark.parametrize("command", REFUSED, ids=" ".join)
def test_a_command_that_would_make_a_new_database_refuses(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run where there is no database (the default ./data, or a --data-dir with none), any
    command but serve, migrate and demo says which database it looked for, names --data-dir and
    LIVEBLOG_DATA_DIR, exits 1 and creates neither file nor directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    elsewhere = tmp_path / "elsewhere"
    for extra, expected in (([], tmp_path / "data"), (["--data-dir", str(elsewhere)], elsewhere)):
        assert cli.main([*command, *extra]) == 1
        err = capsys.readouterr().err
        assert err.splitlines()[0] == f"database: {expected / 'liveblog.sqlite3'}", err
        assert "--data-dir" in err and "LIVEBLOG_DATA_DIR" in err, err
        assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("no_database_settings")
def test_migrate_makes_the_database_that_other_commands_then_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`migrate` in a fresh directory makes ./data, saying its absolute path first; `user
    list` there then runs on it, naming the same database."""
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "data" / "liveblog.sqlite3"
    assert cli.main(["migrate"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == f"database: {database}"
    assert database.exists()
    assert cli.main(["user", "list"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == f"database: {database}"


def test_a_real_process_names_its_database_on_its_first_line(tmp_path: Path) -> None:
    """The installed command, as an operator runs it, writes `database: <absolute path>` as
    the first line of its stderr, for a relative --data-dir too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBLOG_DATA")}
    done = subprocess.run(
        [sys.executable, "-m", "liveblog", "migrate", "--data-dir", "here"],
        cwd=tmp_path,
        env={**env, "LIVEBLOG_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    first = done.stderr.splitlines()[0]
    assert first == f"database: {tmp_path.resolve() / 'here' / 'liveblog.sqlite3'}"


def test_a_database_url_is_named_without_its_password(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a PostgreSQL URL that carries a password, the database line shows the URL with
    the password as *** (here against the real server, which lets the test role in)."""
    secret = "hunter2-not-to-be-shown"
    user, at, rest = pg_url.partition("://")[2].partition("@")
    assert at, pg_url
    url = f"postgresql://{user}:{secret}@{rest}"
    assert cli.main(["user", "list", "--database-url", url]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == f"database: postgresql://{user}:***@{rest}"
    assert secret not in captured.err + captured.out


def test_serve_names_its_database_in_its_own_log_format(tmp_path: Path) -> None:
    """`serve` logging JSON gives the database line as a JSON record like its other lines."""
    port = free_port()
    env = {**os.environ, "LIVEBLOG_DATABASE_URL": "", "LIVEBLOG_LOG_FORMAT": "json"}
    command = [sys.executable, "-m", "liveblog", "serve", "--data-dir", str(tmp_path)]
    with subprocess.Popen(
        [*command, "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stderr is not None
            first = json.loads(proc.stderr.readline())
        finally:
            proc.terminate()
    assert first["message"] == f"database: {tmp_path / 'liveblog.sqlite3'}", first
    assert first["logger"] == "liveblog.cli" and first["level"] == "INFO"


def test_settings_show_sqlite_as_a_path_and_hide_url_passwords(tmp_path: Path) -> None:
    """The database label is the SQLite file's absolute path, or the URL with a password in
    its user part or its query shown as ***."""
    assert Settings(data_dir=tmp_path, database_url="").database_label() == str(
        tmp_path / "liveblog.sqlite3"
    )
    for url, shown in [
        ("postgresql://ed:pw@db:5432/live", "postgresql://ed:***@db:5432/live"),
        ("postgresql://ed:p@ss@db/live", "postgresql://ed:***@db/live"),
        ("postgresql://db/live?sslmode=require&password=pw", "postgresql://db/live?sslmode=require&password=***"),
        ("postgresql://ed@db/live", "postgresql://ed@db/live"),
    ]:  # fmt: skip
        assert Settings(database_url=url).database_label() == shown
