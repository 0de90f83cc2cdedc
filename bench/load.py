"""Load: concurrent clients asking through the chat's /ask endpoint (extractive answerer).

Usage: python -m bench.load [--clients 20] [--questions 25] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import threading
import time
from pathlib import Path

from bench.common import DATA_DIR, dev_corpus, percentile, write_result

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
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client_loop(n: int) -> None:
        client = Client(url, verbose=False)
        for i in range(per_client):
            q = questions[(n + i) % len(questions)]
            started = time.perf_counter()
            try:
                data = client.predict(q, api_name="/ask")
                ok = bool(data["answer"])
            except Exception as exc:  # counted, not raised: the figure is the error count
                ok, msg = False, f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors.append(msg if "msg" in locals() else "empty answer")

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    page.close()
    write_result(
        "load",
        {
            "clients": clients,
            "questions_per_client": per_client,
            "requests": len(latencies),
            "errors": len(errors),
            "error_samples": errors[:5],
            "wall_s": round(wall, 2),
            "throughput_rps": round(len(latencies) / wall, 2),
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    main(args.clients, args.questions, args.shared)
