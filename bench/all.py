"""Run every benchmark in turn, then write bench/RESULTS.md. The 100k-chunk index is built once."""

from __future__ import annotations

import os
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
    # The fold rerankers that cross-validation needs (the shipped reranker is left as committed).
    ["bench.train_reranker", "--no-final"],
    ["bench.answer_quality"],
    ["bench.answerability_unseen"],
    ["bench.train_answerability"],
    ["bench.off_topic"],
    ["bench.lede_by_writer"],
    ["bench.feeds"],
    ["bench.corpus_panel"],
    ["bench.properties"],
    ["bench.scale_out"],
    ["bench.report"],
]

NEEDS_SERVICES = {"bench.scale_out"}
"""Steps that need the PostgreSQL and Chroma servers of `scripts/services.sh start`."""

if __name__ == "__main__":
    for step in STEPS:
        if step[0] in NEEDS_SERVICES and not os.environ.get("RAG_TEST_DATABASE_URL"):
            print(f'== skipping {step[0]}: start the services first: eval "$(scripts/services.sh start)"', flush=True)
            continue
        print(f"== python -m {' '.join(step)}", flush=True)
        subprocess.run([sys.executable, "-m", *step], check=True)
