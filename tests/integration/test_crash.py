"""A `rag ingest` killed at several points leaves an index that the next run completes exactly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.synth import write_corpus
from ingest.indexer import ingest
from rag.config import Settings
from rag.store import open_store
from tests.conftest import REPO, new_settings

ARTICLES = 200
KILLS = 6


pytestmark = pytest.mark.both_backends


def committed_articles(settings: Settings) -> int:
    """Articles committed so far, read the way another process would, without creating anything."""
    if settings.database_url:
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as db:
            try:
                return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])  # type: ignore[index]
            except psycopg.errors.UndefinedTable:  # schema not created yet
                return 0
    path = settings.data_dir / "records.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def test_ingest_killed_repeatedly_ends_identical_to_a_clean_ingest(tmp_path: Path, database_url: str | None) -> None:
    """The killed ingest runs on the backend under test; the clean one on SQLite: both must end alike."""
    reference = new_settings(tmp_path / "clean", ingest_batch=24)
    write_corpus(reference.corpus_dir, ARTICLES, seed=3)
    ingest(reference)
    clean = open_store(reference)

    crashed = new_settings(
        tmp_path / "crashed", corpus_dir=reference.corpus_dir, ingest_batch=24, database_url=database_url
    )
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(crashed.corpus_dir),
        "RAG_DATA_DIR": str(crashed.data_dir),
        "RAG_COLLECTION": crashed.collection,
        "RAG_INGEST_BATCH": "24",
        "RAG_DATABASE_URL": database_url or "",
    }
    kill_points = []
    for n in range(KILLS):
        before = committed_articles(crashed)
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag", "ingest"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Wait for progress, then kill after a varying delay: mid-embedding, mid-write or between steps.
        deadline = time.monotonic() + 120
        while committed_articles(crashed) == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.15 * n)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kill_points.append(committed_articles(crashed))
    assert kill_points[-1] < ARTICLES, f"the ingest finished before the last kill: {kill_points}"
    assert len(set(kill_points)) >= 5, f"kills did not land at different points: {kill_points}"

    finish = subprocess.run(
        [sys.executable, "-m", "rag", "ingest"], env=env, cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert finish.returncode == 0, finish.stderr

    store = open_store(crashed)
    assert store.verify().ok
    vector_ids = store.collection.get(include=[])["ids"]
    assert len(vector_ids) == len(set(vector_ids))
    assert set(vector_ids) == clean.vector_ids()
    assert store.records.all_chunk_ids() == clean.records.all_chunk_ids()
    assert store.records.counts() == clean.records.counts() == (ARTICLES, len(vector_ids))
    assert store.records.keyword_index_drift() == 0
    assert [a.source for a in store.records.articles()] == [a.source for a in clean.records.articles()]
