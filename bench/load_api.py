"""Load: concurrent clients asking through the OpenAI-compatible /v1/chat/completions (extractive answerer).

Usage: python -m bench.load_api [--clients 20] [--questions 25] [--shared ../shared]

Each client is the official `openai` client in its own thread; the same run is made non-streamed
and streamed (an answer counts when its text holds a citation marker or is a refusal). The server
is `rag serve` in its own process, once per configuration: the PyTorch backend (the reference),
the ONNX backend, and the ONNX backend with two worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import DATA_DIR, REPO, dev_corpus, run_load, write_result
from bench.load import free_port


def run(base_url: str, questions: list[str], clients: int, per_client: int, stream: bool) -> dict[str, Any]:
    import openai

    def ask(client: openai.OpenAI, n: int) -> str | None:
        messages: Any = [{"role": "user", "content": questions[n % len(questions)]}]
        if stream:
            chunks = list(client.chat.completions.create(model="newsrag", messages=messages, stream=True))
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            done = chunks[-1].choices[0].finish_reason == "stop"
        else:
            reply = client.chat.completions.create(model="newsrag", messages=messages)
            text, done = reply.choices[0].message.content or "", reply.choices[0].finish_reason == "stop"
        return None if done and ("[1]" in text or "do not cover" in text) else f"unexpected reply: {text[:80]!r}"

    def make_client() -> openai.OpenAI:
        return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)

    return run_load(make_client, ask, clients, per_client)


CONFIGS = (("torch", 1), ("onnx", 1), ("onnx", 2))
"""(backend, worker processes) of the `rag serve` runs; the first is the PyTorch reference."""


def main(clients: int, per_client: int, shared: Path, configs: tuple[tuple[str, int], ...] = CONFIGS) -> None:
    from ingest.indexer import ingest
    from rag.config import Settings

    corpus = dev_corpus("load-corpus", shared)
    questions = [json.loads(x)["question"] for x in (shared / "eval" / "dev_set.jsonl").read_text().splitlines() if x]
    runs: dict[str, Any] = {}
    for backend, workers in configs:
        data = DATA_DIR / f"load-api-{backend}-{workers}w"  # a data dir per run: stores are cached per dir
        shutil.rmtree(data, ignore_errors=True)
        env = {**os.environ, "RAG_EMBED_BACKEND": backend, "RAG_CORPUS_DIR": str(corpus), "RAG_DATA_DIR": str(data)}
        ingest(Settings.from_env(env))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "rag", "serve", "--port", str(port), "--workers", str(workers)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}/v1"
        try:
            _wait_ready(base_url, workers)
            before = _counters(base_url)
            plain = run(base_url, questions, clients, per_client, stream=False)
            streamed = run(base_url, questions, clients, per_client, stream=True)
            after = _counters(base_url)
        finally:
            server.terminate()
            server.wait(timeout=60)
        runs[f"{backend}-{workers}w"] = {
            "non_streamed": plain, "streamed": streamed, "metrics_before": before, "metrics_after": after,
        }  # fmt: skip
    reference = runs[f"{configs[0][0]}-{configs[0][1]}w"]
    for run_ in runs.values():
        run_["throughput_over_reference"] = {
            kind: round(run_[kind]["throughput_rps"] / reference[kind]["throughput_rps"], 2)
            for kind in ("non_streamed", "streamed")
        }
    write_result(
        "load-api",
        {"clients": clients, "questions_per_client": per_client, "reference": list(runs)[0], "runs": runs},
    )


def _wait_ready(base_url: str, workers: int) -> None:
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


def _counters(base_url: str) -> dict[str, float]:
    """The /metrics counters the load moves (Prometheus text, summed over labels)."""
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    main(args.clients, args.questions, args.shared)
