"""The same index and answers through a real `chroma run` server (RAG_CHROMA_URL)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.indexer import ingest
from rag.api import answer
from rag.cli import app
from rag.config import Settings
from rag.evaluation import evaluate, load_eval_set
from rag.store import open_store
from tests.conftest import SEED_ARTICLE, SEED_FACTS_FLOOR, DevIndex, new_settings, skip_or_fail
from tests.servers import free_port, wait_for_http


def chroma_command() -> Path:
    path = Path(sys.executable).parent / "chroma"
    if not path.exists():
        skip_or_fail(f"no chroma command beside {sys.executable}")
    return path


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [str(chroma_command()), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/v2/heartbeat", proc, "chroma run", timeout=60)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_server_store_gives_the_same_eval_figures(
    chroma_server: str, dev_index: DevIndex, tmp_path: Path, shared_dir: Path
) -> None:
    settings = new_settings(tmp_path, chroma_url=chroma_server)
    for source in dev_index.bodies:
        shutil.copy(dev_index.settings.corpus_dir / source, settings.corpus_dir)
    report = ingest(settings)
    assert len(report.added) == len(dev_index.bodies)
    store = open_store(settings)
    assert store.verify().ok
    items = load_eval_set(shared_dir / "eval" / "dev_set.jsonl")

    def figures(s: Settings) -> dict:
        st = open_store(s)
        overall = evaluate(items, lambda q: answer(q, settings=s, store=st), st.records).overall()
        return {k: v for k, v in overall.items() if not k.startswith("latency")}

    served, embedded = figures(settings), figures(dev_index.settings)
    assert served == embedded
    assert served["fact_accuracy"] >= SEED_FACTS_FLOOR and served["citation_validity"] == 1.0


def test_stopped_server_is_a_one_line_error(tmp_path: Path) -> None:
    settings = new_settings(tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    env = {
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_CHROMA_URL": settings.chroma_url or "",
        "RAG_COLLECTION": settings.collection,
    }
    for args in (["ingest"], ["ask", "Why did Krause resign?"]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot ")
        assert "Chroma" in lines[0] and "Traceback" not in result.output
