"""What `answer()` returns: an answer with numbered, verbatim citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """A verbatim quote backing a claim: `quote == article_body[start:end]`."""

    number: int
    source: str
    title: str
    quote: str
    start: int
    end: int
    score: float
    page: int | None = None
    """The page of a PDF source; None for other articles."""
    also_in: tuple[str, ...] = ()
    """Other indexed articles that are near-duplicate copies of `source` (the quote is likely in them too)."""
    published: str | None = None
    """The source's published day (YYYY-MM-DD), when it has one."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "number": self.number,
            "source": self.source,
            "title": self.title,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "published": self.published,
        }
        if self.page is not None:  # only PDF sources have pages
            data["page"] = self.page
        if self.also_in:
            data["also_in"] = list(self.also_in)
        return data


@dataclass(frozen=True)
class SourcePassage:
    """A retrieved passage, for display beside the answer."""

    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    outlet: str | None = None
    published: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "title": self.title,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "published": self.published,
        }


@dataclass(frozen=True)
class Answer:
    """The answer text, where `[n]` refers to `citations[n-1]`."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    passages: list[SourcePassage] = field(default_factory=list)
    backend: str = "extractive"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape printed by `rag ask --json` and returned by the chat's `/ask` endpoint."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "backend": self.backend,
            "notes": list(self.notes),
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
        }
