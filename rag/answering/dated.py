"""Answers across dated articles: the newest figure first when the latest is asked for, date order
for a chronology, and each quote from an older article marked with its day."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import numpy as np

from rag.answering.extractive import Scored
from rag.models import Citation

_CHRONOLOGY = re.compile(
    r"\b(timeline|chronology|how did .+ (unfold|develop|evolve|progress)|sequence of events|what happened .+ since)\b"
)
UPDATE_SIMILARITY = 0.8
"""A sentence of a newer article at least this similar (cosine) to the best sentence restates the
same fact, perhaps with a new value: an update of it ("now expected to reach 3.5 million")."""


def is_chronology(question: str) -> bool:
    """The question asks how something unfolded over time."""
    return bool(_CHRONOLOGY.search(question.lower()))


def lead_with_newest(scored: Scored, days: dict[str, date]) -> Scored:
    """The scores with the newest update of the best sentence raised to the top: asked for the
    latest, an answer leads with what the newest article says, not with the best-worded older one."""
    p = scored.probabilities
    if not len(p):
        return scored
    best = int(np.argmax(p))
    if scored.candidates[best].source not in days:
        return scored
    similar = scored.vectors @ scored.vectors[best]
    updates = [
        i
        for i, c in enumerate(scored.candidates)
        if c.source in days and (i == best or similar[i] >= UPDATE_SIMILARITY)
    ]
    lead = max(updates, key=lambda i: (days[scored.candidates[i].source], p[i]))
    if lead == best:
        return scored
    raised = np.array(p, copy=True)
    raised[lead] = p[best] + 1e-6
    return replace(scored, probabilities=raised)


def in_date_order(
    citations: list[Citation], days: dict[str, date], *, newest_first: bool
) -> tuple[str, list[Citation]] | None:
    """The answer text and citations reordered by their articles' days, renumbered, with every quote
    but the newest (or, oldest first, every quote) opened by "On <day>:". None when the quotes do not
    come from articles of at least two different days: then the order chosen by relevance stays."""
    dated = {days[c.source] for c in citations if c.source in days}
    if len(dated) < 2:
        return None
    if newest_first:  # undated quotes last; within one article, in reading order
        ordered = sorted(citations, key=lambda c: (days.get(c.source, date.min), -c.start), reverse=True)
    else:
        ordered = sorted(citations, key=lambda c: (days.get(c.source, date.max), c.start))
    newest = max(dated)
    parts, renumbered = [], []
    for number, c in enumerate(ordered, start=1):
        day = days.get(c.source)
        label = f"On {_spoken(day)}: " if day and (not newest_first or day != newest) else ""
        parts.append(f"{label}{c.quote} [{number}]")
        renumbered.append(replace(c, number=number))
    return " ".join(parts), renumbered


def _spoken(day: date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"
