"""Load at archive scale: 20 clients x 10 questions over the seed + the BBC archive.

Usage: python -m bench.load_archive [--clients 20] [--questions 10] [--baseline REV] [--shared ../shared]

Every request asks a different question (bbc_train's, so no answer is computed twice): through
`rag serve`'s /v1/chat/completions (the official openai client, non-streamed) with one worker and
with two, through the same of commit REV's code (a git worktree under bench/data) when given, and
through the chat's /ask (gradio_client). An answer counts when it holds a citation marker or is a
refusal. Records `load-archive`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bench.common import (
    DATA_DIR,
    REPO,
    answered_or_refused,
    archive_corpus,
    build_index,
    counters,
    run_load,
    served,
    worktree,
    write_result,
)
from bench.load import free_port


def through_api(tree: Path, workers: int, env: dict[str, str], questions: list[str], clients: int, per: int) -> dict:
    import openai

    with served(tree, env, workers) as base_url:

        def ask(client: openai.OpenAI, n: int) -> str | None:
            reply = client.chat.completions.create(
                model="newsrag", messages=[{"role": "user", "content": questions[n]}]
            )
            text = reply.choices[0].message.content or ""
            return None if answered_or_refused(text) else f"unexpected reply: {text[:80]!r}"

        def make_client() -> openai.OpenAI:
            return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)

        figures = run_load(make_client, ask, clients, per, distinct=True)
        if workers == 1:  # with more, /metrics is one worker's
            figures["metrics"] = counters(base_url)
        return figures


def through_chat(corpus: Path, data: Path, questions: list[str], clients: int, per: int) -> dict[str, Any]:
    from gradio_client import Client

    from rag.config import Settings
    from ui.app import build_app, launch

    settings = Settings(corpus_dir=corpus, data_dir=data, ui_port=free_port())
    page = build_app(settings)
    launch(page, settings, block=False)
    url = f"http://127.0.0.1:{settings.ui_port}/"

    def ask(client: Client, n: int) -> str | None:
        data = client.predict(questions[n], api_name="/ask")
        return None if data["answer"] else "empty answer"

    try:
        return run_load(lambda: Client(url, verbose=False), ask, clients, per, distinct=True)
    finally:
        page.close()


def main(clients: int, per: int, baseline: str | None, shared: Path) -> None:
    root = DATA_DIR / "archive"
    corpus = archive_corpus(root, shared)
    build_index(corpus, root / "data")
    lines = (shared / "eval" / "bbc_train.jsonl").read_text().splitlines()
    questions = [json.loads(x)["question"] for x in lines if x][: clients * per]
    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus), "RAG_DATA_DIR": str(root / "data")}
    runs: dict[str, Any] = {}
    if baseline:
        runs[f"{baseline}-1w"] = through_api(worktree(baseline), 1, env, questions, clients, per)
    for workers in (1, 2):
        runs[f"current-{workers}w"] = through_api(REPO, workers, env, questions, clients, per)
    if baseline:
        for name in ("current-1w", "current-2w"):
            runs[name]["throughput_over_baseline"] = round(
                runs[name]["throughput_rps"] / runs[f"{baseline}-1w"]["throughput_rps"], 2
            )
    runs["chat-ask"] = through_chat(corpus, root / "data", questions, clients, per)
    write_result("load-archive", {"clients": clients, "questions_per_client": per, "runs": runs})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--baseline", help="a commit whose server is measured beside this code's")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    main(args.clients, args.questions, args.baseline, args.shared)
