"""Packing logic of the chunker with a fake token counter (one token per word)."""

from collections.abc import Sequence

from ingest.chunker import chunk_article
from rag.documents import Article


def words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) + 2 for t in texts]


def test_chunks_overlap_by_one_sentence_and_fit() -> None:
    body = " ".join(f"Sentence number {i} has six words." for i in range(10))
    article = Article("a.md", "T", body)
    chunks = chunk_article(article, words, max_tokens=22)  # 20 words of text per chunk
    assert len(chunks) > 1
    for chunk in chunks:
        assert body[chunk.start : chunk.end] == chunk.text
        assert words([chunk.text])[0] <= 22
    for before, after in zip(chunks, chunks[1:], strict=False):
        last_sentence = before.text.rsplit(". ", 1)[-1]
        assert after.text.startswith(last_sentence.rstrip("."))


def test_sentence_longer_than_budget_is_cut_at_words() -> None:
    body = " ".join(f"w{i}" for i in range(100))  # one 100-word sentence
    chunks = chunk_article(Article("a.md", "T", body), words, max_tokens=20)
    assert all(words([c.text])[0] <= 20 for c in chunks)
    covered = " ".join(c.text for c in chunks).split()
    assert set(covered) == set(body.split())


def test_chunk_ids_are_stable_and_change_with_content() -> None:
    a = chunk_article(Article("a.md", "T", "One. Two."), words, 50)
    b = chunk_article(Article("a.md", "T", "One. Two."), words, 50)
    c = chunk_article(Article("a.md", "T", "One. Three."), words, 50)
    assert [x.id for x in a] == [x.id for x in b]
    assert {x.id for x in a}.isdisjoint(x.id for x in c)
