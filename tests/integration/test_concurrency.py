"""Questions during an ingest, and a second ingest while one runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.synth import write_corpus
from ingest.indexer import ingest
from rag import answer
from rag.errors import IngestLockedError
from rag.locking import ingest_running
from rag.store import open_store
from tests.conftest import REPO, SEED_ARTICLE, new_settings


def test_questions_during_an_ingest_never_fail(tmp_path: Path) -> None:
    settings = new_settings(tmp_path, ingest_batch=16)
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    ingest(settings)
    write_corpus(settings.corpus_dir / "synth", 120, seed=5)
    errors: list[BaseException] = []
    done = threading.Event()

    def run_ingest() -> None:
        try:
            ingest(settings)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run_ingest)
    worker.start()
    records = open_store(settings).records
    answered = 0
    while not done.is_set() or answered < 3:
        result = answer("Why did Krause resign?", settings=settings)
        assert not result.refused
        for c in result.citations:
            article = records.article(c.source)
            assert article is not None and article.body[c.start : c.end] == c.quote
        answered += 1
    worker.join()
    assert errors == []
    assert answered > 3
    assert open_store(settings).verify().ok
    assert records.counts()[0] == 121


def test_second_ingest_from_another_process_stops_with_a_message(tmp_path: Path) -> None:
    settings = new_settings(tmp_path)
    write_corpus(settings.corpus_dir, 80, seed=9)
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_COLLECTION": settings.collection,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "ingest"], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # Wait for the lock itself: the records file is created when the store opens, just before the
        # lock is taken, so its existence alone left a race this test could lose.
        deadline = time.monotonic() + 60
        while not ingest_running(settings.data_dir):
            assert proc.poll() is None and time.monotonic() < deadline, "first ingest never took the lock"
            time.sleep(0.05)
        with pytest.raises(IngestLockedError, match="another ingest is running"):
            ingest(settings)
    finally:
        proc.wait(timeout=300)
    assert proc.returncode == 0
    assert open_store(settings).records.counts()[0] == 80
