"""A `rag ingest` killed at several points leaves an index that the next run completes exactly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.synth import write_corpus
from ingest.indexer import ingest
from rag.store import open_store
from tests.conftest import REPO, new_settings

ARTICLES = 200
KILLS = 6


def committed_articles(data_dir: Path) -> int:
    path = data_dir / "records.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def test_ingest_killed_repeatedly_ends_identical_to_a_clean_ingest(tmp_path: Path) -> None:
    reference = new_settings(tmp_path / "clean", ingest_batch=24)
    write_corpus(reference.corpus_dir, ARTICLES, seed=3)
    ingest(reference)
    clean = open_store(reference)

    crashed = new_settings(tmp_path / "crashed", corpus_dir=reference.corpus_dir, ingest_batch=24)
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(crashed.corpus_dir),
        "RAG_DATA_DIR": str(crashed.data_dir),
        "RAG_COLLECTION": crashed.collection,
        "RAG_INGEST_BATCH": "24",
    }
    kill_points = []
    for n in range(KILLS):
        before = committed_articles(crashed.data_dir)
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag", "ingest"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Wait for progress, then kill after a varying delay: mid-embedding, mid-write or between steps.
        deadline = time.monotonic() + 120
        while committed_articles(crashed.data_dir) == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.15 * n)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kill_points.append(committed_articles(crashed.data_dir))
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
