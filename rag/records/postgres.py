"""The shared backend: records and the keyword index in PostgreSQL (RAG_DATABASE_URL).

Several chat servers and an ingest worker on different machines can then share one index. The
keyword index is a postings table (term, chunk, frequency, chunk length) indexed by term: BM25 is
summed in SQL over the postings of the query's terms, and a term's chunk count is read from the
index alone (a title term counts half, as in the SQLite backend). Each chunk's row keeps its term
frequencies too (as JSON), from which the postings are filled. Ranking from the frequencies of
every chunk that a GIN index over the chunks' terms found took twice as long: at 9,600 chunks a
common word matches a sixth of them. The terms are those of the SQLite backend's FTS5
tokenizer (see `rag.records.analyzer`), and the BM25 is FTS5's (k1 = 1.2, b = 0.75, the same IDF),
so both backends rank alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from rag.documents import Article, Chunk
from rag.errors import IngestLockedError, StoreUnavailableError
from rag.records.analyzer import Analyzed, Analyzer
from rag.records.base import BM25_B, BM25_K1, KEPT_META, TITLE_WEIGHT, Cursor, Db, Records, bm25_idf

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    source TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    outlet TEXT, url TEXT, published TEXT,
    body TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    indexed_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    encoding TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL REFERENCES articles(source) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    freqs JSONB,
    length INTEGER
);
-- Rows stay uncompressed up to a page: BM25 reads several frequencies of each matching row, and
-- a compressed row would be decompressed for every one of them.
ALTER TABLE chunks SET (toast_tuple_target = 8160);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source);
-- An index made before the postings kept each chunk's terms in a tsvector too, under a GIN index.
DROP INDEX IF EXISTS chunks_terms;
ALTER TABLE chunks DROP COLUMN IF EXISTS terms;
CREATE TABLE IF NOT EXISTS postings (
    term TEXT NOT NULL,
    chunk BIGINT NOT NULL REFERENCES chunks(rowid) ON DELETE CASCADE,
    tf DOUBLE PRECISION NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS postings_by_term ON postings(term) INCLUDE (chunk, tf, length);
CREATE INDEX IF NOT EXISTS postings_by_chunk ON postings(chunk);
CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS signatures (
    source TEXT PRIMARY KEY REFERENCES articles(source) ON DELETE CASCADE,
    minhash BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS copies (
    source TEXT PRIMARY KEY REFERENCES articles(source) ON DELETE CASCADE,
    grp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS copies_by_group ON copies(grp);
CREATE TABLE IF NOT EXISTS index_version (one INTEGER PRIMARY KEY CHECK (one = 1), n BIGINT NOT NULL);
INSERT INTO index_version VALUES (1, 0) ON CONFLICT DO NOTHING;
"""

_TABLES = "articles, chunks, postings, pending, signatures, copies"

# Advisory locks are per database; the schema in the key keeps separate indexes (schemas) apart.
_INGEST_KEY = "hashtextextended(current_schema() || ':newsrag-ingest', 0)"
_SCHEMA_KEY = "hashtextextended(current_schema() || ':newsrag-schema', 0)"


_RANKED_SQL = (
    "SELECT c.id FROM (SELECT chunk, sum((%s::float8[])[array_position(%s::text[], term)] * tf"
    f" * {BM25_K1 + 1} / (tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * length / %s))) AS score"
    " FROM postings WHERE term = ANY(%s::text[]) GROUP BY chunk ORDER BY score DESC, chunk LIMIT %s) s"
    " JOIN chunks c ON c.rowid = s.chunk ORDER BY s.score DESC, s.chunk"
)
"""BM25 summed over the postings of the query terms: the work is one index range per term, where
reading the frequencies of every chunk that holds any term from its JSON cost twice as much."""
_FILL_POSTINGS = (
    "INSERT INTO postings(term, chunk, tf, length)"
    " SELECT e.key, c.rowid, e.value::text::float8, c.length FROM chunks c, jsonb_each(c.freqs) e"
)
"""The postings of chunks, from their frequencies (add a WHERE to fill some)."""


def _frequencies(analyzed: Analyzed) -> str:
    """BM25's term frequencies of a chunk, as JSON: a title occurrence counts TITLE_WEIGHT."""
    freqs: dict[str, float] = {}
    for term, count in analyzed.title_counts.items():
        freqs[term] = TITLE_WEIGHT * count
    for term, count in analyzed.text_counts.items():
        freqs[term] = freqs.get(term, 0.0) + count
    return json.dumps(freqs, ensure_ascii=False, sort_keys=True)


class _Connection:
    """A psycopg connection that takes the `?` placeholders of the shared SQL."""

    def __init__(self, conn: psycopg.Connection[Any], where: str) -> None:
        self.conn = conn
        self.where = where

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        with self._reachable():
            return self.conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> None:
        rows = list(params)
        if rows:
            with self._reachable(), self.conn.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)

    def raw(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run SQL with psycopg's own `%s` placeholders."""
        with self._reachable():
            return self.conn.execute(sql, params)

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except psycopg.OperationalError as exc:
            raise _unavailable(self.where, exc) from None


def _unavailable(where: str, exc: Exception) -> StoreUnavailableError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return StoreUnavailableError(f"cannot reach {where} ({first}); start it or unset RAG_DATABASE_URL")


class PostgresRecords(Records):
    """Records in a PostgreSQL database (or the schema its URL's search_path names)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        try:
            info = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            raise StoreUnavailableError(
                "RAG_DATABASE_URL is not a PostgreSQL URL; set it like postgresql://user@host:5432/dbname"
            ) from None
        # The password never appears in messages.
        self._where = f"PostgreSQL at {info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        self.analyzer = Analyzer()
        self._average_length = 1.0
        """Mean chunk length in tokens (BM25's avgdl), refreshed whenever the index changes."""
        with self.transaction() as db:
            db.raw(f"SELECT pg_advisory_xact_lock({_SCHEMA_KEY})")  # two processes starting at once
            had_postings = db.raw("SELECT to_regclass('postings') IS NOT NULL").fetchone()[0]
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.raw(statement)
            if not had_postings:  # an index made before the postings table: fill it from the chunks
                db.raw(_FILL_POSTINGS)

    @property
    def location(self) -> str:
        return self._where

    def _open(self) -> _Connection:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise _unavailable(self._where, exc) from None
        return _Connection(conn, self._where)

    def _pg(self) -> _Connection:
        db: _Connection | None = getattr(self._local, "db", None)
        if db is not None and db.conn.closed:  # the server went away; reconnect once it is back
            db = None
        if db is None:
            db = self._open()
            self._local.db = db
        return db

    def _connect(self) -> Db:
        return self._pg()

    @contextmanager
    def transaction(self) -> Iterator[_Connection]:
        db = self._pg()
        try:
            with db.conn.transaction():
                yield db
                # Tells every process's caches (document frequencies) that the index changed.
                db.raw("UPDATE index_version SET n = n + 1")
        except psycopg.OperationalError as exc:
            raise _unavailable(self._where, exc) from None

    def close(self) -> None:
        db: _Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def _lock_meta(self, db: Db, key: str) -> None:
        # READ COMMITTED lets two read-modify-writes interleave: a transaction-scoped advisory lock
        # per key queues them.
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':meta:' || ?, 0))", (key,))

    def reset(self) -> None:
        with self.transaction() as db:
            db.raw(f"TRUNCATE {_TABLES} RESTART IDENTITY")
            db.execute("DELETE FROM meta WHERE key <> ?", (KEPT_META,))

    @contextmanager
    def ingest_lock(self) -> Iterator[None]:
        # A session-level advisory lock on a connection of its own: released when it closes,
        # so an ingest killed at any point never leaves the lock held.
        db = self._open()
        try:
            if not db.raw(f"SELECT pg_try_advisory_lock({_INGEST_KEY})").fetchone()[0]:
                raise IngestLockedError(f"another ingest is running on {self._where}; wait for it to finish")
            try:
                yield
            finally:
                # Unlocked before closing: the server ends a closed session a moment later, and an
                # ingest started right after this one would find the lock still held until then.
                db.raw(f"SELECT pg_advisory_unlock({_INGEST_KEY})")
        finally:
            db.conn.close()

    def ingest_running(self) -> bool:
        db = self._pg()
        if db.raw(f"SELECT pg_try_advisory_lock_shared({_INGEST_KEY})").fetchone()[0]:
            db.raw(f"SELECT pg_advisory_unlock_shared({_INGEST_KEY})")
            return False
        return True

    # --- keyword index: postings, ranked by BM25 ----------------------------------------------------

    def _insert_chunks(self, db: Db, article: Article, chunks: Sequence[Chunk]) -> None:
        analyzed = self.analyzer.analyze([(article.title, chunk.text) for chunk in chunks])
        db.executemany(
            'INSERT INTO chunks(id, source, idx, start, "end", freqs, length) VALUES (?, ?, ?, ?, ?, ?::jsonb, ?)',
            (
                (chunk.id, chunk.source, chunk.index, chunk.start, chunk.end, _frequencies(a), a.length)
                for chunk, a in zip(chunks, analyzed, strict=True)
            ),
        )
        db.execute(f"{_FILL_POSTINGS} WHERE c.id = ANY(?)", ([chunk.id for chunk in chunks],))

    def _delete_keyword_entries(self, db: Db, source: str) -> None:
        """Nothing to do: a chunk's terms live in its own row."""

    def _stems(self, words: Iterable[str]) -> list[str]:
        """The index term of each query word ("" for a word of several tokens, which is left out)."""
        stems = []
        for word in words:
            found = self.analyzer.terms(word)
            stems.append(found[0] if len(found) == 1 else "")
        return stems

    def _matching_chunks(self, db: Db, terms: Sequence[str]) -> dict[str, int]:
        """Each term's chunk count: its postings, counted from the index alone."""
        stems = self._stems(terms)
        looked_up = sorted({s for s in stems if s})
        counts: dict[str, int] = {}
        if looked_up:
            rows = db.execute("SELECT term, count(*) FROM postings WHERE term = ANY(?) GROUP BY term", (looked_up,))
            counts = {term: int(n) for term, n in rows}
        return {t: counts.get(s, 0) if s else 0 for t, s in zip(terms, stems, strict=True)}

    def _ranked_chunk_ids(self, db: Db, terms: Sequence[str], limit: int) -> list[str]:
        df, total = self.document_frequencies(terms)
        stems = self._stems(terms)
        weights: dict[str, float] = {}
        for term, stem in zip(terms, stems, strict=True):
            if stem:  # two query words of one stem weigh twice, as in the SQLite backend
                weights[stem] = weights.get(stem, 0.0) + bm25_idf(df[term], total)
        looked_up = list(weights)
        if not looked_up:
            return []
        # The average length is fresh: document_frequencies checked the index version.
        params = ([weights[t] for t in looked_up], looked_up, self._average_length, looked_up, limit)
        return [r[0] for r in self._pg().raw(_RANKED_SQL, params)]

    def _on_index_change(self, db: Db) -> None:
        self._average_length = float(db.execute("SELECT avg(length) FROM chunks").fetchone()[0] or 1.0)

    def keyword_index_drift(self) -> int:
        """Chunks without term frequencies, or with terms but no postings."""
        return int(
            self._connect()
            .execute(
                "SELECT COUNT(*) FROM chunks c WHERE freqs IS NULL OR (freqs <> '{}'::jsonb"
                " AND NOT EXISTS (SELECT 1 FROM postings p WHERE p.chunk = c.rowid))"
            )
            .fetchone()[0]
        )

    def rebuild_keyword_index(self) -> None:
        with self.transaction() as db:
            rows = db.raw(
                'SELECT c.rowid, a.title, substr(a.body, c.start + 1, c."end" - c.start)'
                " FROM chunks c JOIN articles a ON a.source = c.source"
            ).fetchall()
            analyzed = self.analyzer.analyze([(title, text) for _, title, text in rows])
            db.executemany(
                "UPDATE chunks SET freqs = ?::jsonb, length = ? WHERE rowid = ?",
                ((_frequencies(a), a.length, row[0]) for row, a in zip(rows, analyzed, strict=True)),
            )
            db.execute("DELETE FROM postings")
            db.execute(_FILL_POSTINGS)
