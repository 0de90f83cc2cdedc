"""Scale out: two `rag chat` servers and an ingest worker over one Chroma server and one PostgreSQL.

The services are the ones `scripts/services.sh` starts (RAG_TEST_CHROMA_URL, RAG_TEST_DATABASE_URL);
each test works in a schema and a collection of its own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.synth import write_corpus
from rag.config import Settings
from tests.chat_processes import TRAM, TRAM_QUESTION, ask, askers, chat_server, cites, env_for, rag_ingest
from tests.conftest import CHROMA_URL, REPO, SEED_ARTICLE, new_settings, postgres_schema, skip_or_fail
from tests.servers import free_port

ASKED = ["Why did Krause resign?", "Who is Melanie Krause?", TRAM_QUESTION]


@pytest.fixture
def shared_index(tmp_path: Path) -> Iterator[Settings]:
    """Settings of an ingest worker whose index lives in the shared Chroma server and PostgreSQL."""
    if not CHROMA_URL:
        skip_or_fail("no Chroma server for the scale-out tests; start one with scripts/services.sh")
    try:
        httpx.get(f"{CHROMA_URL}/api/v2/heartbeat", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        skip_or_fail(f"the Chroma server at RAG_TEST_CHROMA_URL is not reachable ({exc})")
    with postgres_schema() as url:
        settings = new_settings(tmp_path / "worker", database_url=url, chroma_url=CHROMA_URL)
        yield settings
        import chromadb

        host, port = str(CHROMA_URL).removeprefix("http://").split(":")
        client = chromadb.HttpClient(host=host, port=int(port))
        if settings.collection in [c.name for c in client.list_collections()]:
            client.delete_collection(settings.collection)


def chat_settings(index: Settings, root: Path) -> Settings:
    """A chat server's settings: the shared index, and an empty corpus and data dir of its own."""
    return new_settings(root, database_url=index.database_url, chroma_url=index.chroma_url, collection=index.collection)


def test_two_chat_servers_answer_during_an_ingest_and_see_it_at_once(
    shared_index: Settings, tmp_path: Path, shared_dir: Path
) -> None:
    worker = shared_index.with_overrides(ingest_batch=16)  # many commits: readers meet a moving index
    shutil.copy(SEED_ARTICLE, worker.corpus_dir)
    for path in sorted((shared_dir / "articles").glob("*.md")):
        shutil.copy(path, worker.corpus_dir)
    rag_ingest(worker)

    with (
        chat_server(chat_settings(worker, tmp_path / "chat1")) as one,
        chat_server(chat_settings(worker, tmp_path / "chat2")) as two,
    ):
        assert not cites(ask(one, TRAM_QUESTION), "tram.md")
        (worker.corpus_dir / "tram.md").write_text(TRAM, encoding="utf-8")
        write_corpus(worker.corpus_dir / "more", 30, seed=5)
        with askers(one, 2, ASKED) as asked_one, askers(two, 2, ASKED) as asked_two:
            time.sleep(2)
            before = len(asked_one["answers"]) + len(asked_two["answers"])
            ingest = subprocess.run(
                [sys.executable, "-m", "rag", "ingest"],
                env={**env_for(worker), "RAG_INGEST_BATCH": "16"},
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=600,
            )
            during = len(asked_one["answers"]) + len(asked_two["answers"]) - before
            # As soon as the ingest has committed, both servers answer from it: no restart, no wait.
            for url in (one, two):
                result = ask(url, TRAM_QUESTION)
                assert cites(result, "tram.md"), result
                assert "twelve-minute" in result["answer"] or "rota" in result["answer"]
        assert ingest.returncode == 0, ingest.stderr
        assert "31 added" in ingest.stdout, ingest.stdout
        assert asked_one["errors"] == [] and asked_two["errors"] == []
        assert during >= 6, f"only {during} questions were answered while the ingest ran"


def test_a_second_worker_waits_for_the_first(shared_index: Settings, tmp_path: Path) -> None:
    """The ingest lock is PostgreSQL's, so it holds across machines, not just within one data dir."""
    from rag.records import open_records

    shutil.copy(SEED_ARTICLE, shared_index.corpus_dir)
    elsewhere = chat_settings(shared_index, tmp_path / "other-machine")
    holder = open_records(shared_index)
    with holder.ingest_lock():
        proc = subprocess.run(
            [sys.executable, "-m", "rag", "ingest"], env=env_for(elsewhere), cwd=REPO, capture_output=True, text=True
        )
    holder.close()
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: another ingest is running on {holder.location}; wait for it to finish"
    ], proc.stderr


def test_database_down_is_a_one_line_error_and_loses_nothing(tmp_path: Path) -> None:
    settings = new_settings(tmp_path, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/newsrag")
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    before = sorted(p.read_bytes() for p in settings.corpus_dir.iterdir())
    for args in (["ingest"], ["ask", "Why did Krause resign?"], ["status"]):
        proc = subprocess.run(
            [sys.executable, "-m", "rag", *args], env=env_for(settings), cwd=REPO, capture_output=True, text=True
        )
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot reach PostgreSQL at 127.0.0.1" in lines[0], (args, proc.stderr)
        assert "start it or unset RAG_DATABASE_URL" in lines[0]
        assert "Traceback" not in proc.stderr
    assert sorted(p.read_bytes() for p in settings.corpus_dir.iterdir()) == before
