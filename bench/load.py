"""Load: concurrent clients asking through the chat's /ask endpoint (extractive answerer).

Usage: python -m bench.load [--clients 20] [--questions 25] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
from pathlib import Path

from bench.common import DATA_DIR, dev_corpus, run_load, write_result

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(clients: int, per_client: int, shared: Path) -> None:
    from gradio_client import Client

    from ingest.indexer import ingest
    from rag.config import Settings
    from ui.app import build_app, launch

    corpus = dev_corpus("load-corpus", shared)
    settings = Settings(corpus_dir=corpus, data_dir=DATA_DIR / "load-data", collection="bench", ui_port=free_port())
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    ingest(settings)
    questions = [json.loads(x)["question"] for x in (shared / "eval" / "dev_set.jsonl").read_text().splitlines() if x]
    page = build_app(settings)
    launch(page, settings, block=False)
    url = f"http://127.0.0.1:{settings.ui_port}/"

    def ask(client: Client, n: int) -> str | None:
        data = client.predict(questions[n % len(questions)], api_name="/ask")
        return None if data["answer"] else "empty answer"

    try:
        figures = run_load(lambda: Client(url, verbose=False), ask, clients, per_client)
    finally:
        page.close()
    write_result("load", {"clients": clients, "questions_per_client": per_client, **figures})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    main(args.clients, args.questions, args.shared)
