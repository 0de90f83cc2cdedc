"""Both record backends rank keyword queries alike: same terms, same BM25 (real SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from pathlib import Path

from bench.synth import generate
from rag.config import Settings
from rag.documents import Article, Chunk, chunk_id
from rag.records import open_records
from tests.conftest import postgres_schema


def paragraphs(article: Article) -> list[Chunk]:
    """One chunk per paragraph: enough text structure for BM25, no embedder needed."""
    chunks, at = [], 0
    for index, part in enumerate(article.body.split("\n\n")):
        start = article.body.index(part, at)
        at = start + len(part)
        chunks.append(
            Chunk(chunk_id(article.source, article.content_hash, index), article.source, index, start, at, part)
        )
    return chunks


def test_sqlite_and_postgres_return_the_same_rankings(tmp_path: Path) -> None:
    items = []
    for synth in generate(300, seed=11):
        title, _, body = synth.text.partition("\n")
        article = Article(synth.name, title.strip("# ").strip(), body.strip() + "\n\nTitle words: Crème brûlée café.")
        items.append((article, paragraphs(article)))
    rng = random.Random(4)
    queries = [a.needle.question for a in generate(300, seed=11)[:40]] + ["creme brulee cafe", "cafe's ferries"]
    for article, _ in rng.sample(items, 60):
        words = article.body.split()
        start = rng.randrange(max(1, len(words) - 6))
        queries.append(" ".join(words[start : start + 6]))

    with postgres_schema() as url:
        sqlite = open_records(Settings(data_dir=tmp_path))
        postgres = open_records(Settings(data_dir=tmp_path, database_url=url))
        for records in (sqlite, postgres):
            records.replace_articles(items, [])
        differing = [q for q in queries if sqlite.keyword_search(q, 20) != postgres.keyword_search(q, 20)]
        assert all(sqlite.keyword_search(q, 20) for q in queries[-60:])  # the spans find something
        assert len(postgres.keyword_search("creme brulee cafe", 20)) == 20  # accents folded, as in FTS5
        postgres.close()
    assert differing == [], f"{len(differing)} of {len(queries)} queries ranked differently: {differing[:5]}"


def test_an_index_made_before_the_postings_table_is_searchable_and_migrated_when_reopened(tmp_path: Path) -> None:
    with postgres_schema() as url:
        settings = Settings(data_dir=tmp_path, database_url=url)
        article = Article("z.md", "Parade", "Zebras paraded downtown.\n\nThe herons stayed away.")
        records = open_records(settings)
        records.replace_articles([(article, paragraphs(article))], [])
        with records.transaction() as db:  # the schema of an earlier version: no postings, a tsvector per chunk
            db.execute("DROP TABLE postings")
            db.execute("ALTER TABLE chunks ADD COLUMN terms TSVECTOR")
            db.execute("UPDATE chunks SET terms = to_tsvector('simple', 'zebras paraded downtown')")
            db.execute("CREATE INDEX chunks_terms ON chunks USING GIN (terms)")
        records.close()
        reopened = open_records(settings)
        assert reopened.keyword_search("zebras", 5) == [paragraphs(article)[0].id]
        assert reopened.keyword_index_drift() == 0
        with reopened.transaction() as db:  # the old column is dropped, not kept up to date
            columns = db.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = 'chunks'"
            ).fetchall()
        assert "terms" not in {c[0] for c in columns}
        reopened.close()
