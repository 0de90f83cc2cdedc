"""Helpers shared by the benchmarks: timing, memory, result files."""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
RESULTS_DIR = BENCH_DIR / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latencies_ms(fn: Callable[[Any], Any], inputs: list[Any], warmup: int = 5) -> dict[str, float]:
    """Call fn on each input after a warm-up; return p50/p95/mean in milliseconds."""
    for x in inputs[:warmup]:
        fn(x)
    times = []
    for x in inputs:
        started = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "mean_ms": round(statistics.fmean(times), 2),
        "n": len(times),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def read_result(name: str) -> dict[str, Any]:
    """The latest recorded result of a benchmark ({} before its first run)."""
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {
        "benchmark": name,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **data,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(data, indent=2))
    return path


def dev_corpus(name: str, shared: Path) -> Path:
    """A fresh corpus dir with the seed article and the distractor articles from `shared/`."""
    corpus = DATA_DIR / name
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    shutil.copy(REPO / "corpus" / "000_a4b3e2646b848259.md", corpus)
    for p in (shared / "articles").glob("*.md"):
        shutil.copy(p, corpus)
    return corpus


def archive_corpus(dest: Path, shared: Path) -> Path:
    """A corpus dir with the seed article and the BBC archive under `bbc/` (the eval set's source paths)."""
    corpus = dest / "corpus"
    if not (corpus / "bbc").is_dir():
        shutil.rmtree(corpus, ignore_errors=True)
        corpus.mkdir(parents=True)
        shutil.copy(REPO / "corpus" / "000_a4b3e2646b848259.md", corpus)
        shutil.copytree(shared / "bbc", corpus / "bbc", ignore=shutil.ignore_patterns("*.TXT"))
    return corpus


def worktree(rev: str) -> Path:
    """A checkout of commit `rev` (named by its hash, outside the repository so no tool of this tree
    reads it), made once, to measure its code beside this one's."""
    import subprocess
    import tempfile

    sha = subprocess.run(["git", "rev-parse", rev], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"newsrag-tree-{sha[:12]}"
    if not path.is_dir():
        subprocess.run(["git", "worktree", "prune"], cwd=REPO, check=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=REPO, check=True)
    return path


REFUSALS = ("do not cover", "do not answer", "No indexed article")
"""Phrases of newsrag's refusals (`rag.api`)."""


def answered_or_refused(text: str) -> bool:
    """A reply of the extractive answerer: it cites ("[1]") or it is a refusal."""
    return "[1]" in text or any(r in text for r in REFUSALS)


@contextmanager
def served(tree: Path, env: dict[str, str], workers: int = 1) -> Iterator[str]:
    """`rag serve` of the code in `tree` on a free port until the block ends; yields its /v1 URL once
    every worker is ready."""
    import subprocess
    import sys

    from bench.load import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port), "--workers", str(workers)],
        env={**env, "PYTHONPATH": str(tree)}, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(base_url, workers)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=60)


def wait_ready(base_url: str, workers: int) -> None:
    """Until /readyz says ready as often in a row as there are workers (each loads its own models)."""
    import httpx

    deadline, ready = time.monotonic() + 300, 0
    while ready < 4 * workers:
        if time.monotonic() > deadline:
            raise RuntimeError("rag serve did not become ready")
        try:
            ok = httpx.get(base_url.removesuffix("/v1") + "/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            ok = False
        ready = ready + 1 if ok else 0
        time.sleep(0.2)


def counters(base_url: str) -> dict[str, float]:
    """The /metrics counters the load moves (Prometheus text, summed over labels), of the one
    process that answered this request: with several workers, figures of one of them."""
    import re

    import httpx

    text = httpx.get(base_url.removesuffix("/v1") + "/metrics").text
    names = (
        "newsrag_questions_total",
        "newsrag_refusals_total",
        "newsrag_answer_seconds_count",
        "newsrag_answer_seconds_sum",
        "newsrag_errors_total",
    )
    return {
        name: sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)) for name in names
    }


def run_load(
    make_client: Callable[[], Any],
    ask: Callable[[Any, int], str | None],
    clients: int,
    per_client: int,
    distinct: bool = False,
) -> dict[str, Any]:
    """`clients` threads, each with its own client, each asking `per_client` times; `ask(client, n)`
    returns an error message or None, and raising counts as an error (the figure is the error count).
    Client c asks questions c, c+1, ... (so most questions are asked by several clients), or, with
    `distinct`, questions c * per_client, ... (every question once)."""
    import threading

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client_loop(client_number: int) -> None:
        client = make_client()
        first = client_number * per_client if distinct else client_number
        for i in range(per_client):
            started = time.perf_counter()
            try:
                error = ask(client, first + i)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if error:
                    errors.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 2),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
    }


def build_index(corpus: Path, data_dir: Path):
    """Settings and store of `corpus` indexed into `data_dir` (kept between runs: only checked)."""
    from ingest.indexer import ingest
    from rag.config import Settings
    from rag.store import open_store

    settings = Settings(corpus_dir=corpus, data_dir=data_dir)
    store = open_store(settings)
    ingest(settings, store=store)  # incremental: a kept index is only checked
    return settings, store


def archive_index(shared: Path):
    """Settings and store of the BBC archive indexed under bench/data."""
    root = DATA_DIR / "archive"
    return build_index(archive_corpus(root, shared), root / "data")


def cached_examples(eval_file: Path, settings: Any, store: Any) -> list[Any]:
    """The eval set's questions retrieved and featurised (`collect_examples`), cached under bench/data
    until the eval file or any code of `rag/` or `ingest/` changes (any of it may change them)."""
    import hashlib
    import pickle

    from rag.answering.training import collect_examples
    from rag.embeddings import get_embedder
    from rag.evaluation import load_eval_set

    key = hashlib.sha256(eval_file.read_bytes())
    for source in sorted([*(REPO / "rag").rglob("*.py"), *(REPO / "ingest").rglob("*.py")]):
        key.update(source.read_bytes())
    path = DATA_DIR / f"examples-{eval_file.stem}-{key.hexdigest()[:12]}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    examples = collect_examples(load_eval_set(eval_file), settings, store, get_embedder())
    path.write_bytes(pickle.dumps(examples))
    return examples
