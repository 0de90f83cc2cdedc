"""What both record backends share: the tables' meaning, every query that is plain SQL, and the
choice of keyword-query terms.

SQLite or PostgreSQL is the source of truth: an article counts as indexed once its row and its
chunks are committed there. Chroma writes are bracketed by a `pending` journal so that a crash
between the two stores leaves ids that the next ingest removes (see `Store.repair`).

The shared SQL is written once with `?` placeholders and `ON CONFLICT` clauses, which both engines
accept; each backend supplies its connection, its schema and its keyword index.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from rag.dates import parse_published
from rag.documents import Article, Chunk
from rag.text import keyword_terms

COPIES_FRESH_KEY = "copies_fresh"
"""Meta key present while the copy groups match the articles; any article write removes it."""

COMMON_FRACTION = 0.05
"""A word in more than this share of the chunks is too common to help a keyword search."""
COMMON_MIN_CHUNKS = 200
MIN_QUERY_TERMS = 2

BM25_K1 = 1.2
BM25_B = 0.75
TITLE_WEIGHT = 0.5
"""A title word counts half a body word: every chunk of an article repeats its title."""


INGEST_RUNS_KEY = "ingest_runs"
CHUNKS_EMBEDDED_KEY = "chunks_embedded_total"
"""Meta keys counting ingest runs and the chunks they embedded (for `rag serve`'s /metrics)."""
KEPT_META = "feeds"
"""The meta key a rebuild keeps: the saved feeds and what was taken from them are not index state."""


def bm25_idf(matching: int, total: int) -> float:
    """BM25's inverse document frequency, floored just above zero for very common terms."""
    idf = math.log((total - matching + 0.5) / (matching + 0.5))
    return idf if idf > 0 else 1e-6


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """A connection that takes `?` placeholders: sqlite3's own, or the PostgreSQL adapter."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any: ...


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


@dataclass(frozen=True)
class ArticleDates:
    """Each article's published day (when it has one) and outlet: what filters and date
    preferences read. Cached per process until the index changes."""

    days: dict[str, date]
    outlets: dict[str, str]
    undated: int

    @property
    def newest(self) -> date | None:
        return max(self.days.values(), default=None)

    def outlet_names(self) -> list[str]:
        return sorted(set(self.outlets.values()))


@dataclass(frozen=True)
class ArticlePage:
    """One page of the article list and how many articles match in all."""

    rows: list[ArticleSummary]
    matching: int


PAGE_SORTS = {
    "title": "lower(title), source",
    "newest": "published IS NULL, published DESC, source",
    "chunks": "chunk_count DESC, source",
    "file": "source",
}
"""Orders of the article list; `newest` compares the published field as text (ISO dates sort right)."""


class Records(ABC):
    """Record manager and keyword index; one connection per thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        # Document frequency of query words, valid until the index changes (see document_frequencies).
        self._df_lock = threading.Lock()
        self._df_cache: dict[str, int] = {}
        self._df_version: object = None
        self._df_total = 0
        self._dates_version: object = None
        self._dates: ArticleDates | None = None

    # --- what a backend provides ----------------------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the records live, for messages and `rag status`."""

    @abstractmethod
    def _connect(self) -> Db:
        """This thread's connection."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Db]:
        """Run a block in one write transaction: all of it commits or none of it."""

    @abstractmethod
    def close(self) -> None:
        """Close this thread's connection."""

    @abstractmethod
    def reset(self) -> None:
        """Delete every record (for `rag ingest --rebuild`)."""

    @abstractmethod
    def ingest_lock(self) -> AbstractContextManager[None]:
        """Hold the index's ingest lock; a second ingest stops at once with a clear message."""

    @abstractmethod
    def ingest_running(self) -> bool:
        """True while some process (this one included) holds the ingest lock."""

    def _index_version(self, db: Db) -> int:
        """A number that every write transaction, in any process, bumps."""
        return int(db.execute("SELECT n FROM index_version").fetchone()[0])

    @abstractmethod
    def _insert_chunks(self, db: Db, article: Article, chunks: Sequence[Chunk]) -> None:
        """Add an article's chunks and their keyword-index entries."""

    @abstractmethod
    def _delete_keyword_entries(self, db: Db, source: str) -> None:
        """Remove an article's chunks from the keyword index (before its chunk rows go)."""

    @abstractmethod
    def _matching_chunks(self, db: Db, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each of `terms` (query words, stemmed by the keyword index)."""

    @abstractmethod
    def _ranked_chunk_ids(self, db: Db, terms: Sequence[str], limit: int) -> list[str]:
        """Chunk ids holding any of `terms`, best BM25 score first."""

    @abstractmethod
    def keyword_index_drift(self) -> int:
        """Count chunks missing from the keyword index plus keyword entries with no chunk."""

    @abstractmethod
    def rebuild_keyword_index(self) -> None:
        """Rebuild the keyword index from the chunks and article bodies it is derived from."""

    # --- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            _put_meta(db, key, value)

    def update_meta(self, key: str, change: Callable[[str | None], str]) -> str:
        """Read, change and write one meta value in one transaction that no other writer of the
        same key (in any process) interleaves with; return the new value."""
        with self.transaction() as db:
            self._lock_meta(db, key)
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            value = change(None if row is None else str(row[0]))
            _put_meta(db, key, value)
            return value

    def _lock_meta(self, db: Db, key: str) -> None:  # noqa: B027 - SQLite's IMMEDIATE transaction already serialises
        """Hold, until the transaction ends, a lock that other writers of this meta key wait for."""

    def add_to_meta(self, key: str, amount: int) -> None:
        """Add to a counter kept in the meta table."""
        self.update_meta(key, lambda value: str(int(value or 0) + amount))

    # --- what is indexed --------------------------------------------------------------------

    def article_hashes(self) -> dict[str, str]:
        """Map every indexed source to its content hash."""
        return dict(self._connect().execute("SELECT source, content_hash FROM articles").fetchall())

    def chunk_ids_of(self, sources: Iterable[str]) -> list[str]:
        db = self._connect()
        ids: list[str] = []
        for source in sources:
            ids.extend(r[0] for r in db.execute("SELECT id FROM chunks WHERE source = ? ORDER BY idx", (source,)))
        return ids

    def has_articles(self) -> bool:
        """Cheap on any index size (asked before every answer), unlike counting."""
        return bool(self._connect().execute("SELECT EXISTS (SELECT 1 FROM articles)").fetchone()[0])

    def counts(self) -> tuple[int, int]:
        """Return (articles, chunks)."""
        db = self._connect()
        articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(articles), int(chunks)

    def article_page(self, search: str = "", sort: str = "title", offset: int = 0, limit: int = 50) -> ArticlePage:
        """Articles whose title, outlet or file name contains `search` (any case), in `sort` order,
        `limit` of them from `offset`: the database pages, so no caller holds the whole list."""
        order = PAGE_SORTS.get(sort, PAGE_SORTS["title"])
        where, params = "", []
        if search.strip():
            escaped = search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            where = (
                " WHERE lower(title) LIKE ? ESCAPE '\\' OR lower(coalesce(outlet, '')) LIKE ? ESCAPE '\\'"
                " OR lower(source) LIKE ? ESCAPE '\\'"
            )
            params = [pattern, pattern, pattern]
        db = self._connect()
        matching = int(db.execute(f"SELECT COUNT(*) FROM articles{where}", params).fetchone()[0])
        rows = db.execute(
            "SELECT source, title, outlet, published, url, chunk_count, indexed_at, encoding FROM articles"
            f"{where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, max(1, limit), max(0, offset)],
        )
        return ArticlePage([ArticleSummary(*row) for row in rows], matching)

    def not_utf8_count(self) -> int:
        row = self._connect().execute("SELECT COUNT(*) FROM articles WHERE encoding IS NOT NULL").fetchone()
        return int(row[0])

    def article_dates(self) -> ArticleDates:
        db = self._connect()
        with self._df_lock:
            version = self._index_version(db)
            if self._dates is None or version != self._dates_version:
                days, outlets, undated = {}, {}, 0
                for source, published, outlet in db.execute("SELECT source, published, outlet FROM articles"):
                    day = parse_published(published)
                    if day is None:
                        undated += 1
                    else:
                        days[source] = day
                    if outlet:
                        outlets[source] = outlet
                self._dates, self._dates_version = ArticleDates(days, outlets, undated), version
            return self._dates

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
            .execute(
                "SELECT source, title, body, outlet, url, published, encoding FROM articles WHERE source = ?", (source,)
            )
            .fetchone()
        )
        return None if row is None else Article(*row)

    # --- writes -----------------------------------------------------------------------------

    def mark_pending(self, ids: Sequence[str]) -> None:
        """Journal chunk ids about to be written to, or removed from, the vector store."""
        with self.transaction() as db:
            _journal(db, ids)

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
                self._insert_chunks(db, article, chunks)
            _journal(db, removed_ids)

    def remove_articles(self, sources: Sequence[str]) -> list[str]:
        """Remove articles and their chunks; return the removed chunk ids, journalled as pending."""
        with self.transaction() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (COPIES_FRESH_KEY,))
            removed: list[str] = []
            for source in sources:
                removed.extend(r[0] for r in db.execute("SELECT id FROM chunks WHERE source = ?", (source,)))
                self._delete_article(db, source)
            _journal(db, removed)
        return removed

    def _delete_article(self, db: Db, source: str) -> None:
        self._delete_keyword_entries(db, source)
        db.execute("DELETE FROM chunks WHERE source = ?", (source,))
        db.execute("DELETE FROM articles WHERE source = ?", (source,))

    def forget_articles(self, sources: Iterable[str]) -> None:
        """Mark articles as not indexed, so that the next ingest re-embeds them from their files."""
        with self.transaction() as db:
            db.executemany("UPDATE articles SET content_hash = '' WHERE source = ?", ((s,) for s in sources))

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
            existing = {r[0] for r in db.execute("SELECT source FROM articles")}
            db.executemany(
                "INSERT INTO signatures(source, minhash) VALUES (?, ?)"
                " ON CONFLICT (source) DO UPDATE SET minhash = excluded.minhash",
                ((s, m) for s, m in signatures.items() if s in existing),
            )

    def copies_fresh(self) -> bool:
        return self.get_meta(COPIES_FRESH_KEY) is not None

    def set_copy_groups(self, groups: Sequence[Sequence[str]]) -> None:
        """Replace every group of copies (each named by its first source) and mark them fresh."""
        with self.transaction() as db:
            existing = {r[0] for r in db.execute("SELECT source FROM articles")}
            db.execute("DELETE FROM copies")
            db.executemany(
                "INSERT INTO copies(source, grp) VALUES (?, ?)",
                ((source, group[0]) for group in groups for source in group if source in existing),
            )
            _put_meta(db, COPIES_FRESH_KEY, "1")

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

    # --- reads for retrieval ------------------------------------------------------------------

    def keyword_search(self, query: str, limit: int) -> list[str]:
        """Return chunk ids ranked by BM25 for the content words of `query`.

        Words found in a large share of the chunks ("project", "said") are left out of the query:
        BM25 gives them almost no weight, yet scoring every chunk they match is what makes a
        keyword search slow on a large index.
        """
        terms = self._selective_terms(self._query_terms(query))
        if not terms:
            return []
        return self._ranked_chunk_ids(self._connect(), terms, limit)

    def _query_terms(self, query: str) -> list[str]:
        """The query's content words, as the backend's keyword index matches them."""
        return list(dict.fromkeys(keyword_terms(query)))

    def document_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each term (stemmed as the keyword index stems), and how many chunks there are.

        Cached per process until any process commits a change to the chunks.
        """
        db = self._connect()
        with self._df_lock:
            version = self._index_version(db)
            if version != self._df_version:
                self._df_cache.clear()
                self._df_version = version
                self._df_total = int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
                self._on_index_change(db)
            missing = [t for t in dict.fromkeys(terms) if t not in self._df_cache]
            if missing:
                self._df_cache.update(self._matching_chunks(db, missing))
            return {t: self._df_cache[t] for t in terms}, self._df_total

    def _on_index_change(self, db: Db) -> None:  # noqa: B027 - an optional hook; SQLite caches nothing more
        """Refresh other per-index statistics a backend caches beside the document frequencies."""

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
            'SELECT c.id, c.source, a.title, c.start, c."end", substr(a.body, c.start + 1, c."end" - c.start),'
            " a.outlet, a.url, a.published FROM chunks c JOIN articles a ON a.source = c.source"
            f" WHERE c.id IN ({marks})",
            list(ids),
        )
        return {row[0]: ChunkRecord(*row) for row in rows}

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self._connect().execute("SELECT id FROM chunks")}

    def sources_of(self, chunk_ids: Iterable[str]) -> set[str]:
        db = self._connect()
        sources = set()
        for chunk_id in chunk_ids:
            row = db.execute("SELECT source FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
            if row:
                sources.add(row[0])
        return sources


def _put_meta(db: Db, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _journal(db: Db, ids: Iterable[str]) -> None:
    db.executemany("INSERT INTO pending(id) VALUES (?) ON CONFLICT (id) DO NOTHING", ((i,) for i in ids))
