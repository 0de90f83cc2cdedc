"""The property tests' long run: every property tried on many more generated inputs than in CI.

Usage: python -m bench.properties   (runs pytest on tests/unit/test_properties.py with
RAG_HYPOTHESIS_PROFILE=long and records, per property, the inputs tried and the failures found)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from bench.common import REPO, write_result

_STATS = re.compile(r"test_properties\.py::(\w+):\s*\n\s*- (\d+) passing, (\d+) failing, and (\d+) invalid")


def main() -> None:
    started = time.perf_counter()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/unit/test_properties.py",
            "--hypothesis-show-statistics",
        ],
        cwd=REPO,
        env=os.environ | {"RAG_HYPOTHESIS_PROFILE": "long"},
        capture_output=True,
        text=True,
        check=False,
    )
    properties = {
        name: {"inputs_tried": int(passing) + int(failing), "failing": int(failing), "invalid": int(invalid)}
        for name, passing, failing, invalid in _STATS.findall(run.stdout)
    }
    write_result(
        "properties",
        {
            "profile": "long (3000 examples per property)",
            "passed": run.returncode == 0,
            "seconds": round(time.perf_counter() - started, 1),
            "properties": properties,
            "found_and_fixed": [
                "check_citations kept the [n] markers of an answer it could not check (no sentence or no "
                "evidence), so a marker pointing at no citation reached the text; markers are now dropped there",
            ],
        },
    )
    sys.exit(run.returncode)


if __name__ == "__main__":
    main()
