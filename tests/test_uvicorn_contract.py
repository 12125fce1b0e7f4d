"""The seam between liveblog and uvicorn, made explicit: the pinned uvicorn minor is the one
installed, every uvicorn name our server code uses is listed here and still exists, and a
fresh stream and a current page really take the fast path on a running server.

The names are found by reading the code (ast), not by hand: imports from uvicorn, keyword
arguments to `uvicorn.Config`, attributes our subclasses of uvicorn classes use without
defining them (`self.cycle`, `super().on_headers_complete`), the methods they override, and
attributes of objects typed as uvicorn classes (`server_state.default_headers`). A new use of
uvicorn makes the found list differ from SEAM below, so it is reviewed before it lands.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import LiveServer, Team
from sse import take

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "src" / "liveblog" / "web"
SLUG = "election-night"

# Every uvicorn name web/fastpath.py, web/guard.py, web/front.py, web/server.py and the lean
# stream writer use. Three are underscore-private (uvicorn may change them in any release):
# `_captured_signals`, `_unset_keepalive_if_required` and the protocol's `_loop` argument.
# Update this list only together with the code that needs it.
SEAM = {
    # imports
    "import uvicorn",
    "import uvicorn.config:Config",
    "import uvicorn.config:LOGGING_CONFIG",
    "import uvicorn.protocols.http.httptools_impl:HttpToolsProtocol",
    "import uvicorn.protocols.utils:get_client_addr",
    "import uvicorn.server:ServerState",
    "uvicorn.Config",
    "uvicorn.Server",
    # how the server is configured
    "Config(backlog=)",
    "Config(host=)",
    "Config(http=)",
    "Config(log_config=)",
    "Config(log_level=)",
    "Config(port=)",
    "Config(proxy_headers=)",
    "Config(timeout_graceful_shutdown=)",
    # the protocol: what uvicorn calls on it, and what it reads of uvicorn's
    "HttpToolsProtocol.__init__",
    "HttpToolsProtocol.access_log",
    "HttpToolsProtocol.access_logger",
    "HttpToolsProtocol.access_logger.info",
    "HttpToolsProtocol.access_logger.isEnabledFor",
    "HttpToolsProtocol.app_state",
    "HttpToolsProtocol.client",
    "HttpToolsProtocol.connection_lost",
    "HttpToolsProtocol.connection_made",
    "HttpToolsProtocol.connections",
    "HttpToolsProtocol.connections.discard",
    "HttpToolsProtocol.cycle",
    "HttpToolsProtocol.cycle.response_complete",
    "HttpToolsProtocol.data_received",
    "HttpToolsProtocol.headers",
    "HttpToolsProtocol.loop",
    "HttpToolsProtocol.loop.time",
    "HttpToolsProtocol.on_body",
    "HttpToolsProtocol.on_headers_complete",
    "HttpToolsProtocol.on_message_begin",
    "HttpToolsProtocol.on_message_complete",
    "HttpToolsProtocol.on_response_complete",
    "HttpToolsProtocol.parser",
    "HttpToolsProtocol.parser.get_http_version",
    "HttpToolsProtocol.parser.get_method",
    "HttpToolsProtocol.parser.should_keep_alive",
    "HttpToolsProtocol.scope",
    "HttpToolsProtocol.send_400_response",
    "HttpToolsProtocol.server_state",
    "HttpToolsProtocol.server_state.default_headers",
    "HttpToolsProtocol.transport",
    "HttpToolsProtocol.transport.close",
    "HttpToolsProtocol.transport.is_closing",
    "HttpToolsProtocol.transport.write",
    "HttpToolsProtocol.transport.writelines",
    "HttpToolsProtocol.url",
    "HttpToolsProtocol.url.decode",
    "HttpToolsProtocol._unset_keepalive_if_required",
    # the server
    "Server.__init__",
    "Server.handle_exit",
    "Server.run",
    "Server._captured_signals",
    # the lean stream writer's view of the server
    "ServerState.connections",
    "ServerState.connections.add",
    "ServerState.connections.discard",
    "ServerState.default_headers",
    # the composition protocol (web/front.py): it makes uvicorn's protocol and feeds it
    "Config.timeout_keep_alive",
    "HttpToolsProtocol(_loop=)",
    "HttpToolsProtocol(app_state=)",
    "HttpToolsProtocol(config=)",
    "HttpToolsProtocol(server_state=)",
    "HttpToolsProtocol.eof_received",
    "HttpToolsProtocol.pause_writing",
    "HttpToolsProtocol.resume_writing",
    "ServerState.total_requests",
}


def seam_files() -> list[Path]:
    """The server-side modules that touch uvicorn (the stream writers wherever they live)."""
    files = [WEB / "fastpath.py", WEB / "guard.py", WEB / "front.py", WEB / "server.py"]
    files = [p for p in files if p.exists()]
    candidates = [*sorted((WEB / "streaming").glob("*.py")), WEB / "streamconn.py", WEB / "edge.py"]
    files += [p for p in candidates if p.exists() and "uvicorn" in p.read_text()]
    return files


# --- reading the code -------------------------------------------------------------------------


@dataclass
class Klass:
    name: str
    bases: list[str]
    own: set[str] = field(default_factory=set)  # methods and self.X assignments
    methods: set[str] = field(default_factory=set)
    typed: dict[str, str] = field(default_factory=dict)  # self.X -> uvicorn class name
    node: ast.ClassDef | None = None


def _chain(node: ast.expr) -> list[str] | None:
    """`self.a.b` as ['self', 'a', 'b']; `super().a` as ['super', 'a']; else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super":
        parts.append("super")
    else:
        return None
    return parts[::-1]


def _annotation_name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.BinOp):  # `T | None`
        return _annotation_name(node.left)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr if node.value.id == "uvicorn" else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.split(".")[-1]
    return None


def uvicorn_names(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    imported: set[str] = {"Server", "Config"}  # names bound to uvicorn objects
    trees = [ast.parse(p.read_text()) for p in paths]
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("uvicorn"):
                for alias in node.names:
                    found.add(f"import {node.module}:{alias.name}")
                    imported.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                found |= {f"import {a.name}" for a in node.names if a.name.startswith("uvicorn")}
            elif isinstance(node, ast.Attribute) and _chain(node) == ["uvicorn", node.attr]:
                found.add(f"uvicorn.{node.attr}")
    for tree in trees:  # keyword arguments to uvicorn's constructors are part of the seam
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            chain = _chain(node.func) or [""]
            if chain[-1] in imported and chain in (["uvicorn", chain[-1]], [chain[-1]]):
                found |= {f"{chain[-1]}({kw.arg}=)" for kw in node.keywords if kw.arg}

    classes: dict[str, Klass] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [b for b in map(_annotation_name, node.bases) if b]
                klass = Klass(node.name, bases, node=node)
                _read_class(klass, imported)
                classes[node.name] = klass

    def uvicorn_root(name: str) -> str | None:
        klass = classes.get(name)
        if klass is None:
            return name if name in imported else None
        for base in klass.bases:
            root = uvicorn_root(base)
            if root:
                return root
        return None

    def own_names(name: str) -> set[str]:
        klass = classes.get(name)
        if klass is None:
            return set()
        names = set(klass.own)
        for base in klass.bases:
            names |= own_names(base)
        return names

    for klass in classes.values():
        root = uvicorn_root(klass.name) if klass.name not in imported else None
        assert klass.node is not None
        # What we assign to an attribute uvicorn also sets is still uvicorn's attribute.
        own = own_names(klass.name) - (uvicorn_attributes(root) if root else set())
        if root:
            base = getattr(uvicorn_class(root), "__mro__", ())
            # Overrides: uvicorn calls these on us, so they must keep their names.
            found |= {f"{root}.{m}" for m in klass.methods if any(m in vars(c) for c in base)}
        for node in ast.walk(klass.node):
            if not isinstance(node, ast.Attribute):
                continue
            parts = _chain(node)
            if not parts or len(parts) < 2:
                continue
            head, attr = parts[0], parts[1]
            rest = parts[2:3]
            if head == "self" and attr in klass.typed:
                if rest:
                    found.add(".".join([klass.typed[attr], *parts[2:4]]))
            elif root and ((head == "self" and attr not in own) or head == "super"):
                found.add(".".join([root, attr, *rest]))
        # Local variables holding a uvicorn-derived object (`server = LiveblogServer(...)`).
    for tree in trees:
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                found |= _locals_of(func, uvicorn_root, own_names)
    return found


def _read_class(klass: Klass, imported: set[str]) -> None:
    assert klass.node is not None
    for item in klass.node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            klass.own.add(item.name)
            klass.methods.add(item.name)
            params = {
                a.arg: _annotation_name(a.annotation) for a in item.args.args + item.args.kwonlyargs
            }
            for node in ast.walk(item):
                if isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        parts = _chain(target) if isinstance(target, ast.Attribute) else None
                        if parts and parts[0] == "self" and len(parts) == 2:
                            klass.own.add(parts[1])
                            value = node.value
                            if isinstance(value, ast.Name) and params.get(value.id) in imported:
                                klass.typed[parts[1]] = str(params[value.id])
                            if isinstance(node, ast.AnnAssign):
                                kind = _annotation_name(node.annotation)
                                if kind in imported:
                                    klass.typed[parts[1]] = str(kind)
        elif isinstance(item, ast.Assign):
            klass.own |= {t.id for t in item.targets if isinstance(t, ast.Name)}
    klass.own.add("__slots__")


def _locals_of(func: ast.AST, uvicorn_root: Any, own_names: Any) -> set[str]:
    found: set[str] = set()
    typed: dict[str, str] = {}
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
        ):
            cls = node.value.func.id
            root = uvicorn_root(cls)
            if root:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        typed[target.id] = cls
    for node in ast.walk(func):
        parts = _chain(node) if isinstance(node, ast.Attribute) else None
        if parts and len(parts) == 2 and parts[0] in typed:
            cls = typed[parts[0]]
            if parts[1] not in own_names(cls):
                found.add(f"{uvicorn_root(cls)}.{parts[1]}")
    return found


def uvicorn_attributes(name: str) -> set[str]:
    """The attributes instances of a uvicorn class get: its members and every `self.X = …`
    in the source of the class and its uvicorn bases."""
    names: set[str] = set()
    for cls in getattr(uvicorn_class(name), "__mro__", ()):
        if not cls.__module__.startswith("uvicorn"):
            continue
        names |= set(vars(cls))
        for node in ast.walk(ast.parse(inspect.getsource(cls))):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                parts = _chain(node)
                if parts and parts[0] == "self" and len(parts) == 2:
                    names.add(parts[1])
    return names


def uvicorn_class(name: str) -> Any:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    return {
        "HttpToolsProtocol": HttpToolsProtocol,
        "Server": uvicorn.Server,
        "Config": uvicorn.Config,
        "ServerState": ServerState,
    }.get(name)


# --- the tests --------------------------------------------------------------------------------


def test_the_installed_uvicorn_is_the_pinned_minor() -> None:
    """pyproject.toml pins uvicorn to one minor (the one the benchmarks ran on), and that minor
    is what is installed: a different uvicorn must be benchmarked and pinned first."""
    text = (ROOT / "pyproject.toml").read_text()
    pin = re.search(r'"uvicorn\[standard\]>=0\.(\d+)(?:\.\d+)?,<0\.(\d+)"', text)
    assert pin is not None, "uvicorn is not pinned as uvicorn[standard]>=0.N,<0.N+1"
    low, high = int(pin.group(1)), int(pin.group(2))
    assert high == low + 1, f"the pin spans more than one minor: 0.{low} to 0.{high}"
    major, minor = (int(p) for p in uvicorn.__version__.split(".")[:2])
    assert (major, minor) == (0, low), f"installed uvicorn {uvicorn.__version__}, pinned 0.{low}"


def test_every_uvicorn_name_the_server_uses_is_listed() -> None:
    """The uvicorn names found in the server's code are exactly the SEAM list, so no new use of
    uvicorn's internals slips in unreviewed and no listed one is stale."""
    files = seam_files()
    assert any("streaming" in str(p) or "streamconn" in str(p) for p in files), files
    found = uvicorn_names(files)
    assert sorted(found - SEAM) == [], "used by the code but not in SEAM"
    assert sorted(SEAM - found) == [], "in SEAM but no longer used by the code"


@pytest.fixture
def keepalive_protocol(live: LiveServer) -> Iterator[Any]:
    """Our protocol on a live kept-alive connection, after one request went through ASGI."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 ")
        protocols = [c for c in live.server.server_state.connections if hasattr(c, "cycle")]
        assert len(protocols) == 1, protocols
        yield protocols[0]


def test_every_listed_name_exists_on_the_installed_uvicorn(
    live: LiveServer, keepalive_protocol: Any
) -> None:
    """Each SEAM name resolves on the installed uvicorn: modules and their members, Config's
    parameters, and attributes on a live protocol, server and server state."""
    objects = {
        "HttpToolsProtocol": keepalive_protocol,
        "Server": uvicorn.Server(live.server.config),
        "Config": live.server.config,
        "ServerState": live.server.server_state,
    }
    missing = []
    for name in sorted(SEAM):
        if name.startswith("import "):
            module, _, member = name.removeprefix("import ").partition(":")
            ok = hasattr(importlib.import_module(module), member) if member else True
        elif name.startswith("uvicorn."):
            ok = hasattr(uvicorn, name.removeprefix("uvicorn."))
        elif name.endswith("=)"):
            cls, _, keyword = name[:-2].partition("(")
            ok = keyword in inspect.signature(uvicorn_class(cls)).parameters
        else:
            root, *attrs = name.split(".")
            target: Any = objects[root]
            ok = True
            for attr in attrs:
                if not hasattr(target, attr):
                    ok = False
                    break
                target = getattr(target, attr)
        if not ok:
            missing.append(name)
    assert missing == [], f"gone from uvicorn {uvicorn.__version__}"


@pytest.fixture(params=["subclass", "composition"])
def protocol_server(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path, blog_on_store: None
) -> Iterator[LiveServer]:
    server = LiveServer(db_url, tmp_path, http_protocol=request.param).start()
    yield server
    server.stop()


def test_a_fresh_stream_and_a_current_page_take_the_fast_path(
    protocol_server: LiveServer, team: Team
) -> None:
    """On a running server (either protocol) a fresh stream connection is handed to the lean
    writer and the blog's current page is answered from memory, both without ASGI."""
    live = protocol_server
    # A fresh connection per request: under the composition protocol a connection that has
    # had a request through ASGI stays with uvicorn's protocol (web/front.py).
    http = httpx.Client(base_url=live.url, timeout=10, headers={"Connection": "close"})
    pages = live.app.state.page_cache
    edge = live.app.state.edge
    http.get(f"/blogs/{SLUG}")  # rendered through ASGI, and kept in memory
    before = pages.served_from_memory
    page = http.get(f"/blogs/{SLUG}")
    assert page.status_code == 200
    assert pages.served_from_memory == before + 1
    streams = edge.lean_streams
    with (
        httpx.Client(base_url=live.url, timeout=10) as reader,
        reader.stream("GET", f"/api/blogs/{SLUG}/stream") as stream,
    ):
        assert stream.status_code == 200
        assert edge.lean_streams == streams + 1
        live.svc.create_entry(team.editor, SLUG, body="Polls are closed")
        (frame,) = take(stream, 1)
    http.close()
    assert "Polls are closed" in frame.data


def test_with_the_fast_path_off_nothing_takes_it(
    db_url: str, tmp_path: Path, team: Team, blog_on_store: None
) -> None:
    """The markers above can fail: with LIVEBLOG_FAST_STREAM=0 the same requests leave them
    untouched (everything goes through ASGI)."""
    server = LiveServer(db_url, tmp_path, fast_stream=False).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for _ in range(2):
                assert http.get(f"/blogs/{SLUG}").status_code == 200
            with http.stream("GET", f"/api/blogs/{SLUG}/stream") as stream:
                assert stream.status_code == 200
        assert server.app.state.page_cache.served_from_memory == 0
        assert server.app.state.edge.lean_streams == 0
    finally:
        server.stop()


@pytest.fixture
def blog_on_store(svc: Any, team: Team) -> None:
    svc.create_blog(team.editor, slug=SLUG, title="Election night")
