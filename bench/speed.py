"""Both embedder backends against the peer pipeline, in one run: ingest, answer latency, cold start, parity.

Usage: python -m bench.speed [--shared ../shared] [--runs 5] [--only synthetic,archive,parity,latency,cold]

For each backend (RAG_EMBED_BACKEND=onnx, then torch) and for the peer (the LangChain tutorial
pipeline on PyTorch), a fresh process indexes the same files: 200 synthetic articles, then the BBC
archive. Then, on each backend's own archive index: an unchanged re-ingest (a fresh process), warm
`answer()` latency over the dev questions (in this process), cold `rag ask` (fresh processes,
interleaved), and the mean cosine between the two backends' vectors of the same chunks.
Records `speed`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import DATA_DIR, REPO, archive_corpus, latencies_ms, read_result, write_result
from bench.synth import write_corpus

BACKENDS = ("onnx", "torch")
PEER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from bench.peer import build_peer, peer_embeddings\n"
    "from ingest.loader import iter_article_files\n"
    "build_peer(list(iter_article_files(Path(sys.argv[1]))), Path(sys.argv[2]), peer_embeddings())\n"
)
QUESTION = "Why did Krause resign?"


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - started


def env_for(backend: str, corpus: Path, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RAG_EMBED_BACKEND": backend,
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
    }


def ingest_round(name: str, corpus: Path) -> dict[str, Any]:
    """Whole-process first ingest per backend and the peer, and an unchanged re-ingest per backend."""
    out: dict[str, Any] = {}
    rag = [sys.executable, "-m", "rag", "ingest"]
    for backend in BACKENDS:
        data = DATA_DIR / f"speed-{name}-{backend}"
        shutil.rmtree(data, ignore_errors=True)
        env = env_for(backend, corpus, data)
        first = timed(rag, env)
        again = timed(rag, env)
        out[backend] = {
            "ingest_s": round(first, 2),
            "reingest_s": round(again, 2),
            "reingest_ratio": round(again / first, 4),
        }
    peer_dir = DATA_DIR / f"speed-{name}-peer"
    shutil.rmtree(peer_dir, ignore_errors=True)
    peer = timed([sys.executable, "-c", PEER, str(corpus), str(peer_dir)], {**os.environ, "HF_HUB_OFFLINE": "1"})
    out["peer_s"] = round(peer, 2)
    for backend in BACKENDS:
        out[backend]["ratio_over_peer"] = round(out[backend]["ingest_s"] / peer, 3)
    return out


def answer_latency(corpus: Path, shared: Path) -> dict[str, Any]:
    """Warm answer() per backend, each on the index it built, each in a process of its own (so one
    backend's idle threads never share the cores with the other's answers)."""
    import json

    out: dict[str, Any] = {}
    for backend in BACKENDS:
        call = f"latency_here({backend!r}, {str(corpus)!r}, {str(shared)!r})"
        code = f"import json; from bench.speed import latency_here; print(json.dumps({call}))"
        proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO)
        out[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["p50_ratio_onnx_over_torch"] = round(out["onnx"]["p50_ms"] / out["torch"]["p50_ms"], 3)
    return out


def latency_here(backend: str, corpus: str, shared: str) -> dict[str, float]:
    """Warm answer() latency over the BBC dev questions in this process, on `backend`'s archive index."""
    from rag.answering.reranker import Reranker
    from rag.api import answer
    from rag.config import Settings
    from rag.embeddings import Embedder
    from rag.evaluation import load_eval_set
    from rag.store import open_store

    settings = Settings.from_env(env_for(backend, Path(corpus), DATA_DIR / f"speed-archive-{backend}"))
    store, embedder, reranker = open_store(settings), Embedder(backend), Reranker(backend=backend)
    questions = [i.question for i in load_eval_set(Path(shared) / "eval" / "bbc_dev.jsonl")]
    return latencies_ms(
        lambda q: answer(q, settings=settings, store=store, embedder=embedder, reranker=reranker), questions
    )


def cold_start(corpus: Path, runs: int) -> dict[str, Any]:
    """Fresh `rag ask` processes on each backend's archive index, interleaved so drift hits both."""
    ask = [sys.executable, "-m", "rag", "ask", QUESTION]
    envs = {b: env_for(b, corpus, DATA_DIR / f"speed-archive-{b}") for b in BACKENDS}
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for b in BACKENDS:
        timed(ask, envs[b])  # page cache warm for both
    for _ in range(runs):
        for b in BACKENDS:
            times[b].append(timed(ask, envs[b]))
    out: dict[str, Any] = {
        b: {"runs_s": [round(t, 2) for t in ts], "median_s": round(statistics.median(ts), 2)} for b, ts in times.items()
    }
    out["ratio_onnx_over_torch"] = round(out["onnx"]["median_s"] / out["torch"]["median_s"], 3)
    return out


def parity(corpus: Path) -> dict[str, Any]:
    """Cosine between the two backends' stored vectors of the same archive chunks."""
    from rag.config import Settings
    from rag.store import open_store

    stores = {b: open_store(Settings.from_env(env_for(b, corpus, DATA_DIR / f"speed-archive-{b}"))) for b in BACKENDS}
    ids = sorted(stores["onnx"].records.all_chunk_ids() & stores["torch"].records.all_chunk_ids())
    cosines = []
    for at in range(0, len(ids), 500):
        part = ids[at : at + 500]
        a, b = stores["onnx"].vectors_of(part), stores["torch"].vectors_of(part)
        cosines += [float(np.dot(a[i], b[i])) for i in part]
    return {
        "chunks": len(ids),
        "mean_cosine": round(statistics.fmean(cosines), 4),
        "min_cosine": round(min(cosines), 4),
    }


PARTS = ("synthetic", "archive", "parity", "latency", "cold")


def main(shared: Path, runs: int, parts: list[str]) -> None:
    """Run `parts` (all by default); a partial run keeps the other figures of the last one (the
    later parts need the archive indexes that the `archive` part built)."""
    previous = read_result("speed") if set(parts) != set(PARTS) else {}
    result = {k: v for k, v in previous.items() if k not in ("benchmark", "machine", "recorded")}
    corpus = archive_corpus(DATA_DIR / "archive", shared)
    if "synthetic" in parts:
        synthetic = DATA_DIR / "ingest-corpus-200"
        if not synthetic.exists():
            write_corpus(synthetic, 200, seed=7)
        result["ingest_200_synthetic"] = ingest_round("synthetic", synthetic)
    if "archive" in parts:
        result["ingest_archive"] = ingest_round("archive", corpus)
    if "parity" in parts:
        result["parity_archive"] = parity(corpus)
    if "latency" in parts:
        result["answer_latency_bbc_dev"] = answer_latency(corpus, shared)
    if "cold" in parts:
        result["cold_rag_ask"] = cold_start(corpus, runs)
    write_result("speed", result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="where the BBC archive is")
    parser.add_argument("--runs", type=int, default=5, help="cold starts per backend")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of: {', '.join(PARTS)}")
    args = parser.parse_args()
    main(args.shared, args.runs, [p for p in args.only.split(",") if p])
