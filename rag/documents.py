"""The records that flow from ingest into the store: articles and their chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PAGE_BREAK = "\f"
"""Separates the pages of a PDF in an article body: a citation's page is the count of breaks before it."""


@dataclass(frozen=True)
class Article:
    """One article: its verbatim body and what we know about it."""

    source: str
    """Path relative to the corpus dir, with forward slashes; the article's identity."""
    title: str
    body: str
    outlet: str | None = None
    url: str | None = None
    published: str | None = None
    encoding: str | None = None
    """The text encoding the file was decoded from, when it was not UTF-8."""

    @property
    def content_hash(self) -> str:
        """Hash of everything that affects the index; a change means re-chunking and re-embedding."""
        h = hashlib.sha256()
        for part in (self.title, self.outlet or "", self.url or "", self.published or "", self.body):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()

    def metadata(self) -> dict[str, str]:
        """The optional fields that are set."""
        fields = {"outlet": self.outlet, "url": self.url, "published": self.published}
        return {k: v for k, v in fields.items() if v}


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of an article body: `article.body[start:end] == text`."""

    id: str
    source: str
    index: int
    start: int
    end: int
    text: str


def chunk_id(source: str, content_hash: str, index: int) -> str:
    """Stable id of a chunk: same source and content give the same ids on every run."""
    return hashlib.sha256(f"{source}\0{content_hash}\0{index}".encode()).hexdigest()[:32]
