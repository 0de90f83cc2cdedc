"""Scale out: the PostgreSQL record backend beside SQLite, and two chat servers beside one.

Usage: eval "$(scripts/services.sh start)"; python -m bench.scale_out [--clients 20] [--questions 25]

1. The BBC archive index (the one bench.answer_quality builds) has its records copied into a
   PostgreSQL schema by `rag copy-index`'s code: the same articles, chunks, ids and copy groups,
   so the two backends differ in nothing else. Retrieval (`rag.search`) p50/p95 and the `rag eval`
   figures of the BBC dev set are measured on each, over the same embedded Chroma store.
2. Its vectors are copied (the same way) into a collection of the Chroma server. Two `rag chat`
   processes over that collection and PostgreSQL take `clients` x `questions` questions through
   /ask, the clients split between them; then one chat server alone takes the same load.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import DATA_DIR, REPO, archive_corpus, latencies_ms, run_load, write_result

SCHEMA = "bench_archive"
COLLECTION = "bench-archive"


def schema_url(database_url: str) -> str:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    return f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{SCHEMA}"


def backend_figures(settings: Any, store: Any, questions: list[str], items: list[Any]) -> dict[str, Any]:
    from rag.api import answer, search
    from rag.evaluation import evaluate

    overall = evaluate(items, lambda q: answer(q, settings=settings, store=store), store.records).overall()
    return {
        "records": store.records.location.split(" at ")[0],
        "retrieval": latencies_ms(lambda q: search(q, settings=settings), questions),
        "answer": latencies_ms(lambda q: answer(q, settings=settings, store=store), questions),
        "eval_bbc_dev": overall,
    }


def chat_process(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rag", "chat", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the chat server at {url} did not start")


def load(urls: list[str], questions: list[str], clients: int, per_client: int) -> dict[str, Any]:
    from gradio_client import Client

    turn = itertools.cycle(urls)
    lock = threading.Lock()

    def make_client() -> Client:
        with lock:
            url = next(turn)
        return Client(url, verbose=False)

    def ask(client: Client, n: int) -> str | None:
        data = client.predict(questions[n % len(questions)], api_name="/ask")
        return None if data["answer"] else "empty answer"

    return run_load(make_client, ask, clients, per_client)


def main(shared: Path, clients: int, per_client: int) -> None:
    from ingest.copy import copy_index
    from rag.config import Settings
    from rag.evaluation import load_eval_set
    from rag.store import open_store

    database_url = os.environ.get("RAG_TEST_DATABASE_URL") or os.environ.get("RAG_DATABASE_URL")
    chroma_url = os.environ.get("RAG_TEST_CHROMA_URL") or os.environ.get("RAG_CHROMA_URL")
    if not database_url or not chroma_url:
        raise SystemExit('start the services first: eval "$(scripts/services.sh start)"')
    corpus = archive_corpus(DATA_DIR / "archive", shared)
    sqlite_settings = Settings(corpus_dir=corpus, data_dir=DATA_DIR / "archive" / "data")
    sqlite_store = open_store(sqlite_settings)
    if sqlite_store.is_empty():
        raise SystemExit("index the archive first: python -m bench.answer_quality")
    pg_settings = sqlite_settings.with_overrides(database_url=schema_url(database_url))
    started = time.perf_counter()
    copy_index(sqlite_settings, pg_settings, replace=True)  # records only: the vectors stay where they are
    copied_s = time.perf_counter() - started
    pg_store = open_store(pg_settings)
    assert pg_store.records.counts() == sqlite_store.records.counts()

    items = load_eval_set(shared / "eval" / "bbc_dev.jsonl")
    questions = [i.question for i in items]
    backends = {
        "sqlite": backend_figures(sqlite_settings, sqlite_store, questions, items),
        "postgres": backend_figures(pg_settings, pg_store, questions, items),
    }
    quality_keys = [k for k in backends["sqlite"]["eval_bbc_dev"] if not k.startswith("latency")]
    same_quality = all(
        backends["sqlite"]["eval_bbc_dev"][k] == backends["postgres"]["eval_bbc_dev"][k] for k in quality_keys
    )

    served = pg_settings.with_overrides(chroma_url=chroma_url, collection=COLLECTION)
    copy_index(sqlite_settings, served, replace=True)
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(DATA_DIR / "scale-out-empty-corpus"),
        "RAG_DATABASE_URL": served.database_url or "",
        "RAG_CHROMA_URL": chroma_url,
        "RAG_COLLECTION": COLLECTION,
        "HF_HUB_OFFLINE": "1",
    }
    runs: dict[str, Any] = {}
    for servers in (2, 1):
        ports = [7960 + n for n in range(servers)]
        procs = [
            chat_process(port, {**env, "RAG_DATA_DIR": str(DATA_DIR / f"scale-out-chat{n}")})
            for n, port in enumerate(ports)
        ]
        try:
            urls = [f"http://127.0.0.1:{port}/" for port in ports]
            for url, proc in zip(urls, procs, strict=True):
                wait_up(url, proc)
            runs[f"{servers}_servers"] = load(urls, questions, clients, per_client)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=60)
    write_result(
        "scale_out",
        {
            "index": {"articles_chunks": list(sqlite_store.records.counts()), "records_copy_s": round(copied_s, 1)},
            "backends": backends,
            "postgres_vs_sqlite_retrieval_p50": round(
                backends["postgres"]["retrieval"]["p50_ms"] / backends["sqlite"]["retrieval"]["p50_ms"], 2
            ),
            "postgres_vs_sqlite_answer_p50": round(
                backends["postgres"]["answer"]["p50_ms"] / backends["sqlite"]["answer"]["p50_ms"], 2
            ),
            "same_eval_figures": same_quality,
            "load": {"clients": clients, "questions_per_client": per_client, **runs},
            "two_vs_one_server_throughput": round(
                runs["2_servers"]["throughput_rps"] / runs["1_servers"]["throughput_rps"], 2
            ),
            "cpus": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    main(args.shared, args.clients, args.questions)
