"""Re-indexing while the chat is open: a chat server process, `rag ingest` from another process (or
`--watch`), and five clients asking through `/ask` the whole time."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.config import Settings
from tests.chat_processes import TRAM, TRAM_QUESTION, ask, askers, chat_server, cites, rag_ingest
from tests.conftest import SEED_ARTICLE, new_settings

TRAM_V1 = TRAM
TRAM_V2 = TRAM_V1.replace("a single twelve-minute break", "a single eight-minute break")
OTHER_QUESTIONS = ["Why did Krause resign?", "Who is Melanie Krause?", "What penalties apply to improper disclosure?"]


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
