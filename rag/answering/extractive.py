"""The default answerer: quote the sentences of the top passages that best answer the question."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.embeddings import Embedder
from rag.models import Citation
from rag.retrieval import Passage
from rag.text import keyword_terms, sentence_spans, stem

PASSAGES_READ = 3
"""Only the best passages are read: beyond them, sentences are rarely the answer."""
MAX_SENTENCES = 3
KEEP_RATIO = 0.7
"""A further sentence is kept only if it scores at least this fraction of the best one."""
DENSE_WEIGHT = 0.75
DUPLICATE_SIMILARITY = 0.9
_CONTINUATIONS = frozenset(
    "although though but however yet still instead meanwhile this that these it he she they his her their".split()
)
"""First words that mark a sentence as carrying on the one before ("Although a court blocked the move")."""
_LOOKAHEAD_CHARS = 1500

BodyLookup = Callable[[str], str | None]
"""Returns an article's body by source, to read past the end of a passage."""


@dataclass(frozen=True)
class Sentence:
    source: str
    title: str
    start: int
    end: int
    """Offsets into the article body."""
    text: str
    rank: int
    """Rank of the passage it came from; the follower of the best sentence inherits it."""


@dataclass(frozen=True)
class Extract:
    text: str
    citations: list[Citation]


def extract_answer(
    question: str, query_vector: np.ndarray, passages: list[Passage], embedder: Embedder, body_of: BodyLookup
) -> Extract:
    """Pick 1-3 sentences that answer the question; return them with `[n]` markers and citations."""
    sentences = _candidate_sentences(passages[:PASSAGES_READ])
    if not sentences:
        return Extract("", [])
    vectors = embedder.embed([s.text for s in sentences])
    dense = vectors @ query_vector
    overlap = np.array([_keyword_overlap(question, s.text) for s in sentences])
    scores = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * overlap
    chosen: list[int] = []
    for i in np.argsort(-scores):
        if len(chosen) == MAX_SENTENCES or scores[i] < KEEP_RATIO * scores[chosen[0] if chosen else i]:
            break
        if not any(float(vectors[i] @ vectors[j]) > DUPLICATE_SIMILARITY for j in chosen):
            chosen.append(int(i))
    picked = [(sentences[i], float(dense[i])) for i in chosen]
    follower = _continuation(sentences[chosen[0]], body_of)
    if follower is not None and len(picked) < MAX_SENTENCES and all(s.start != follower.start for s, _ in picked):
        picked.append((follower, float(embedder.embed_one(follower.text) @ query_vector)))
    # Read in order: passage rank first, then position in the article.
    picked.sort(key=lambda item: (item[0].rank, item[0].start))
    parts, citations = [], []
    for number, (s, score) in enumerate(picked, start=1):
        parts.append(f"{s.text} [{number}]")
        citations.append(Citation(number, s.source, s.title, s.text, s.start, s.end, score))
    return Extract(" ".join(parts), citations)


def _candidate_sentences(passages: list[Passage]) -> list[Sentence]:
    seen: set[tuple[str, int]] = set()
    sentences = []
    for rank, p in enumerate(passages):
        for start, end in sentence_spans(p.text):
            if (p.source, p.start + start) not in seen:
                seen.add((p.source, p.start + start))
                sentences.append(Sentence(p.source, p.title, p.start + start, p.start + end, p.text[start:end], rank))
    return sentences


def _continuation(best: Sentence, body_of: BodyLookup) -> Sentence | None:
    """The sentence right after `best` in its article, if it opens as a continuation of it."""
    body = body_of(best.source)
    if body is None:
        return None
    spans = sentence_spans(body, best.end, min(len(body), best.end + _LOOKAHEAD_CHARS))
    if not spans:
        return None
    start, end = spans[0]
    first_word = body[start:end].split(maxsplit=1)[0].strip(",;:").lower()
    if first_word not in _CONTINUATIONS:
        return None
    return Sentence(best.source, best.title, start, end, body[start:end], best.rank)


def _keyword_overlap(question: str, sentence: str) -> float:
    """Fraction of the question's content words (stemmed) that appear in the sentence."""
    wanted = {stem(w) for w in keyword_terms(question)}
    if not wanted:
        return 0.0
    present = {stem(w) for w in keyword_terms(sentence)}
    return len(wanted & present) / len(wanted)
