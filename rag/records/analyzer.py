"""The keyword index's analyzer: which terms a text holds, the same for both backends.

SQLite's FTS5 with `porter unicode61 remove_diacritics 2` splits on anything not a letter or digit,
folds case and accents, and stems with Porter's algorithm. The PostgreSQL backend indexes the terms
this very tokenizer produces (run on an in-memory SQLite database, no file involved), rather than
PostgreSQL's own English parser, so that both backends hold the same terms, count the same
lengths, and rank a query the same.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass

FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"


@dataclass(frozen=True)
class Analyzed:
    """A chunk's terms: where each stands (1-based, title first) and how many title/body tokens it has."""

    title_positions: dict[str, list[int]]
    text_positions: dict[str, list[int]]
    length: int
    """Tokens in title and text together (BM25's document length)."""


class Analyzer:
    """FTS5's tokenizer on a private in-memory database per thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.execute(f"CREATE VIRTUAL TABLE doc USING fts5(title, text, tokenize = '{FTS5_TOKENIZER}')")
            db.execute("CREATE VIRTUAL TABLE doc_terms USING fts5vocab(doc, 'instance')")
            self._local.db = db
        return db

    def analyze(self, rows: Sequence[tuple[str, str]]) -> list[Analyzed]:
        """Analyze (title, text) pairs."""
        db = self._db()
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO doc(rowid, title, text) VALUES (?, ?, ?)", ((i, *r) for i, r in enumerate(rows))
            )
            instances = db.execute("SELECT doc, col, offset, term FROM doc_terms").fetchall()
        finally:
            db.execute("ROLLBACK")  # nothing is kept: the table is only a tokenizer
        title_len = [0] * len(rows)
        for doc, col, offset, _ in instances:
            if col == "title":
                title_len[doc] = max(title_len[doc], offset + 1)
        out = [Analyzed({}, {}, 0) for _ in rows]
        lengths = [0] * len(rows)
        for doc, col, offset, term in instances:
            lengths[doc] += 1
            if col == "title":
                out[doc].title_positions.setdefault(term, []).append(offset + 1)
            else:
                out[doc].text_positions.setdefault(term, []).append(title_len[doc] + offset + 1)
        return [Analyzed(a.title_positions, a.text_positions, n) for a, n in zip(out, lengths, strict=True)]

    def terms(self, word: str) -> list[str]:
        """The index terms of a query word (usually one; none for punctuation)."""
        analyzed = self.analyze([("", word)])[0]
        return sorted(analyzed.text_positions, key=lambda t: analyzed.text_positions[t][0])
