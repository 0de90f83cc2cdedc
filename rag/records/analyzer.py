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
from functools import lru_cache

FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"


@dataclass(frozen=True)
class Analyzed:
    """A chunk's terms: how often each occurs in the title and in the text, and the token count."""

    title_counts: dict[str, int]
    text_counts: dict[str, int]
    length: int
    """Tokens in title and text together (BM25's document length)."""


class Analyzer:
    """FTS5's tokenizer on a private in-memory database per thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        # Query words repeat (every search looks its words up twice: counts, then ranking).
        self._word_terms = lru_cache(maxsize=65536)(self._tokenize_word)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.execute(f"CREATE VIRTUAL TABLE doc USING fts5(title, text, tokenize = '{FTS5_TOKENIZER}')")
            db.execute("CREATE VIRTUAL TABLE doc_terms USING fts5vocab(doc, 'instance')")
            self._local.db = db
        return db

    def _instances(self, rows: Sequence[tuple[str, str]]) -> list[tuple[int, str, int, str]]:
        """Every token of the (title, text) pairs: (row, column, offset in the column, term)."""
        db = self._db()
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO doc(rowid, title, text) VALUES (?, ?, ?)", ((i, *r) for i, r in enumerate(rows))
            )
            return db.execute("SELECT doc, col, offset, term FROM doc_terms").fetchall()
        finally:
            db.execute("ROLLBACK")  # nothing is kept: the table is only a tokenizer

    def analyze(self, rows: Sequence[tuple[str, str]]) -> list[Analyzed]:
        """Analyze (title, text) pairs."""
        out = [Analyzed({}, {}, 0) for _ in rows]
        lengths = [0] * len(rows)
        for doc, col, _, term in self._instances(rows):
            lengths[doc] += 1
            counts = out[doc].title_counts if col == "title" else out[doc].text_counts
            counts[term] = counts.get(term, 0) + 1
        return [Analyzed(a.title_counts, a.text_counts, n) for a, n in zip(out, lengths, strict=True)]

    def terms(self, word: str) -> list[str]:
        """The index terms of a query word, in the order they occur (usually one; none for punctuation)."""
        return list(self._word_terms(word))

    def _tokenize_word(self, word: str) -> tuple[str, ...]:
        in_order = sorted(self._instances([("", word)]), key=lambda instance: instance[2])
        return tuple(dict.fromkeys(term for *_, term in in_order))
