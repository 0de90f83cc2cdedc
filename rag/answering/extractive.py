"""The default answerer: quote the sentences of the top passages that best answer the question."""

from __future__ import annotations

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
_CONTINUATIONS = frozenset(
    [
        "although",
        "though",
        "but",
        "however",
        "yet",
        "still",
        "instead",
        "meanwhile",
        "this",
        "that",
        "these",
        "it",
        "he",
        "she",
        "they",
        "his",
        "her",
        "their",
    ]
)
"""First words that mark a sentence as carrying on the previous one ("Although a court blocked the move")."""
DENSE_WEIGHT = 0.75
DUPLICATE_SIMILARITY = 0.9


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    start: int
    end: int
    """Offsets into the article body."""

    @property
    def text(self) -> str:
        offset = self.passage.start
        return self.passage.text[self.start - offset : self.end - offset]


@dataclass(frozen=True)
class Extract:
    text: str
    citations: list[Citation]


def extract_answer(question: str, query_vector: np.ndarray, passages: list[Passage], embedder: Embedder) -> Extract:
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
        if any(float(vectors[i] @ vectors[j]) > DUPLICATE_SIMILARITY for j in chosen):
            continue
        chosen.append(int(i))
    follower = _continuation_of(chosen[0], sentences)
    if follower is not None and follower not in chosen and len(chosen) < MAX_SENTENCES:
        chosen.append(follower)
    # Read in article order: passage rank first, then position in the article.
    rank = {id(p): r for r, p in enumerate(passages)}
    chosen.sort(key=lambda i: (rank[id(sentences[i].passage)], sentences[i].start))
    parts, citations = [], []
    for number, i in enumerate(chosen, start=1):
        s = sentences[i]
        parts.append(f"{s.text} [{number}]")
        citations.append(Citation(number, s.passage.source, s.passage.title, s.text, s.start, s.end, float(dense[i])))
    return Extract(" ".join(parts), citations)


def _continuation_of(index: int, sentences: list[Sentence]) -> int | None:
    """The sentence right after `index` in the same passage, if it opens as a continuation of it."""
    current = sentences[index]
    for j, other in enumerate(sentences):
        if other.passage is current.passage and other.start > current.end:
            first_word = other.text.split(maxsplit=1)[0].strip(",;:").lower() if other.text.split() else ""
            return j if first_word in _CONTINUATIONS else None
    return None


def _candidate_sentences(passages: list[Passage]) -> list[Sentence]:
    seen: set[tuple[str, int, int]] = set()
    sentences = []
    for passage in passages:
        for start, end in sentence_spans(passage.text):
            key = (passage.source, passage.start + start, passage.start + end)
            if key not in seen:
                seen.add(key)
                sentences.append(Sentence(passage, key[1], key[2]))
    return sentences


def _keyword_overlap(question: str, sentence: str) -> float:
    """Fraction of the question's content words (stemmed) that appear in the sentence."""
    wanted = {stem(w) for w in keyword_terms(question)}
    if not wanted:
        return 0.0
    present = {stem(w) for w in keyword_terms(sentence)}
    return len(wanted & present) / len(wanted)
