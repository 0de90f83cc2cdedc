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

_HEADER = re.compile(r"^tests/unit/test_properties\.py::(\w+):\s*$", re.MULTILINE)
_COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid")


def statistics(output: str) -> dict[str, dict[str, int]]:
    """Per property, the inputs tried (passing and failing, over every phase) and the invalid ones."""
    found = {}
    headers = list(_HEADER.finditer(output))
    for n, header in enumerate(headers):
        block = output[header.end() : headers[n + 1].start() if n + 1 < len(headers) else len(output)]
        counts = [tuple(map(int, m)) for m in _COUNTS.findall(block)]
        found[header.group(1)] = {
            "inputs_tried": sum(p + f for p, f, _ in counts),
            "failing": sum(f for _, f, _ in counts),
            "invalid": sum(i for _, _, i in counts),
        }
    return found


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
    properties = statistics(run.stdout)
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
