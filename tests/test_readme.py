"""The README stays a newcomer's page: the few settings a first run needs, each one a row of
docs/deploying.md's settings reference, which it links to for everything else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_names_only_real_settings_and_links_to_the_reference() -> None:
    """Every LIVEBLOG_* variable the README names is in the settings reference, and the
    README links to that reference."""
    readme = (ROOT / "README.md").read_text()
    guide = (ROOT / "docs" / "deploying.md").read_text()
    assert "(docs/deploying.md#settings-reference)" in readme
    assert "\n## Settings reference\n" in guide
    named = set(re.findall(r"LIVEBLOG_[A-Z0-9_]+", readme))
    assert {"LIVEBLOG_DATA_DIR", "LIVEBLOG_DATABASE_URL"} <= named
    documented = set(re.findall(r"^\| `(LIVEBLOG_[A-Z0-9_]+)`", guide, re.M))
    assert sorted(named - documented) == []
