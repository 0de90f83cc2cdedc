"""Keyword search leaves out words that most chunks contain (real SQLite and PostgreSQL, no model)."""

import pytest

from rag.config import Settings
from rag.documents import Article, Chunk, chunk_id
from rag.records import open_records

pytestmark = pytest.mark.both_backends


def test_common_words_are_left_out_of_the_keyword_query(settings: Settings) -> None:
    records = open_records(settings)
    items = []
    for i in range(300):
        body = f"The project update number {i} was filed." + (" A zebra and a heron appeared." if i == 7 else "")
        article = Article(f"a{i}.md", f"Report {i}", body)
        items.append(
            (article, [Chunk(chunk_id(article.source, article.content_hash, 0), article.source, 0, 0, len(body), body)])
        )
    records.replace_articles(items, [])
    assert records._selective_terms(["project", "zebra", "heron"]) == ["zebra", "heron"]
    assert records._selective_terms(["project", "zebra"]) == ["project", "zebra"]  # never fewer than two words
    assert records._selective_terms(["project", "update", "filed", "zebra"])[0] == "zebra"
    [best, *_] = records.keyword_search("project zebra heron", 5)
    assert best == items[7][1][0].id
    # A write invalidates the cached document counts: the next search counts again.
    extra = Article("b.md", "B", "Zebra zebra zebra.")
    records.replace_articles(
        [(extra, [Chunk(chunk_id("b.md", extra.content_hash, 0), "b.md", 0, 0, 18, "Zebra zebra zebra.")])], []
    )
    records.keyword_search("project zebra heron", 5)
    assert records._df_cache["zebra"] == 2
    # ...and so does a write by another process (here: another Records on the same store).
    other = open_records(settings)
    other.remove_articles(["b.md"])
    records.keyword_search("project zebra heron", 5)
    assert records._df_cache["zebra"] == 1
    records.close()
    other.close()


def test_a_reset_is_seen_by_every_open_connection(settings: Settings) -> None:
    """`rag ingest --rebuild` in one process empties the index another process has open."""
    chat = open_records(settings)
    body = "A zebra and a heron appeared at the ferry terminal."
    article = Article("a.md", "Zebra", body, encoding="cp1252")
    chat.replace_articles(
        [(article, [Chunk(chunk_id("a.md", article.content_hash, 0), "a.md", 0, 0, len(body), body)])], []
    )
    assert chat.keyword_search("zebra heron", 5) and chat.counts() == (1, 1)
    assert chat.article("a.md") == article  # every field, the encoding it was decoded from included
    rebuild = open_records(settings)
    rebuild.reset()
    assert chat.counts() == (0, 0)
    assert chat.keyword_search("zebra heron", 5) == []
    assert not chat.has_articles()
    chat.close()
    rebuild.close()
