"""The layering in DESIGN.md holds: inner layers never import outer ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "liveblog"

# What each layer may import from liveblog (besides itself).
ALLOWED = {
    "domain": set(),
    "render": {"domain"},
    "storage": {"domain"},
    "broadcast": {"domain", "metrics", "render"},
    "metrics": set(),
}


def imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "liveblog" and len(parts) > 1:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_inner_layers(layer: str) -> None:
    """Domain and metrics import nothing of ours; storage and render import only domain; the
    hub only domain, render (it encodes frames) and metrics."""
    module = SRC / f"{layer}.py"
    paths = [module] if module.exists() else list((SRC / layer).rglob("*.py"))
    assert paths, f"no layer {layer!r}"
    for path in paths:
        outer = imported_layers(path) - ALLOWED[layer] - {layer}
        assert not outer, f"{path.relative_to(SRC)} imports {sorted(outer)}"


def test_domain_knows_no_http_or_sql() -> None:
    """The domain package imports neither web frameworks nor database libraries."""
    banned = {"fastapi", "starlette", "sqlalchemy", "psycopg", "uvicorn", "httpx"}
    for path in (SRC / "domain").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                for mod in filter(None, mods):
                    assert mod.split(".")[0] not in banned, f"{path.name} imports {mod}"
