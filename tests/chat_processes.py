"""`rag` commands in their own processes for tests: chat servers, clients asking them, ingests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from gradio_client import Client

from rag.config import Settings
from tests.conftest import REPO
from tests.servers import free_port, wait_for_http

TRAM_QUESTION = "Why did the Marrowby tram drivers go on strike?"
TRAM = """---
title: Marrowby tram drivers strike over new rota
published: 2026-06-02
---
Tram drivers in Marrowby walked out on Tuesday over a new rota that cuts their rest breaks.

The drivers' union said the rota would leave drivers with a single twelve-minute break in a nine-hour shift.
The tram operator, Marrowby Light Rail, said the rota was needed to run more trams at weekends.
"""
"""An article none of the tests' corpora holds, added while chat servers are open."""
ASKED = [
    "Why did Krause resign?",
    "Who is Melanie Krause?",
    "What penalties apply to improper disclosure?",
    TRAM_QUESTION,
]


def env_for(settings: Settings) -> dict[str, str]:
    """The environment that gives a `rag` process these settings (shared services included)."""
    return {
        **os.environ,
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_COLLECTION": settings.collection,
        "RAG_DATABASE_URL": settings.database_url or "",
        "RAG_CHROMA_URL": settings.chroma_url or "",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@contextmanager
def chat_server(settings: Settings, *extra: str) -> Iterator[str]:
    """`rag chat` in its own process on a free loopback port; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "chat", "--port", str(port), *extra],
        env=env_for(settings),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, proc, "rag chat")
        yield url
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


@contextmanager
def askers(url: str, count: int = 5, questions: Sequence[str] = ASKED) -> Iterator[dict[str, list]]:
    """`count` clients asking `questions` through /ask until the block ends; collects answers and errors."""
    outcome: dict[str, list] = {"answers": [], "errors": []}
    stop = threading.Event()

    def loop(n: int) -> None:
        client = Client(url, verbose=False)
        i = n
        while not stop.is_set():
            question = questions[i % len(questions)]
            i += 1
            try:
                outcome["answers"].append(client.predict(question, api_name="/ask"))
            except Exception as exc:  # every failure is a finding: counted and shown below
                outcome["errors"].append(f"{question}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    try:
        yield outcome
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)


def ask(url: str, question: str) -> dict:
    return Client(url, verbose=False).predict(question, api_name="/ask")


def cites(result: dict, source: str) -> bool:
    return any(c["source"] == source for c in result["citations"])


def rag_ingest(settings: Settings) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "rag", "ingest"],
        env=env_for(settings),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
