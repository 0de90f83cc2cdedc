"""The sentence-vector cache: bounded, most recently used kept, and vectors equal to fresh ones."""

from __future__ import annotations

import numpy as np

from rag.embeddings import Embedder, VectorCache


def test_the_cache_keeps_the_most_recently_used_vectors_within_its_size() -> None:
    cache = VectorCache(2)
    cache.put_many([("a", np.zeros(2)), ("b", np.ones(2))])
    assert set(cache.get_many(["a"])) == {"a"}  # "a" is now the most recently used
    cache.put_many([("c", np.full(2, 2.0))])
    assert len(cache) == 2
    assert set(cache.get_many(["a", "b", "c"])) == {"a", "c"}


class CountingEmbedder(Embedder):
    """The real cache in front of a stand-in encoder that records what it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.asked.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_sentences_embedded_once_are_not_embedded_again() -> None:
    embedder = CountingEmbedder()
    first = embedder.embed_sentences(["One.", "Two two.", "One."])
    second = embedder.embed_sentences(["Two two.", "Three three three."])
    assert embedder.asked == [["One.", "Two two."], ["Three three three."]]
    assert first.tolist() == [[4, 1], [8, 1], [4, 1]]
    assert second.tolist() == [[8, 1], [18, 1]]
    assert embedder.embed_sentences([]).shape == (0, Embedder.dimension)
