"""Decide from retrieval alone whether the indexed articles cover a question."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.retrieval import Passage
from rag.text import STOPWORDS

CONFIDENT_SCORE = 0.5
"""A passage this similar to the question covers it whatever names the question uses."""
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*\w|\b[A-Z]{2,}\b")


def question_names(question: str) -> set[str]:
    """Capitalised words past the first word: the names a question is about ("Harlow", "FIFA")."""
    words = _CAPITALISED.finditer(question)
    names = set()
    for match in words:
        if match.start() == _first_word_start(question):
            continue
        name = re.sub(r"[’']s$", "", match.group())
        if name.lower() not in STOPWORDS:
            names.add(name.lower())
    return names


def _first_word_start(text: str) -> int:
    match = re.search(r"\w", text)
    return match.start() if match else -1


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
