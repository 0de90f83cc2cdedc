"""The vector count read from the embedded Chroma store's SQLite file agrees with Chroma's own, and an
unchanged re-ingest in a fresh process never starts Chroma."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from ingest.indexer import ingest
from rag.chroma_files import applied_count
from rag.config import Settings
from rag.store import CHROMA_DIR, Store, open_store
from tests.conftest import REPO

SEED = REPO / "corpus" / "000_a4b3e2646b848259.md"


def fresh_store(settings: Settings) -> Store:
    """A store object of its own (not the process-wide one), as another process would open it."""
    reference = open_store(settings)
    return Store(settings, embedder_name=reference.embedder_name, dimension=reference.dimension)


def test_file_count_follows_chromas_own(settings: Settings) -> None:
    (settings.corpus_dir / "seed.md").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    chroma_dir = settings.data_dir / CHROMA_DIR
    assert applied_count(chroma_dir, settings.collection) is None  # nothing there yet

    ingest(settings)
    store = open_store(settings)
    indexed = store.records.counts()[1]
    assert indexed > 0
    assert applied_count(chroma_dir, settings.collection) == store.collection.count() == indexed
    assert applied_count(chroma_dir, "another-collection") is None

    # A stray vector written behind the records' back is seen by the file count, and repaired.
    store.collection.add(ids=["stray"], embeddings=[np.ones(store.dimension, dtype=np.float32)], documents=["x"])
    assert applied_count(chroma_dir, settings.collection) == indexed + 1
    other = fresh_store(settings)
    assert other.vector_count() == indexed + 1
    assert not other.repair_drift().ok
    assert applied_count(chroma_dir, settings.collection) == indexed


def test_unchanged_reingest_never_imports_chromadb(settings: Settings) -> None:
    (settings.corpus_dir / "seed.md").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    ingest(settings)
    code = (
        "import sys; from ingest.indexer import ingest; from rag.config import Settings; "
        "report = ingest(Settings.from_env()); "
        "print(len(report.unchanged), report.chunks_embedded, 'chromadb' in sys.modules)"
    )
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_COLLECTION": settings.collection,
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "0", "False"]

    # A new article does need Chroma, and gets it.
    (settings.corpus_dir / "copy.md").write_text(SEED.read_text(encoding="utf-8") + "\nOne more line.", "utf-8")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    unchanged, embedded, imported = out.stdout.split()
    assert (unchanged, imported) == ("1", "True") and int(embedded) > 0
