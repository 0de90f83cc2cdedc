"""Re-indexing while the chat is open: a chat server process, `rag ingest` from another process (or
`--watch`), and five clients asking through `/ask` the whole time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.config import Settings
from tests.conftest import REPO, SEED_ARTICLE, new_settings
from tests.servers import free_port, wait_for_http

pytest.importorskip("gradio_client")

TRAM_QUESTION = "Why did the Marrowby tram drivers go on strike?"
TRAM_V1 = """---
title: Marrowby tram drivers strike over new rota
published: 2026-06-02
---
Tram drivers in Marrowby walked out on Tuesday over a new rota that cuts their rest breaks.

The drivers' union said the rota would leave drivers with a single twelve-minute break in a nine-hour shift.
The tram operator, Marrowby Light Rail, said the rota was needed to run more trams at weekends.
"""
TRAM_V2 = TRAM_V1.replace("a single twelve-minute break", "a single eight-minute break")
OTHER_QUESTIONS = ["Why did Krause resign?", "Who is Melanie Krause?", "What penalties apply to improper disclosure?"]


def env_for(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_COLLECTION": settings.collection,
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
def askers(url: str, count: int = 5) -> Iterator[dict[str, list]]:
    """`count` clients asking through /ask until the block ends; collects answers and errors."""
    from gradio_client import Client

    outcome: dict[str, list] = {"answers": [], "errors": []}
    stop = threading.Event()

    def loop(n: int) -> None:
        client = Client(url, verbose=False)
        i = n
        while not stop.is_set():
            question = (OTHER_QUESTIONS + [TRAM_QUESTION])[i % 4]
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
    from gradio_client import Client

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


def wait_until(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


@pytest.fixture
def corpus(tmp_path: Path, shared_dir: Path) -> Settings:
    settings = new_settings(tmp_path)
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    for path in sorted((shared_dir / "articles").glob("*.md")):
        shutil.copy(path, settings.corpus_dir)
    rag_ingest(settings)
    return settings


def test_ingest_from_another_terminal_while_the_chat_is_open(corpus: Settings) -> None:
    tram = corpus.corpus_dir / "tram.md"
    with chat_server(corpus) as url:
        assert not cites(ask(url, TRAM_QUESTION), "tram.md")
        with askers(url) as outcome:
            tram.write_text(TRAM_V1, encoding="utf-8")
            assert rag_ingest(corpus).startswith("1 added")
            # right after the ingest returns, the new article answers
            first = ask(url, TRAM_QUESTION)
            assert cites(first, "tram.md") and "twelve-minute" in first["answer"], first

            tram.write_text(TRAM_V2, encoding="utf-8")
            assert rag_ingest(corpus).startswith("0 added, 1 updated")
            changed = ask(url, TRAM_QUESTION)
            assert "eight-minute" in changed["answer"] and "twelve-minute" not in changed["answer"], changed

            tram.unlink()
            assert "1 removed" in rag_ingest(corpus)
            after = [ask(url, q) for q in [TRAM_QUESTION, *OTHER_QUESTIONS]]
        assert outcome["errors"] == []
        assert len(outcome["answers"]) >= 10
        assert not any(cites(a, "tram.md") for a in after)
        krause = ask(url, "Why did Krause resign?")
        assert not krause["refused"] and krause["citations"]


def test_watch_mode_indexes_additions_changes_and_deletions(corpus: Settings) -> None:
    tram = corpus.corpus_dir / "tram.md"
    with chat_server(corpus, "--watch") as url, askers(url) as outcome:
        tram.write_text(TRAM_V1, encoding="utf-8")
        wait_until(lambda: cites(ask(url, TRAM_QUESTION), "tram.md"))
        tram.write_text(TRAM_V2, encoding="utf-8")
        wait_until(lambda: "eight-minute" in ask(url, TRAM_QUESTION)["answer"])
        tram.unlink()
        wait_until(lambda: not cites(ask(url, TRAM_QUESTION), "tram.md"))
        assert not any(cites(ask(url, q), "tram.md") for q in OTHER_QUESTIONS)
    assert outcome["errors"] == []
    assert len(outcome["answers"]) >= 10
