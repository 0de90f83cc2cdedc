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
    "Buses ran every ten minutes. "
    "Repairs will take a year. "
    "The mayor declined to comment."
)


class UnitEmbedder:
    """Every text gets the same vector: only the quoting logic is under test."""

    def __init__(self, size: int = len(sentence_spans(BODY))) -> None:
        self.size = size

    def embed_one(self, text: str) -> np.ndarray:
        return np.ones(self.size)


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
    assert quoted([3, 4, 1, 6]) == [
        "The council met on Monday.",
        "It voted to close the Ostry bridge.",
        "Although engineers objected, the bridge shut on Friday.",
        "Traffic was diverted through the old town.",
        "Shops reported fewer customers.",
        "Repairs will take a year.",
    ]


def test_a_sentence_that_starts_afresh_is_not_added() -> None:
    assert quoted([3, 4, 5, 7]) == [
        "Traffic was diverted through the old town.",
        "Shops reported fewer customers.",
        "Buses ran every ten minutes.",
        "The mayor declined to comment.",
    ]


OTHER = "Harbour officials closed the Penn crossing. Ferries were cancelled."


BODIES = {"a": BODY, "b": OTHER}
SPANS = [("a", s, e) for s, e in sentence_spans(BODY)] + [("b", s, e) for s, e in sentence_spans(OTHER)]


def sources_quoted(question: str, probabilities: np.ndarray) -> list[str]:
    """The articles of the sentences quoted from both stories, in the order quoted."""
    candidates = [
        Candidate(src, "Bridge" if src == "a" else "Harbour", s, e, BODIES[src][s:e], 0, 0.5, n)
        for n, (src, s, e) in enumerate(SPANS)
    ]
    vectors = np.eye(len(SPANS))
    scored = Scored(read_question(question), candidates, vectors, vectors, probabilities)
    extract = extract_answer(scored, np.ones(len(SPANS)), UnitEmbedder(len(SPANS)), BODIES.get)  # type: ignore[arg-type]
    return [c.source for c in extract.citations]


def test_an_article_that_names_none_of_the_question_is_not_quoted() -> None:
    # the question names Ostry; the other story's sentences rank high but are not about it
    ranked_last_first = np.linspace(0.1, 0.9, len(SPANS))  # the other story's two sentences rank first
    assert set(sources_quoted("Why did the Ostry bridge close?", ranked_last_first)) == {"a"}
    # a question that names nothing may be answered from any article
    assert set(sources_quoted("Why did the crossing close?", ranked_last_first)) == {"a", "b"}


def test_a_fourth_quote_comes_from_an_article_already_quoted() -> None:
    probabilities = np.zeros(len(SPANS))
    probabilities[[0, 3, 5]] = [0.9, 0.8, 0.7]  # the three best: the bridge story
    probabilities[8] = 0.6  # fourth best: the harbour story, which the answer is not about
    probabilities[7] = 0.5
    quoted = sources_quoted("Why did the crossing close?", probabilities)
    assert len(quoted) >= 4 and set(quoted) == {"a"}, quoted


def test_who_a_name_is_is_answered_by_the_sentences_naming_it_introduction_first() -> None:
    body = (
        "The council met on Monday. "
        "Mayor Anna Ostry opposed the closure. "
        "Engineers said the bridge was unsafe. "
        "Ostry later called for a second survey."
    )
    spans = sentence_spans(body)
    candidates = [Candidate("a", "Bridge", s, e, body[s:e], 0, 0.5, n) for n, (s, e) in enumerate(spans)]
    probabilities = np.array([0.9, 0.2, 0.8, 0.6])  # the sentences naming her rank below the others
    vectors = np.eye(len(spans))
    scored = Scored(read_question("Who is Anna Ostry?"), candidates, vectors, vectors, probabilities)
    extract = extract_answer(scored, np.ones(len(spans)), UnitEmbedder(len(spans)), lambda source: body)  # type: ignore[arg-type]
    assert [c.quote for c in extract.citations] == [
        "Mayor Anna Ostry opposed the closure.",
        "Ostry later called for a second survey.",
    ]
