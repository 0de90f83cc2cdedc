"""Incremental indexing against a real Chroma and real records (SQLite, then PostgreSQL), with the bundled embedder."""

import shutil
from pathlib import Path

import pytest

from ingest.chunker import chunk_article
from ingest.indexer import ingest
from ingest.loader import load_article
from rag.config import Settings
from rag.embeddings import get_embedder
from rag.errors import CorpusPathError, EmbedderMismatchError, IngestLockedError
from rag.records import open_records
from rag.store import Store, open_store
from tests.conftest import SEED_ARTICLE

pytestmark = pytest.mark.both_backends

STORY = "The Harlow council approved a new ferry terminal. Construction starts in June. The mayor praised the vote."


def chroma_ids(store: Store) -> list[str]:
    return store.collection.get(include=[])["ids"]


def assert_stores_agree(store: Store) -> None:
    ids = chroma_ids(store)
    assert len(ids) == len(set(ids)), "duplicate ids in Chroma"
    assert set(ids) == store.records.all_chunk_ids()
    assert store.records.pending_ids() == []


@pytest.mark.parametrize("limit", [160, 64, 40])
def test_chunks_are_verbatim_and_fit_the_embedder(shared_dir: Path, limit: int) -> None:
    embedder = get_embedder()
    for path in [SEED_ARTICLE, *sorted((shared_dir / "articles").glob("*.md"))]:
        article = load_article(path, path.parent, max_bytes=5 << 20)
        chunks = chunk_article(article, embedder.count_tokens, limit)
        assert chunks
        for chunk in chunks:
            assert article.body[chunk.start : chunk.end] == chunk.text
            assert embedder.count_tokens([chunk.text])[0] <= min(limit, embedder.max_tokens)
        covered = set().union(*(range(c.start, c.end) for c in chunks))
        assert all(i in covered or article.body[i].isspace() for i in range(len(article.body)))


def test_second_ingest_embeds_nothing(settings: Settings, write_article) -> None:
    write_article("a.md", STORY, title="Ferry")
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    first = ingest(settings)
    assert sorted(first.added) == ["000_a4b3e2646b848259.md", "a.md"]
    embedder = get_embedder()
    before = embedder.texts_embedded
    second = ingest(settings)
    assert embedder.texts_embedded == before
    assert second.chunks_embedded == 0
    assert sorted(second.unchanged) == ["000_a4b3e2646b848259.md", "a.md"]
    assert second.summary().startswith("0 added, 0 updated, 2 unchanged, 0 removed, 0 skipped")


def test_copies_of_one_story_are_embedded_once_and_both_indexed(settings: Settings, write_article) -> None:
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    (settings.corpus_dir / "wire").mkdir()
    shutil.copy(SEED_ARTICLE, settings.corpus_dir / "wire" / "copy.md")  # the same story filed twice
    embedder = get_embedder()
    before = embedder.texts_embedded
    report = ingest(settings, embedder=embedder)
    store = open_store(settings)
    chunk_ids = store.records.all_chunk_ids()
    per_copy = len(chunk_ids) // 2
    assert report.chunks_embedded == len(chunk_ids) == 2 * per_copy  # both copies have every chunk
    assert embedder.texts_embedded - before == per_copy  # but each text was embedded once
    vectors = store.vectors_of(sorted(chunk_ids))
    assert all(v.shape == (384,) for v in vectors.values()) and len(vectors) == len(chunk_ids)


def test_edited_article_is_replaced_without_duplicates(settings: Settings, write_article) -> None:
    path = write_article("a.md", STORY, title="Ferry")
    ingest(settings)
    store = open_store(settings)
    old_ids = set(chroma_ids(store))
    path.write_text(path.read_text(encoding="utf-8").replace("June", "September"), encoding="utf-8")
    report = ingest(settings)
    assert report.updated == ["a.md"]
    assert_stores_agree(store)
    assert old_ids.isdisjoint(chroma_ids(store))
    assert "September" in store.records.article("a.md").body  # type: ignore[union-attr]
    assert store.records.keyword_search("June", 5) == []
    assert store.records.keyword_search("September", 5)


def test_deleted_article_leaves_both_indexes(settings: Settings, write_article) -> None:
    path = write_article("a.md", STORY, title="Ferry")
    write_article("b.md", "Unrelated zebra parade news. The zebras marched.", title="Zebras")
    ingest(settings)
    path.unlink()
    report = ingest(settings)
    assert report.removed == ["a.md"]
    store = open_store(settings)
    assert_stores_agree(store)
    assert store.records.keyword_search("ferry terminal", 5) == []
    assert store.collection.get(where={"source": "a.md"}, include=[])["ids"] == []
    assert [a.source for a in store.records.articles()] == ["b.md"]


def test_skipped_file_keeps_its_old_version_indexed(settings: Settings, write_article) -> None:
    """A file that turns unreadable is skipped, but what was indexed from it is not lost."""
    path = write_article("a.md", STORY, title="Ferry")
    ingest(settings)
    path.write_bytes(b"\xff\xfe broken")
    report = ingest(settings)
    assert [s.source for s in report.skipped] == ["a.md"]
    assert report.removed == []
    assert open_store(settings).records.keyword_search("ferry", 5)


def test_ingest_of_one_path_adds_it_without_removing_others(settings: Settings, write_article) -> None:
    a = write_article("a.md", STORY, title="Ferry")
    ingest(settings)
    a.unlink()
    b = write_article("new/b.md", "Zebras paraded downtown.", title="Zebras")
    report = ingest(settings, [b])
    assert report.added == ["new/b.md"]
    assert report.removed == []
    assert {x.source for x in open_store(settings).records.articles()} == {"a.md", "new/b.md"}


def test_path_outside_corpus_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.md"
    outside.write_text("Text.", encoding="utf-8")
    with pytest.raises(CorpusPathError, match="outside the corpus dir"):
        ingest(settings, [outside])
    with pytest.raises(CorpusPathError, match="does not exist"):
        ingest(settings, [settings.corpus_dir / "missing.md"])


def test_interrupted_write_is_repaired(settings: Settings, write_article) -> None:
    """Vectors written to Chroma by an ingest that died before committing are removed next run."""
    write_article("a.md", STORY, title="Ferry")
    ingest(settings)
    store = open_store(settings)
    orphan = "0" * 32
    store.records.mark_pending([orphan])
    vector = get_embedder().embed(["orphan text"])
    store.upsert_vectors([orphan], vector, ["orphan text"], [{"source": "gone.md"}])
    assert orphan in chroma_ids(store)
    ingest(settings)
    assert_stores_agree(store)
    assert orphan not in chroma_ids(store)


def test_second_ingest_while_one_runs_stops_with_a_message(settings: Settings, write_article) -> None:
    write_article("a.md", STORY, title="Ferry")
    other_process = open_records(settings)  # its own connection, as another process would have
    with other_process.ingest_lock(), pytest.raises(IngestLockedError, match="another ingest is running"):
        ingest(settings)
    assert not other_process.ingest_running()
    ingest(settings)  # the lock is free again
    other_process.close()


def test_index_from_another_embedder_is_refused(settings: Settings, write_article) -> None:
    write_article("a.md", STORY, title="Ferry")
    ingest(settings)
    other = Store(settings, embedder_name="some/other-model", dimension=768)
    with pytest.raises(EmbedderMismatchError, match="rag ingest --rebuild"):
        other.check_embedder()


def test_collection_from_another_embedder_is_refused(settings: Settings) -> None:
    """A collection that another model filled (say on a shared Chroma server) is not written to."""
    store = open_store(settings)
    store.client.create_collection(
        settings.collection, embedding_function=None, metadata={"embedder": "some/other-model", "dimension": 768}
    )
    with pytest.raises(EmbedderMismatchError, match="some/other-model"):
        store.collection  # noqa: B018


def test_rebuild_replaces_an_index_from_another_embedder(settings: Settings, write_article) -> None:
    write_article("a.md", STORY, title="Ferry")
    ingest(settings)
    records = open_store(settings).records
    records.set_meta("embedder", "some/other-model")
    with pytest.raises(EmbedderMismatchError):
        ingest(settings)
    report = ingest(settings, rebuild=True)
    assert report.added == ["a.md"]
    open_store(settings).check_embedder()


def test_rebuild_starts_over(settings: Settings, write_article) -> None:
    write_article("a.md", STORY, title="Ferry")
    ingest(settings)
    report = ingest(settings, rebuild=True)
    assert report.added == ["a.md"]
    assert_stores_agree(open_store(settings))


def test_verify_reports_drift_and_ingest_repairs_it(settings: Settings, write_article) -> None:
    write_article("a.md", STORY, title="Ferry")
    write_article("b.md", "Zebras paraded downtown. The zebras were calm.", title="Zebras")
    ingest(settings)
    store = open_store(settings)
    assert store.verify().ok
    # Damage all three stores behind the indexer's back.
    lost = store.records.chunk_ids_of(["a.md"])
    store.collection.delete(ids=lost)
    store.upsert_vectors(["f" * 32], get_embedder().embed(["stray"]), ["stray"], [{"source": "x.md"}])
    with store.records.transaction() as db:
        if settings.database_url:
            db.execute("DELETE FROM postings WHERE chunk IN (SELECT rowid FROM chunks WHERE source = 'b.md')")
        else:
            db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE source = 'b.md')")
    drift = store.verify()
    assert drift.vectors_without_record == ["f" * 32]
    assert drift.records_without_vector == sorted(lost)
    assert drift.keyword_index > 0
    assert store.records.keyword_search("zebras", 5) == []
    report = ingest(settings)
    assert report.updated == ["a.md"]  # re-embedded because its vectors were lost
    assert store.verify().ok
    assert_stores_agree(store)
    assert store.records.keyword_search("zebras", 5)


def test_removing_one_copy_keeps_the_other_answerable(settings: Settings) -> None:
    """Two copies of one story: answers cite one and list the other; delete either and the rest still answers."""
    from rag.api import answer

    shutil.copy(SEED_ARTICLE, settings.corpus_dir / "a-copy.md")
    edited = SEED_ARTICLE.read_text(encoding="utf-8").replace("stepping down", "stepping aside", 1)
    (settings.corpus_dir / "b-copy.md").write_text(edited, encoding="utf-8")
    report = ingest(settings)
    assert report.copy_groups == 1
    store = open_store(settings)
    assert store.records.copy_groups() == [["a-copy.md", "b-copy.md"]]
    result = answer("Why did Krause resign?", settings=settings, store=store)
    assert not result.refused
    assert {c.source for c in result.citations} in ({"a-copy.md"}, {"b-copy.md"})
    cited = result.citations[0]
    assert cited.also_in == (({"a-copy.md", "b-copy.md"} - {cited.source}).pop(),)
    assert len({p.source for p in result.passages}) == 1  # chunks of the other copy are not shown again

    (settings.corpus_dir / cited.source).unlink()
    report = ingest(settings)
    assert report.removed == [cited.source] and report.copy_groups == 0
    store.refresh_if_stale()
    again = answer("Why did Krause resign?", settings=settings, store=store)
    assert not again.refused
    assert {c.source for c in again.citations} == {cited.also_in[0]}
    assert all(not c.also_in for c in again.citations)
