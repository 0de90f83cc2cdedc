"""The documentation site builds strictly: no broken link, missing page or unresolved reference."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, skip_or_fail

SCREENSHOTS = ("chat.png", "corpus-panel.png")


def test_mkdocs_build_strict_passes_and_renders_the_reference(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        skip_or_fail("the docs extra is not installed: pip install -e '.[docs]'")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    python = (site / "python" / "index.html").read_text(encoding="utf-8")
    assert "Answer a question from the indexed articles" in python  # answer()'s docstring, rendered
    assert "with_overrides" in python
    for name in SCREENSHOTS:
        assert (site / "images" / name).stat().st_size > 10_000


def test_screenshots_are_small_enough_to_commit() -> None:
    for name in SCREENSHOTS:
        assert (REPO / "docs" / "images" / name).stat().st_size < 400_000, name
