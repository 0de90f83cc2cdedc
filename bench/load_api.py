"""Load: concurrent clients asking through the OpenAI-compatible /v1/chat/completions (extractive answerer).

Usage: python -m bench.load_api [--clients 20] [--questions 25] [--shared ../shared]

Each client is the official `openai` client in its own thread; the same run is made non-streamed
and streamed (an answer counts when its text holds a citation marker or is a refusal).
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
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


def main(clients: int, per_client: int, shared: Path) -> None:
    import uvicorn

    from ingest.indexer import ingest
    from rag.config import Settings
    from rag.embeddings import get_embedder
    from rag.openai_api import build_api

    corpus = dev_corpus("load-corpus", shared)
    port = free_port()
    settings = Settings(corpus_dir=corpus, data_dir=DATA_DIR / "load-api-data", collection="bench", api_port=port)
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    ingest(settings)
    get_embedder().model  # noqa: B018 - loaded before timing, as `rag serve` users would warm it
    questions = [json.loads(x)["question"] for x in (shared / "eval" / "dev_set.jsonl").read_text().splitlines() if x]
    server = uvicorn.Server(uvicorn.Config(build_api(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        before = _counters(base_url)
        plain = run(base_url, questions, clients, per_client, stream=False)
        streamed = run(base_url, questions, clients, per_client, stream=True)
        after = _counters(base_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    write_result(
        "load-api",
        {
            "clients": clients,
            "questions_per_client": per_client,
            "non_streamed": plain,
            "streamed": streamed,
            "metrics_before": before,
            "metrics_after": after,
        },
    )


def _counters(base_url: str) -> dict[str, float]:
    """The /metrics counters the load moves (Prometheus text, summed over labels)."""
    import re

    import httpx

    text = httpx.get(base_url.removesuffix("/v1") + "/metrics").text
    names = (
        "newsrag_questions_total",
        "newsrag_refusals_total",
        "newsrag_answer_seconds_count",
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
