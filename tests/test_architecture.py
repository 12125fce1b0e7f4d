"""The layering in DESIGN.md holds: every module belongs to a layer, and inner layers never
import outer ones — by absolute or relative import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "liveblog"

# Every module of the package, by dotted name under `liveblog`, belongs to the first layer whose
# prefix it starts with.
LAYERS: list[tuple[str, str]] = [
    ("domain", "domain"),
    ("metrics", "metrics"),
    ("credentials", "credentials"),
    ("render", "render"),
    ("media", "media"),
    ("storage", "storage"),
    ("broadcast", "broadcast"),
    ("usecases", "core"),
    ("service", "core"),
    ("outbound", "outbound"),
    ("settings", "config"),
    ("logs", "config"),
    ("web", "edge"),
    ("cli", "edge"),
    ("demo", "edge"),
    ("export", "edge"),
    ("__main__", "edge"),
    ("__init__", "edge"),
]

# What each layer may import from liveblog (besides itself).
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "metrics": set(),
    "credentials": set(),
    "config": set(),
    "render": {"domain"},
    "media": {"domain"},
    "storage": {"domain"},
    "broadcast": {"domain", "metrics", "render"},
    # The use cases compose the inner layers and know nothing of HTTP, the CLI or settings.
    "core": {"domain", "metrics", "credentials", "render", "media", "storage", "broadcast"},
    # What leaves the site: the relay reads the store and the use cases' checks, sends HTTP.
    "outbound": {"domain", "metrics", "render", "storage", "core"},
    "edge": {
        "outbound",
        "domain",
        "metrics",
        "credentials",
        "render",
        "media",
        "storage",
        "broadcast",
        "core",
        "config",
    },
}

BANNED_IN_CORE = {"fastapi", "starlette", "uvicorn", "httpx", "httptools", "sqlalchemy", "psycopg"}
"""Libraries of the web and the database: the domain and the use cases import none of them."""


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> str | None:
    for prefix, layer in LAYERS:
        if name == prefix or name.startswith(prefix + "."):
            return layer
    return None


def imports_of(path: Path, root: Path) -> list[str]:
    """Every module `path` imports, as a dotted name; relative imports resolved against the
    module's own package, and `from liveblog import x` counted as importing `liveblog.x`."""
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                module = ".".join(["liveblog", *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "liveblog":  # `from liveblog import cli` imports liveblog.cli
                found += [f"{module}.{alias.name}" for alias in node.names]
            else:
                found.append(module)
    return found


def violations(root: Path) -> list[str]:
    """What breaks the layering under `root` (a `liveblog` package directory), one line each."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        layer = layer_of(name)
        if layer is None:
            problems.append(f"{name}: belongs to no layer (add it to LAYERS)")
            continue
        for imported in imports_of(path, root):
            parts = imported.split(".")
            if parts[0] == "liveblog" and len(parts) > 1:
                other = layer_of(".".join(parts[1:]))
                if other is not None and other != layer and other not in ALLOWED[layer]:
                    problems.append(f"{name} ({layer}) imports {imported} ({other})")
            elif layer in ("domain", "core", "media") and parts[0] in BANNED_IN_CORE:
                problems.append(f"{name} ({layer}) imports {imported}")
    return problems


def test_every_module_is_in_a_layer_and_imports_only_inner_layers() -> None:
    """No module of the package imports a layer outside its own, however it spells the import,
    and no module is left outside the map."""
    assert violations(SRC) == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("usecases/entries.py", "from ..web import app\n", "liveblog.web"),
        ("usecases/entries.py", "from liveblog.web.errors import status_of\n", "liveblog.web"),
        ("service.py", "from liveblog import cli\n", "liveblog.cli"),
        ("storage/sql.py", "from . import memlog\nfrom ..service import x\n", "liveblog.service"),
        ("domain/models.py", "import sqlalchemy\n", "sqlalchemy"),
        ("usecases/blogs.py", "from starlette.requests import Request\n", "starlette"),
        ("render/sse.py", "from ..broadcast.memory import InProcessHub\n", "broadcast"),
        ("newthing.py", "x = 1\n", "belongs to no layer"),
    ],
)
def test_the_check_catches_a_forbidden_import(
    tmp_path: Path, module: str, source: str, expected: str
) -> None:
    """A forbidden import — absolute, relative, `from liveblog import x`, or a web or database
    library in the core — or an unmapped module makes the check fail, naming it."""
    path = tmp_path / "liveblog" / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    found = violations(tmp_path / "liveblog")
    assert len(found) == 1 and expected in found[0], found


def test_allowed_imports_pass_the_check(tmp_path: Path) -> None:
    """The check is not simply failing everything: imports inward, relative or absolute, pass."""
    files = {
        "usecases/entries.py": "from ..storage.base import Tx\nfrom liveblog.domain import x\n",
        "web/api.py": "from liveblog.service import Liveblog\nfrom . import errors\n",
        "storage/sql.py": "from .base import Tx\nimport sqlalchemy\n",
    }
    for module, source in files.items():
        path = tmp_path / "liveblog" / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    assert violations(tmp_path / "liveblog") == []
