"""The record of what is indexed, and the BM25 keyword index, in one SQLite file.

SQLite is the source of truth: an article counts as indexed once its row and its chunks are
committed here. Chroma writes are bracketed by a `pending` journal so that a crash between the
two stores leaves ids that the next ingest removes (see `Store.repair`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.documents import Article, Chunk
from rag.text import keyword_terms

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    source TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    outlet TEXT, url TEXT, published TEXT,
    body TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    indexed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL REFERENCES articles(source) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS signatures (
    source TEXT PRIMARY KEY REFERENCES articles(source) ON DELETE CASCADE,
    minhash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS copies (
    source TEXT PRIMARY KEY REFERENCES articles(source) ON DELETE CASCADE,
    grp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS copies_by_group ON copies(grp);
"""

COPIES_FRESH_KEY = "copies_fresh"
"""Meta key present while the copy groups match the articles; any article write removes it."""
_ADDED_COLUMNS = {"encoding": "ALTER TABLE articles ADD COLUMN encoding TEXT"}
"""Columns added after the first release, for records files made before them."""


COMMON_FRACTION = 0.05
"""A word in more than this share of the chunks is too common to help a keyword search."""
COMMON_MIN_CHUNKS = 200
MIN_QUERY_TERMS = 2


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


@dataclass(frozen=True)
class ChunkRecord:
    """A committed chunk with its article's fields, as retrieval needs it."""

    id: str
    source: str
    title: str
    start: int
    end: int
    text: str
    outlet: str | None
    url: str | None
    published: str | None


@dataclass(frozen=True)
class ArticleSummary:
    source: str
    title: str
    outlet: str | None
    published: str | None
    url: str | None
    chunk_count: int
    indexed_at: str
    encoding: str | None = None


class Records:
    """SQLite-backed record manager and keyword index; one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # Document frequency of query words, valid until the index changes (see _selective_terms).
        self._df_lock = threading.Lock()
        self._df_cache: dict[str, int] = {}
        self._df_generation: tuple[int, int] = (-1, -1)
        self._df_total = 0
        self._writes = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # executescript manages its own transaction; every statement is idempotent.
        db = self._connect()
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(articles)")}
        for column, statement in _ADDED_COLUMNS.items():
            if column not in columns:
                db.execute(statement)

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one IMMEDIATE transaction: all of it commits or none of it."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._writes += 1  # data_version only sees other connections' commits

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- what is indexed --------------------------------------------------------------------

    def article_hashes(self) -> dict[str, str]:
        """Map every indexed source to its content hash."""
        return dict(self._connect().execute("SELECT source, content_hash FROM articles").fetchall())

    def chunk_ids_of(self, sources: Iterable[str]) -> list[str]:
        db = self._connect()
        ids: list[str] = []
        for source in sources:
            ids.extend(r[0] for r in db.execute("SELECT id FROM chunks WHERE source = ?", (source,)))
        return ids

    def has_articles(self) -> bool:
        """Cheap on any index size (asked before every answer), unlike counting."""
        return self._connect().execute("SELECT EXISTS (SELECT 1 FROM articles)").fetchone()[0] == 1

    def counts(self) -> tuple[int, int]:
        """Return (articles, chunks)."""
        db = self._connect()
        articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(articles), int(chunks)

    def articles(self) -> list[ArticleSummary]:
        rows = self._connect().execute(
            "SELECT source, title, outlet, published, url, chunk_count, indexed_at, encoding FROM articles"
            " ORDER BY source"
        )
        return [ArticleSummary(*row) for row in rows]

    def body(self, source: str) -> str | None:
        row = self._connect().execute("SELECT body FROM articles WHERE source = ?", (source,)).fetchone()
        return None if row is None else str(row[0])

    def article(self, source: str) -> Article | None:
        row = (
            self._connect()
            .execute("SELECT source, title, body, outlet, url, published FROM articles WHERE source = ?", (source,))
            .fetchone()
        )
        return None if row is None else Article(*row)

    # --- writes -----------------------------------------------------------------------------

    def mark_pending(self, ids: Sequence[str]) -> None:
        """Journal chunk ids about to be written to, or removed from, the vector store."""
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO pending(id) VALUES (?)", ((i,) for i in ids))

    def pending_ids(self) -> list[str]:
        return [r[0] for r in self._connect().execute("SELECT id FROM pending")]

    def clear_pending(self, ids: Sequence[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM pending WHERE id = ?", ((i,) for i in ids))

    def replace_articles(
        self,
        items: Sequence[tuple[Article, Sequence[Chunk]]],
        removed_ids: Sequence[str],
        signatures: Mapping[str, bytes] | None = None,
    ) -> None:
        """Commit new versions of articles, their chunks and near-duplicate signatures in one transaction.

        `removed_ids` (the chunks they replace) are journalled as pending in the same transaction,
        so that the vector-store deletion that follows is retried if it does not finish.
        """
        signatures = signatures or {}
        with self.transaction() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (COPIES_FRESH_KEY,))
            for article, chunks in items:
                self._delete_article(db, article.source)
                db.execute(
                    "INSERT INTO articles(source, content_hash, title, outlet, url, published, body, chunk_count,"
                    " encoding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.source,
                        article.content_hash,
                        article.title,
                        article.outlet,
                        article.url,
                        article.published,
                        article.body,
                        len(chunks),
                        article.encoding,
                    ),
                )
                if article.source in signatures:
                    db.execute(
                        "INSERT INTO signatures(source, minhash) VALUES (?, ?)",
                        (article.source, signatures[article.source]),
                    )
                for chunk in chunks:
                    cur = db.execute(
                        "INSERT INTO chunks(id, source, idx, start, end) VALUES (?, ?, ?, ?, ?)",
                        (chunk.id, chunk.source, chunk.index, chunk.start, chunk.end),
                    )
                    db.execute(
                        "INSERT INTO chunks_fts(rowid, title, text) VALUES (?, ?, ?)",
                        (cur.lastrowid, article.title, chunk.text),
                    )
            db.executemany("INSERT OR IGNORE INTO pending(id) VALUES (?)", ((i,) for i in removed_ids))

    def remove_articles(self, sources: Sequence[str]) -> list[str]:
        """Remove articles and their chunks; return the removed chunk ids, journalled as pending."""
        with self.transaction() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (COPIES_FRESH_KEY,))
            removed: list[str] = []
            for source in sources:
                removed.extend(r[0] for r in db.execute("SELECT id FROM chunks WHERE source = ?", (source,)))
                self._delete_article(db, source)
            db.executemany("INSERT OR IGNORE INTO pending(id) VALUES (?)", ((i,) for i in removed))
        return removed

    # --- near-duplicate copies ----------------------------------------------------------------

    def signatures(self) -> dict[str, bytes]:
        return {r[0]: bytes(r[1]) for r in self._connect().execute("SELECT source, minhash FROM signatures")}

    def sources_without_signature(self) -> list[str]:
        rows = self._connect().execute(
            "SELECT source FROM articles WHERE source NOT IN (SELECT source FROM signatures) ORDER BY source"
        )
        return [r[0] for r in rows]

    def add_signatures(self, signatures: Mapping[str, bytes]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO signatures(source, minhash) SELECT ?, ? WHERE EXISTS"
                " (SELECT 1 FROM articles WHERE source = ?)",
                ((s, m, s) for s, m in signatures.items()),
            )

    def copies_fresh(self) -> bool:
        return self.get_meta(COPIES_FRESH_KEY) is not None

    def set_copy_groups(self, groups: Sequence[Sequence[str]]) -> None:
        """Replace every group of copies (each named by its first source) and mark them fresh."""
        with self.transaction() as db:
            db.execute("DELETE FROM copies")
            db.executemany(
                "INSERT INTO copies(source, grp) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM articles WHERE source = ?)",
                ((source, group[0], source) for group in groups for source in group),
            )
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (COPIES_FRESH_KEY,))

    def copy_groups(self) -> list[list[str]]:
        groups: dict[str, list[str]] = {}
        for source, grp in self._connect().execute("SELECT source, grp FROM copies ORDER BY source"):
            groups.setdefault(grp, []).append(source)
        return sorted(members for members in groups.values() if len(members) > 1)

    def group_of(self, sources: Iterable[str]) -> dict[str, str]:
        """The copy group of each of `sources` that has copies (sources without copies are left out)."""
        wanted = list(dict.fromkeys(sources))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._connect().execute(f"SELECT source, grp FROM copies WHERE source IN ({marks})", wanted)
        return dict(rows.fetchall())

    def copies_of(self, source: str) -> list[str]:
        """The other indexed copies of an article, in source order."""
        rows = self._connect().execute(
            "SELECT b.source FROM copies a JOIN copies b ON a.grp = b.grp WHERE a.source = ? AND b.source != ?"
            " ORDER BY b.source",
            (source, source),
        )
        return [r[0] for r in rows]

    @staticmethod
    def _delete_article(db: sqlite3.Connection, source: str) -> None:
        db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE source = ?)", (source,))
        db.execute("DELETE FROM chunks WHERE source = ?", (source,))
        db.execute("DELETE FROM articles WHERE source = ?", (source,))

    # --- reads for retrieval ------------------------------------------------------------------

    def keyword_search(self, query: str, limit: int) -> list[str]:
        """Return chunk ids ranked by BM25 for the content words of `query`.

        Words found in a large share of the chunks ("project", "said") are left out of the query:
        BM25 gives them almost no weight, yet scoring every chunk they match is what makes a
        keyword search slow on a large index.
        """
        terms = self._selective_terms(list(dict.fromkeys(keyword_terms(query))))
        if not terms:
            return []
        match = " OR ".join(_quoted(t) for t in terms)
        rows = self._connect().execute(
            "SELECT c.id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid"
            " WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, 0.5, 1.0) LIMIT ?",
            (match, limit),
        )
        return [r[0] for r in rows]

    def document_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each term (stemmed as the keyword index stems), and how many chunks there are."""
        db = self._connect()
        with self._df_lock:
            generation = db.execute("PRAGMA data_version").fetchone()[0], self._writes
            if generation != self._df_generation:
                self._df_cache.clear()
                self._df_generation = generation
                self._df_total = int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
            for term in terms:
                if term not in self._df_cache:
                    row = db.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (_quoted(term),))
                    self._df_cache[term] = int(row.fetchone()[0])
            return {t: self._df_cache[t] for t in terms}, self._df_total

    def _selective_terms(self, terms: list[str]) -> list[str]:
        if len(terms) <= MIN_QUERY_TERMS:
            return terms
        df, total = self.document_frequencies(terms)
        present = sorted((t for t in terms if df[t]), key=lambda t: df[t])
        common = max(COMMON_MIN_CHUNKS, COMMON_FRACTION * total)
        selective = [t for t in present if df[t] <= common]
        return selective if len(selective) >= MIN_QUERY_TERMS else present[:MIN_QUERY_TERMS]

    def chunks_by_id(self, ids: Sequence[str]) -> dict[str, ChunkRecord]:
        """Fetch committed chunks with their article fields; unknown ids are left out."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._connect().execute(
            "SELECT c.id, c.source, a.title, c.start, c.end, substr(a.body, c.start + 1, c.end - c.start),"
            " a.outlet, a.url, a.published FROM chunks c JOIN articles a ON a.source = c.source"
            f" WHERE c.id IN ({marks})",
            list(ids),
        )
        return {row[0]: ChunkRecord(*row) for row in rows}

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self._connect().execute("SELECT id FROM chunks")}

    def keyword_index_drift(self) -> int:
        """Count chunks missing from the keyword index plus keyword rows with no chunk."""
        db = self._connect()
        missing = db.execute(
            "SELECT COUNT(*) FROM chunks WHERE rowid NOT IN (SELECT rowid FROM chunks_fts)"
        ).fetchone()[0]
        extra = db.execute("SELECT COUNT(*) FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)").fetchone()[
            0
        ]
        return int(missing) + int(extra)

    def rebuild_keyword_index(self) -> None:
        """Rebuild the keyword index from the chunks and article bodies it is derived from."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks_fts")
            db.execute(
                "INSERT INTO chunks_fts(rowid, title, text) SELECT c.rowid, a.title,"
                " substr(a.body, c.start + 1, c.end - c.start) FROM chunks c JOIN articles a ON a.source = c.source"
            )

    def sources_of(self, chunk_ids: Iterable[str]) -> set[str]:
        db = self._connect()
        sources = set()
        for chunk_id in chunk_ids:
            row = db.execute("SELECT source FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
            if row:
                sources.add(row[0])
        return sources

    def forget_articles(self, sources: Iterable[str]) -> None:
        """Mark articles as not indexed, so that the next ingest re-embeds them from their files."""
        with self.transaction() as db:
            db.executemany("UPDATE articles SET content_hash = '' WHERE source = ?", ((s,) for s in sources))
