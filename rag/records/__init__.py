"""The record of what is indexed and the keyword index: SQLite (embedded default) or PostgreSQL.

Both backends keep the same tables and score keyword matches with the same BM25, over the same
terms (see `rag.records.analyzer`), so an index answers the same on either.
"""

from __future__ import annotations

from rag.config import Settings
from rag.errors import ConfigError
from rag.records.base import ArticleSummary, ChunkRecord, Records

RECORDS_FILE = "records.sqlite3"

__all__ = ["RECORDS_FILE", "ArticleSummary", "ChunkRecord", "Records", "open_records"]


def open_records(settings: Settings) -> Records:
    """The records of these settings: PostgreSQL when RAG_DATABASE_URL is set, else a SQLite file in the data dir."""
    if settings.database_url:
        try:
            from rag.records.postgres import PostgresRecords
        except ImportError:
            raise ConfigError("RAG_DATABASE_URL needs the psycopg package: pip install 'newsrag[postgres]'") from None

        return PostgresRecords(settings.database_url)
    from rag.records.sqlite import SqliteRecords

    return SqliteRecords(settings.data_dir / RECORDS_FILE)
