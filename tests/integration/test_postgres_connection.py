"""The PostgreSQL backend when its connection drops: a one-line error, then it reconnects by itself."""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.documents import Article, Chunk, chunk_id
from rag.errors import StoreUnavailableError
from rag.records import open_records
from tests.conftest import postgres_schema


def test_a_dropped_connection_is_one_error_then_a_reconnect(tmp_path) -> None:
    import psycopg

    with postgres_schema() as url:
        records = open_records(Settings(data_dir=tmp_path, database_url=url))
        body = "The Harlow ferry terminal opens in June."
        article = Article("a.md", "Ferry", body)
        records.replace_articles(
            [(article, [Chunk(chunk_id("a.md", article.content_hash, 0), "a.md", 0, 0, len(body), body)])], []
        )
        pid = records._connect().execute("SELECT pg_backend_pid()").fetchone()[0]
        with psycopg.connect(url, autocommit=True) as admin:  # what a server restart does to a client
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(
            StoreUnavailableError, match=r"^cannot reach PostgreSQL at .*; start it or unset RAG_DATABASE_URL$"
        ):
            records.counts()
        assert records.counts() == (1, 1)  # the next call reconnects
        assert records.keyword_search("harlow ferry", 5)
        records.close()
