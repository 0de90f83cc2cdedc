"""One warm answer at BBC scale, stage by stage, with the encoder floor beside it.

Usage: python -m bench.profile [--shared ../shared] [--questions 60] [--baseline REV] [--rounds 3]

Over the seed + the BBC archive (bench/data/archive), for bbc_dev's questions (the first five warm
up and are not timed):
- latency of `answer()` (extractive, warm, one client), and through `rag serve`'s
  /v1/chat/completions one request at a time (the API layer is the difference);
- with `--baseline REV`, the same `answer()` latency of commit REV's code (a git worktree under
  bench/data), measured in rounds that alternate with this code's, each in a fresh process, so a
  ratio holds on a noisy machine;
- a profile: each stage's own time (time inside its functions, less the stages they call) per
  answer, the encoder passes alone (ONNX Runtime's run: the floor of this work) and the rest.
Records `profile`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    DATA_DIR,
    REPO,
    archive_corpus,
    counters,
    latencies_ms,
    percentile,
    served,
    worktree,
    write_result,
)

LATENCY = """
import json, sys, time, statistics
from pathlib import Path
from rag.config import Settings
from rag.store import open_store
from rag.api import answer
settings = Settings(corpus_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[2]))
store = open_store(settings)
questions = json.loads(sys.argv[3])
for q in questions[:5]:
    answer(q, settings=settings, store=store)
times = []
for q in questions[5:]:
    started = time.perf_counter()
    answer(q, settings=settings, store=store)
    times.append((time.perf_counter() - started) * 1000)
print(json.dumps(times))
"""
"""answer() latency in a fresh process after five warm-up questions (not timed), importable from
any commit's tree (no bench code needed)."""


class StageClock:
    """Own time per stage: a wrapped function's time less that of the wrapped functions it calls.
    Each thread keeps its own stack; time in other threads (the keyword search runs beside the
    question's embedding) is kept apart from the answering thread's."""

    def __init__(self) -> None:
        self.own: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.beside: dict[str, float] = defaultdict(float)
        self.encoder = 0.0
        self.tokens = 0
        """Token positions the encoder passes read (padding included: they cost the same)."""
        self._local = threading.local()
        self._main = threading.get_ident()

    def wrap(self, stage: str, fn: Callable[..., Any], *, absorbed_by: str | None = None) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = self._stack()
            if absorbed_by and stack and stack[-1][0] == absorbed_by:
                return fn(*args, **kwargs)  # e.g. embed() called by embed_one(): the question's embedding
            stack.append([stage, 0.0])
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                _, nested = stack.pop()
                if threading.get_ident() != self._main:
                    if not stack:  # all of another thread's time runs beside the answering thread's
                        self.beside[stage] += elapsed
                else:
                    self.own[stage] += elapsed - nested
                    self.calls[stage] += 1
                if stack:
                    stack[-1][1] += elapsed

        return timed

    def wrap_encoder(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(session: Any, ids: Any, *args: Any, **kwargs: Any) -> Any:
            self.tokens += ids.size
            started = time.perf_counter()
            try:
                return fn(session, ids, *args, **kwargs)
            finally:
                self.encoder += time.perf_counter() - started

        return timed

    def _stack(self) -> list[list[Any]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack


def patch_stages(clock: StageClock, store: Any) -> None:
    """Wrap the functions of each stage of `answer()` where it looks them up."""
    import rag.answering.extractive as extractive
    import rag.api
    import rag.onnx_models
    import rag.retrieval as retrieval
    from rag.answering.reranker import Reranker
    from rag.answering.selection import SelectorModel
    from rag.embeddings import Embedder

    records, store_type = type(store.records), type(store)
    stages: list[tuple[str, Any, str, str | None]] = [
        ("question parsing", rag.api, "clean_question", None),
        ("question parsing", rag.api, "preference", None),
        ("question parsing", extractive, "read_question", None),
        ("question parsing", retrieval, "rare_names", None),
        ("keyword search", records, "keyword_search", None),
        ("dense search", store_type, "dense_search", None),
        ("word frequencies", records, "document_frequencies", None),
        ("record reads", records, "chunks_by_id", None),
        ("record reads", records, "chunk_ids_of", None),
        ("record reads", records, "body", None),
        ("record reads", store_type, "vectors_of", None),
        ("fusion and diversity", rag.api, "retrieve", None),
        ("whole articles", rag.api, "with_whole_articles", None),
        ("question embedding", Embedder, "embed_one", None),
        ("sentence embedding", Embedder, "embed", "question embedding"),
        ("reranking", Reranker, "score", None),
        ("sentence features", extractive, "candidate_sentences", None),
        ("sentence features", extractive, "sentence_features", None),
        ("selection", SelectorModel, "probabilities", None),
        ("selection", rag.api, "answers_question", None),
        ("selection", rag.api, "rerank_passages", None),
        ("quoting", rag.api, "extract_answer", None),
        ("citations", rag.api, "located", None),
        ("citations", rag.api, "_source_passage", None),
    ]
    for stage, owner, name, absorbed_by in stages:
        setattr(owner, name, clock.wrap(stage, getattr(owner, name), absorbed_by=absorbed_by))
    rag.onnx_models.run = clock.wrap_encoder(rag.onnx_models.run)


def profile(settings: Any, store: Any, questions: list[str]) -> dict[str, Any]:
    """Per-answer milliseconds of each stage over `questions[5:]` (the first five warm up), in this
    process. Wrapping stays in place: call it last."""
    from rag.api import answer

    clock = StageClock()
    patch_stages(clock, store)
    for q in questions[:5]:
        answer(q, settings=settings, store=store)
    clock.own.clear(), clock.calls.clear(), clock.beside.clear()
    clock.encoder, clock.tokens = 0.0, 0
    timed = questions[5:]
    started = time.perf_counter()
    for q in timed:
        answer(q, settings=settings, store=store)
    total = time.perf_counter() - started
    n = len(timed)
    stages = {name: round(seconds / n * 1000, 2) for name, seconds in sorted(clock.own.items(), key=lambda x: -x[1])}
    stages["other"] = round((total - sum(clock.own.values())) / n * 1000, 2)
    encoders = sum(clock.own[s] for s in ("question embedding", "sentence embedding", "reranking"))
    return {
        "answers": n,
        "answer_ms": round(total / n * 1000, 2),
        "stages_ms": stages,
        "beside_ms": {name: round(seconds / n * 1000, 2) for name, seconds in clock.beside.items()},
        "encoder_passes_ms": round(clock.encoder / n * 1000, 2),
        "encoder_tokens_per_answer": round(clock.tokens / n),
        "encoder_ms_per_token": round(clock.encoder * 1000 / max(clock.tokens, 1), 4),
        "encoder_stages_ms": round(encoders / n * 1000, 2),
        "above_encoder_passes_ms": round((total - clock.encoder) / n * 1000, 2),
    }


def api_latency(corpus: Path, data: Path, questions: list[str]) -> dict[str, float]:
    """One client (the official openai client, one connection) asking through `rag serve`'s
    /v1/chat/completions one request at a time, after five warm-up questions: its latency, and the
    API layer's share of it (the client's mean less the server's mean time in `answer()`, from
    /metrics, over the same requests)."""
    import openai

    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus), "RAG_DATA_DIR": str(data)}
    with served(REPO, env) as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)

        def ask(q: str) -> None:
            client.chat.completions.create(model="newsrag", messages=[{"role": "user", "content": q}])

        for q in questions[:5]:
            ask(q)
        before = counters(base_url)
        figures = latencies_ms(ask, questions[5:], warmup=0)
        after = counters(base_url)
    answers = after["newsrag_answer_seconds_count"] - before["newsrag_answer_seconds_count"]
    in_answer = (after["newsrag_answer_seconds_sum"] - before["newsrag_answer_seconds_sum"]) / answers * 1000
    layer = figures["mean_ms"] - in_answer
    return {**figures, "server_answer_mean_ms": round(in_answer, 2), "api_layer_ms": round(layer, 2)}


def fresh_process_latency(tree: Path, corpus: Path, data: Path, questions: list[str]) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "RAG_EMBED_BACKEND": "onnx"}
    out = subprocess.run(
        [sys.executable, "-c", LATENCY, str(corpus), str(data), json.dumps(questions)],
        env=env, cwd=tree, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def compared(baseline: str, corpus: Path, data: Path, questions: list[str], rounds: int) -> dict[str, Any]:
    """answer() p50/p95 of this tree and of `baseline`, in alternating fresh processes."""
    trees = {"current": REPO, baseline: worktree(baseline)}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            times[name] += fresh_process_latency(tree, corpus, data, questions)
    out: dict[str, Any] = {
        name: {"p50_ms": round(statistics.median(t), 1), "p95_ms": round(percentile(t, 0.95), 1), "n": len(t)}
        for name, t in times.items()
    }
    out["current"]["p50_over_baseline"] = round(out["current"]["p50_ms"] / out[baseline]["p50_ms"], 3)
    out["current"]["p95_over_baseline"] = round(out["current"]["p95_ms"] / out[baseline]["p95_ms"], 3)
    return out


def main(shared: Path, count: int, baseline: str | None, rounds: int) -> None:
    from bench.common import build_index

    root = DATA_DIR / "archive"
    corpus = archive_corpus(root, shared)
    settings, store = build_index(corpus, root / "data")
    lines = (shared / "eval" / "bbc_dev.jsonl").read_text().splitlines()
    questions = [json.loads(x)["question"] for x in lines if x][:count]
    result: dict[str, Any] = {"index": "seed + BBC archive", "questions": len(questions), "warm_up": 5}
    from rag.api import answer

    for q in questions[:5]:
        answer(q, settings=settings, store=store)
    result["answer"] = latencies_ms(lambda q: answer(q, settings=settings, store=store), questions[5:], warmup=0)
    result["api"] = api_latency(corpus, root / "data", questions)
    if baseline:
        result["compared"] = compared(baseline, corpus, root / "data", questions, rounds)
    result["profile"] = profile(settings, store, questions)
    write_result("profile", result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--baseline", help="a commit whose answer() latency is measured beside this code's")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.shared, args.questions, args.baseline, args.rounds)
