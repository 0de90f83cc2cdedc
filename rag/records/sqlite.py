"""The embedded backend: records and an FTS5 keyword index in one SQLite file in the data dir."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from rag.documents import Article, Chunk
from rag.locking import ingest_lock, ingest_running
from rag.records.analyzer import FTS5_TOKENIZER
from rag.records.base import KEPT_META, TITLE_WEIGHT, Db, Records

_SCHEMA = f"""
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
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, text, tokenize = '{FTS5_TOKENIZER}');
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
CREATE TABLE IF NOT EXISTS index_version (one INTEGER PRIMARY KEY CHECK (one = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO index_version VALUES (1, 0);
"""

_ADDED_COLUMNS = {"encoding": "ALTER TABLE articles ADD COLUMN encoding TEXT"}
"""Columns added after the first release, for records files made before them."""


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqliteRecords(Records):
    """Records in a SQLite file (WAL mode: readers never wait for the ingest)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # executescript manages its own transaction; every statement is idempotent.
        db = self._sqlite()
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(articles)")}
        for column, statement in _ADDED_COLUMNS.items():
            if column not in columns:
                db.execute(statement)

    @property
    def location(self) -> str:
        return str(self.path)

    def _sqlite(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    def _connect(self) -> Db:
        return self._sqlite()

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """One IMMEDIATE transaction: writers queue for the file's lock up front, never midway."""
        db = self._sqlite()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            # Tells every connection's caches (document frequencies), in any process, that the index changed.
            db.execute("UPDATE index_version SET n = n + 1")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def reset(self) -> None:
        # Rows are deleted rather than the file: other processes' open connections (a chat server)
        # then see the rebuilt index instead of keeping a deleted file open.
        with self.transaction() as db:
            for table in ("chunks_fts", "copies", "signatures", "pending", "chunks", "articles"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM meta WHERE key <> ?", (KEPT_META,))

    def ingest_lock(self) -> AbstractContextManager[None]:
        return ingest_lock(self.path.parent)

    def ingest_running(self) -> bool:
        return ingest_running(self.path.parent)

    # --- keyword index: FTS5 ----------------------------------------------------------------------

    def _insert_chunks(self, db: Db, article: Article, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            cur = db.execute(
                "INSERT INTO chunks(id, source, idx, start, end) VALUES (?, ?, ?, ?, ?)",
                (chunk.id, chunk.source, chunk.index, chunk.start, chunk.end),
            )
            db.execute(
                "INSERT INTO chunks_fts(rowid, title, text) VALUES (?, ?, ?)",
                (cur.lastrowid, article.title, chunk.text),  # type: ignore[attr-defined]
            )

    def _delete_keyword_entries(self, db: Db, source: str) -> None:
        db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE source = ?)", (source,))

    def _matching_chunks(self, db: Db, terms: Sequence[str]) -> dict[str, int]:
        counts = {}
        for term in terms:
            row = db.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (_quoted(term),)).fetchone()
            counts[term] = int(row[0])
        return counts

    def _ranked_chunk_ids(self, db: Db, terms: Sequence[str], limit: int) -> list[str]:
        # FTS5's bm25() has k1 = 1.2 and b = 0.75 built in: the BM25_K1 and BM25_B of the other backend.
        match = " OR ".join(_quoted(t) for t in terms)
        rows = db.execute(
            "SELECT c.id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid"
            f" WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, {TITLE_WEIGHT}, 1.0), c.rowid LIMIT ?",
            (match, limit),
        )
        return [r[0] for r in rows]

    def keyword_index_drift(self) -> int:
        db = self._connect()
        missing = db.execute(
            "SELECT COUNT(*) FROM chunks WHERE rowid NOT IN (SELECT rowid FROM chunks_fts)"
        ).fetchone()[0]
        extra = db.execute("SELECT COUNT(*) FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)").fetchone()[
            0
        ]
        return int(missing) + int(extra)

    def rebuild_keyword_index(self) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM chunks_fts")
            db.execute(
                "INSERT INTO chunks_fts(rowid, title, text) SELECT c.rowid, a.title,"
                " substr(a.body, c.start + 1, c.end - c.start) FROM chunks c JOIN articles a ON a.source = c.source"
            )
