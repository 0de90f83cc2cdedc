"""Run every benchmark in turn, then write bench/RESULTS.md. The 100k-chunk index is built once."""

from __future__ import annotations

import subprocess
import sys

STEPS = [
    ["bench.scale_index"],
    ["bench.ingest", "--articles", "1000"],
    ["bench.ingest", "--archive"],
    ["bench.quality"],
    ["bench.query", "latency"],
    ["bench.query", "rss", "--size", "100000"],
    ["bench.cold"],
    ["bench.load"],
    ["bench.load_api"],
    ["bench.answer_quality"],
    # Needs the PostgreSQL and Chroma servers: eval "$(scripts/services.sh start)" first.
    ["bench.scale_out"],
    ["bench.report"],
]

if __name__ == "__main__":
    for step in STEPS:
        print(f"== python -m {' '.join(step)}", flush=True)
        subprocess.run([sys.executable, "-m", *step], check=True)
