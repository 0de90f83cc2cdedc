"""`rag copy-index`: an index copied elsewhere (another data dir, PostgreSQL, a Chroma server) answers
as the source does, without embedding anything again; a target that is not empty is left alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.synth import write_corpus
from ingest.copy import copy_index
from ingest.feeds import add_feed, saved_feeds
from ingest.indexer import ingest
from rag.api import answer
from rag.cli import app
from rag.config import Settings
from rag.errors import CopyTargetError
from rag.store import BACKEND_KEY, Store, open_store
from tests.conftest import CHROMA_URL, SEED_ARTICLE, new_settings, postgres_schema, skip_or_fail

QUESTIONS = ["Why did Krause resign?", "What penalties apply to improper disclosure of IRS data?"]


@pytest.fixture
def source(tmp_path: Path) -> Settings:
    """An embedded index of the seed article and a few dozen synthetic ones, two of them copies."""
    settings = new_settings(tmp_path / "source")
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    write_corpus(settings.corpus_dir, 30, seed=5)
    shutil.copy(SEED_ARTICLE, settings.corpus_dir / "seed-copy.md")
    ingest(settings)
    return settings


def assert_same_index(a: Store, b: Store) -> None:
    assert a.records.counts() == b.records.counts()
    ids = sorted(a.records.all_chunk_ids())
    assert sorted(b.records.all_chunk_ids()) == ids
    assert a.records.chunks_by_id(ids) == b.records.chunks_by_id(ids)
    va, vb = a.vectors_of(ids), b.vectors_of(ids)
    # the same vectors, to the last bits: Chroma normalises a cosine collection's vectors as it stores them
    assert all(np.allclose(va[i], vb[i], rtol=0, atol=1e-6) for i in ids)
    assert a.records.copy_groups() == b.records.copy_groups() != []
    assert a.records.signatures() == b.records.signatures()
    for question in QUESTIONS:
        assert a.records.keyword_search(question, 10) == b.records.keyword_search(question, 10)
    assert b.verify().ok


def assert_same_answers(source: Settings, target: Settings) -> None:
    for question in QUESTIONS:
        want, got = answer(question, settings=source), answer(question, settings=target)
        assert not got.refused
        assert got.text == want.text
        spans = [(c.source, c.start, c.end) for c in got.citations]
        assert spans == [(c.source, c.start, c.end) for c in want.citations]


def test_a_copy_to_another_data_dir_answers_as_the_source(source: Settings, tmp_path: Path) -> None:
    add_feed(open_store(source).records, "https://news.example/feed.xml")
    target = new_settings(tmp_path / "target")
    report = copy_index(source, target)
    articles, chunks = open_store(source).records.counts()
    assert (report.articles, report.chunks, report.vectors, report.left_out) == (articles, chunks, chunks, [])
    assert_same_index(open_store(source), open_store(target))
    assert_same_answers(source, target)
    for key in ("last_ingest", BACKEND_KEY):
        assert open_store(target).records.get_meta(key) == open_store(source).records.get_meta(key) is not None
    assert saved_feeds(open_store(target).records) == saved_feeds(open_store(source).records) != []


def test_a_target_that_is_not_empty_is_left_alone_without_replace(source: Settings, tmp_path: Path) -> None:
    target = new_settings(tmp_path / "target")
    shutil.copy(SEED_ARTICLE, target.corpus_dir)
    ingest(target)
    before = open_store(target).records.counts()
    with pytest.raises(CopyTargetError, match=r"is not empty \(1 articles, 4 vectors .*\); pass --replace"):
        copy_index(source, target)
    assert open_store(target).records.counts() == before
    assert open_store(target).verify().ok
    copy_index(source, target, replace=True)
    assert_same_index(open_store(source), open_store(target))


def test_a_collection_holding_vectors_is_left_alone_even_with_empty_records(source: Settings, tmp_path: Path) -> None:
    """A collection another index fills (its records kept elsewhere) is not overwritten without --replace."""
    target = new_settings(tmp_path / "target")
    shutil.copy(SEED_ARTICLE, target.corpus_dir)
    ingest(target)
    store = open_store(target)
    store.records.reset()  # records gone, the 4 vectors still in the collection
    with pytest.raises(CopyTargetError, match=r"\(0 articles, 4 vectors in collection"):
        copy_index(source, target)
    assert store.collection.count() == 4


def test_the_source_itself_is_refused(source: Settings) -> None:
    with pytest.raises(CopyTargetError, match="the target's records are the source's"):
        copy_index(source, source.with_overrides(collection="other"))
    assert open_store(source).verify().ok


def test_an_unreachable_target_or_an_empty_source_is_one_line_naming_the_option(
    source: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"RAG_CORPUS_DIR": str(source.corpus_dir), "RAG_DATA_DIR": str(source.data_dir)}
    env["RAG_COLLECTION"] = source.collection
    down = runner.invoke(app, ["copy-index", "--to-chroma-url", "http://127.0.0.1:1"], env=env)
    assert down.exit_code == 1
    assert down.output.startswith("error: the target: cannot open the Chroma store at http://127.0.0.1:1")
    assert down.output.count("\n") == 1 and "check --to-chroma-url" in down.output
    empty = {**env, "RAG_DATA_DIR": str(tmp_path / "empty")}
    nothing = runner.invoke(app, ["copy-index", "--to-data-dir", str(tmp_path / "target")], env=empty)
    assert nothing.exit_code == 1 and "to copy; run `rag ingest` first" in nothing.output
    assert open_store(source).verify().ok


def test_articles_whose_vectors_are_missing_are_left_out(source: Settings, tmp_path: Path) -> None:
    store = open_store(source)
    lost = store.records.chunk_ids_of([SEED_ARTICLE.name])[:1]
    store.delete_vectors(lost)
    target = new_settings(tmp_path / "target")
    report = copy_index(source, target)
    assert report.left_out == [SEED_ARTICLE.name]
    assert "run `rag ingest`, then copy again" in report.summary()
    copied = open_store(target)
    assert copied.verify().ok  # the target holds only complete articles
    assert SEED_ARTICLE.name not in {a.source for a in copied.records.articles()}


def test_the_command_copies_and_says_what_it_did(source: Settings, tmp_path: Path) -> None:
    target = tmp_path / "target-data"
    env = {"RAG_CORPUS_DIR": str(source.corpus_dir), "RAG_DATA_DIR": str(source.data_dir)}
    env["RAG_COLLECTION"] = source.collection
    runner = CliRunner()
    result = runner.invoke(app, ["copy-index", "--to-data-dir", str(target)], env=env)
    assert result.exit_code == 0, result.output
    articles, chunks = open_store(source).records.counts()
    assert f"copied {articles} articles, {chunks} chunks ({chunks} vectors)" in result.output
    again = runner.invoke(app, ["copy-index", "--to-data-dir", str(target)], env=env)
    assert again.exit_code == 1
    assert again.output.count("\n") == 1 and "pass --replace to overwrite it" in again.output


def test_a_copy_to_postgresql_and_a_chroma_server_answers_as_the_source(source: Settings) -> None:
    if not CHROMA_URL:
        skip_or_fail("no Chroma server for the copy test; start one with scripts/services.sh")
    with postgres_schema() as url:
        records_only = source.with_overrides(database_url=url)  # vectors stay in the source's collection
        report = copy_index(source, records_only)
        assert report.vectors == 0 and "vectors shared with the source" in report.summary()
        assert_same_index(open_store(source), open_store(records_only))
        assert_same_answers(source, records_only)
        shared = records_only.with_overrides(chroma_url=CHROMA_URL)
        report = copy_index(source, shared, replace=True)
        assert report.vectors == open_store(source).records.counts()[1]
        assert_same_index(open_store(source), open_store(shared))
        assert_same_answers(source, shared)
        open_store(shared).drop()
