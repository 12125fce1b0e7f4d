"""docs/architecture.md describes the code as it is: its module map names every module and
package of the source tree, and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
SRC = ROOT / "src" / "liveblog"
ENTRY = re.compile(r"^( *)([\w.-]+(?:\.py|/))(?:\s|$)")


def mapped(text: str) -> set[str]:
    """The paths the first code block of the document lists, relative to src/liveblog: a tree
    indented by two spaces a level, each line starting with a file (`x.py`) or a folder (`x/`);
    other lines (continued descriptions) are skipped."""
    block = text.split("```", 2)[1].splitlines()[1:]
    assert block[0] == "src/liveblog/", "the map starts at src/liveblog/"
    folders: list[str] = []
    found = set()
    for line in block[1:]:
        match = ENTRY.match(line)
        if match is None:
            continue
        level = len(match.group(1)) // 2 - 1
        if len(match.group(1)) % 2 or level > len(folders):
            continue  # deeper than any folder open here: a description's next line
        name = match.group(2)
        del folders[level:]
        path = "/".join([*folders, name.rstrip("/")])
        found.add(path)
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
    return found


def in_tree() -> set[str]:
    """Every module and package of the source, except migration scripts (the map names their
    folder)."""
    found = set()
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[:2] != ("storage", "migrations"):
            found.add(relative.as_posix())
        for parent in relative.parents:
            if parent != Path("."):
                found.add(parent.as_posix())
    return found


def test_the_module_map_names_exactly_the_modules_there_are() -> None:
    """Every module and package in src/liveblog is in docs/architecture.md's map, and every
    path the map names exists."""
    listed = mapped(DOC.read_text())
    missing = sorted(in_tree() - listed)
    ghosts = sorted(p for p in listed if not (SRC / p).exists())
    assert missing == [], f"in the code but not in docs/architecture.md's map: {missing}"
    assert ghosts == [], f"in docs/architecture.md's map but not in the code: {ghosts}"


def test_the_map_reader_sees_nesting_and_skips_descriptions() -> None:
    """The map is read as a tree: a file under a folder is that folder's, and a description's
    second line is not taken for a module."""
    text = (
        "```\nsrc/liveblog/\n  web/    edge\n    app.py    factory\n                  "
        "continued.py text\n    streaming/\n      session.py  one\n  cli.py  command\n```\n"
    )
    assert mapped(text) == {
        "web",
        "web/app.py",
        "web/streaming",
        "web/streaming/session.py",
        "cli.py",
    }
