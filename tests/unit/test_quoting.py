"""Which sentences an extractive answer quotes beside the most probable ones: the sentence that
carries a quote on, and the one a pronoun refers back to (pure logic over a hand-made article)."""

from __future__ import annotations

import numpy as np

from rag.answering.extractive import Scored, extract_answer
from rag.answering.questions import read_question
from rag.answering.selection import Candidate
from rag.text import sentence_spans

BODY = (
    "The council met on Monday. "
    "It voted to close the Ostry bridge. "
    "Although engineers objected, the bridge shut on Friday. "
    "Traffic was diverted through the old town. "
    "Shops reported fewer customers. "
    "Buses ran every ten minutes."
)


class UnitEmbedder:
    """Every text gets the same vector: only the quoting logic is under test."""

    def embed_one(self, text: str) -> np.ndarray:
        return np.ones(len(sentence_spans(BODY)))


def quoted(order: list[int]) -> list[str]:
    """The sentences quoted when the article's sentences are ranked in `order` (most probable first)."""
    spans = sentence_spans(BODY)
    candidates = [Candidate("a", "Bridge", s, e, BODY[s:e], 0, 0.5, n) for n, (s, e) in enumerate(spans)]
    probabilities = np.zeros(len(spans))
    probabilities[order] = np.linspace(0.9, 0.5, len(order))
    vectors = np.eye(len(spans))  # no two alike: nothing is dropped as a duplicate
    scored = Scored(read_question("What happened to the bridge?"), candidates, vectors, vectors, probabilities)
    extract = extract_answer(scored, np.ones(len(spans)), UnitEmbedder(), lambda source: BODY)  # type: ignore[arg-type]
    return [c.quote for c in extract.citations]


def test_the_sentence_that_carries_a_quote_on_is_quoted_too() -> None:
    # the third most probable sentence is carried on by "Although ..."; it opens with a pronoun, so
    # the sentence it refers back to comes too; all read in article order
    assert quoted([3, 4, 1]) == [
        "The council met on Monday.",
        "It voted to close the Ostry bridge.",
        "Although engineers objected, the bridge shut on Friday.",
        "Traffic was diverted through the old town.",
        "Shops reported fewer customers.",
    ]


def test_a_sentence_that_starts_afresh_is_not_added() -> None:
    assert quoted([3, 4, 5]) == [
        "Traffic was diverted through the old town.",
        "Shops reported fewer customers.",
        "Buses ran every ten minutes.",
    ]
