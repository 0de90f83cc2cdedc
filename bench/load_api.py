"""Load: concurrent clients asking through the OpenAI-compatible /v1/chat/completions (extractive answerer).

Usage: python -m bench.load_api [--clients 20] [--questions 25] [--shared ../shared]

Each client is the official `openai` client in its own thread; the same run is made non-streamed
and streamed (an answer counts when its text holds a citation marker or is a refusal). The server
is `rag serve` in its own process, once per configuration: the PyTorch backend (the reference),
the ONNX backend, and the ONNX backend with two worker processes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from bench.common import DATA_DIR, REPO, answered_or_refused, counters, dev_corpus, run_load, served, write_result


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
        return None if done and answered_or_refused(text) else f"unexpected reply: {text[:80]!r}"

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
        with served(REPO, env, workers) as base_url:
            before = counters(base_url)
            plain = run(base_url, questions, clients, per_client, stream=False)
            streamed = run(base_url, questions, clients, per_client, stream=True)
            after = counters(base_url)
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
