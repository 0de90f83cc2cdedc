"""Decide from retrieval alone whether the indexed articles cover a question."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rag.answering.questions import names_in, question_names
from rag.retrieval import Passage

CONFIDENT_SCORE = 0.5
"""A passage this similar to the question covers it whatever names the question uses."""


def is_covered(question: str, passages: Sequence[Passage], min_score: float) -> bool:
    """True when the best passage is similar enough and, unless it is very similar, shares a name;
    or, however dissimilar, when one passage holds every name of the question.

    Similarity alone lets a question about an unknown place ("the Harlow ferry") ride on a merely
    related article; a name of the question found in no passage is the tell. A short question
    scores low whatever it asks ("Who is Jimmy Gomez?", 0.2 against the passage naming him): a
    passage that names all it names is about it, and whether it answers is the answerability
    model's call.
    """
    if not passages:
        return False
    names = question_names(question)
    best = max(p.score for p in passages)
    if best < min_score:
        return names_all_in_one(names, passages)
    if best >= CONFIDENT_SCORE or not names:
        return True
    return any(names_in(_text(p), names) for p in passages)


def names_all_in_one(names: Collection[str], passages: Sequence[Passage]) -> bool:
    """Whether one passage holds every name (False without names)."""
    return bool(names) and any(names_in(_text(p), names) == set(names) for p in passages)


def _text(passage: Passage) -> str:
    return f"{passage.title} {passage.text}"
