"""The embedder used from several threads at once, as the chat does while `--watch` re-indexes."""

from __future__ import annotations

import threading

from rag.embeddings import get_embedder

LONG = "The council approved the new ferry terminal after a long debate about costs. " * 40


def test_counting_tokens_while_embedding_in_another_thread() -> None:
    """Counting tokens (no truncation) must not change how a concurrent embedding truncates."""
    embedder = get_embedder()
    errors: list[str] = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            try:
                assert embedder.count_tokens([LONG, "short"])[0] > embedder.max_tokens
            except Exception as exc:  # every failure is a finding
                errors.append(f"count: {type(exc).__name__}: {exc}")

    counter = threading.Thread(target=count)
    counter.start()
    try:
        for _ in range(20):
            try:
                vectors = embedder.embed([LONG, "short question", LONG[:500]])
                assert vectors.shape == (3, embedder.dimension)
            except Exception as exc:
                errors.append(f"embed: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        stop.set()
        counter.join()
    assert errors == []
