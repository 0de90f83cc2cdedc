"""Decide from retrieval alone whether the indexed articles cover a question."""

from __future__ import annotations

from collections.abc import Sequence

from rag.answering.questions import question_names
from rag.retrieval import Passage

CONFIDENT_SCORE = 0.5
"""A passage this similar to the question covers it whatever names the question uses."""


def is_covered(question: str, passages: Sequence[Passage], min_score: float) -> bool:
    """True when the best passage is similar enough and, unless it is very similar, shares a name.

    Similarity alone lets a question about an unknown place ("the Harlow ferry") ride on a merely
    related article; a name of the question found in no passage is the tell.
    """
    if not passages:
        return False
    best = max(p.score for p in passages)
    if best < min_score:
        return False
    if best >= CONFIDENT_SCORE:
        return True
    names = question_names(question)
    if not names:
        return True
    text = " ".join(f"{p.title} {p.text}" for p in passages).lower()
    return any(name in text for name in names)
