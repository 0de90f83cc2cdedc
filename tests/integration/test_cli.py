"""The `rag` command: output, JSON schema, exit codes, and `rag eval` on the dev set."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.config import Settings
from tests.conftest import REPO, SEED_ARTICLE, SEED_FACTS_FLOOR, DevIndex

runner = CliRunner()


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_COLLECTION": settings.collection,
    }


def test_ask_json_schema(dev_index: DevIndex) -> None:
    result = runner.invoke(app, ["ask", "Why did Krause resign?", "--json", "-k", "3"], env=env_for(dev_index.settings))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"question", "answer", "refused", "backend", "notes", "citations", "passages"}
    assert data["refused"] is False
    assert len(data["passages"]) == 3
    for c in data["citations"]:
        assert set(c) == {"number", "source", "title", "quote", "start", "end", "score", "published"}
        assert dev_index.bodies[c["source"]][c["start"] : c["end"]] == c["quote"]
        assert f"[{c['number']}]" in data["answer"]


def test_ask_prints_answer_then_sources(dev_index: DevIndex) -> None:
    result = runner.invoke(app, ["ask", "Why did Krause resign?"], env=env_for(dev_index.settings))
    assert result.exit_code == 0
    answer_line, rest = result.stdout.split("\n\nSources:\n", 1)
    assert "[1]" in answer_line
    assert rest.startswith("[1] ")


def test_refusal_is_a_success(dev_index: DevIndex) -> None:
    result = runner.invoke(app, ["ask", "What is the recipe for pancakes?"], env=env_for(dev_index.settings))
    assert result.exit_code == 0
    assert "do not cover" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ask", "  "], 1, "question is empty"),
        (["ask"], 2, "Missing argument"),
        (["ask", "q", "-k", "0"], 2, "Invalid value"),
        (["frobnicate"], 2, "No such command"),
        (["eval", "/nonexistent/set.jsonl"], 1, "does not exist"),
        (["ingest", "/nonexistent/file.md"], 1, "does not exist"),
    ],
)
def test_exit_codes(settings: Settings, args: list[str], code: int, message: str) -> None:
    result = runner.invoke(app, args, env=env_for(settings))
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_setting_is_a_one_line_error(settings: Settings) -> None:
    result = runner.invoke(app, ["ask", "Why?"], env={**env_for(settings), "RAG_TOP_K": "lots"})
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: RAG_TOP_K='lots' is not a whole number; set it to an integer >= 1"


def test_ask_on_empty_corpus_says_to_add_articles(settings: Settings) -> None:
    result = runner.invoke(app, ["ask", "Why did Krause resign?"], env=env_for(settings))
    assert result.exit_code == 1
    assert "add .md or .txt files" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_ingest_summary_and_status(settings: Settings, write_article) -> None:
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    shutil.copy(SEED_ARTICLE, settings.corpus_dir / "wire-copy.md")
    (settings.corpus_dir / "broken.txt").write_bytes(b"\xff\xfe\x00")
    (settings.corpus_dir / "cafe.txt").write_bytes(
        "Caf\u00e9 prices\n\nA cr\u00e8me br\u00fbl\u00e9e costs \u00a34.".encode("cp1252")
    )
    env = env_for(settings)
    first = runner.invoke(app, ["ingest"], env=env)
    assert first.exit_code == 0
    summary = first.stdout.strip()
    assert summary.startswith("3 added, 0 updated, 0 unchanged, 0 removed, 1 skipped")
    assert "1 groups of near-duplicate articles" in summary
    assert "decoded cafe.txt as cp1252" in summary
    assert "skipped broken.txt: binary file" in first.stderr
    second = runner.invoke(app, ["ingest"], env=env)
    assert second.stdout.strip().startswith("0 added, 0 updated, 3 unchanged, 0 removed, 1 skipped (0 chunks embedded)")
    status = runner.invoke(app, ["status"], env=env)
    assert status.exit_code == 0
    assert "articles:    3" in status.stdout
    assert "all-MiniLM-L6-v2" in status.stdout
    assert "duplicates:  1 groups of near-duplicate articles (2 articles)" in status.stdout
    assert "not UTF-8:   1 decoded: cafe.txt (cp1252)" in status.stdout


def test_eval_on_dev_set_meets_the_bar(dev_index: DevIndex, shared_dir: Path) -> None:
    result = runner.invoke(
        app, ["eval", str(shared_dir / "eval" / "dev_set.jsonl"), "--json"], env=env_for(dev_index.settings)
    )
    assert result.exit_code == 0, result.output
    overall = json.loads(result.stdout)["overall"]
    assert overall["questions"] == 12
    assert overall["fact_accuracy"] >= SEED_FACTS_FLOOR
    assert overall["citation_validity"] == 1.0
    assert overall["refusal_recall"] == 1.0
    assert overall["support"] >= SEED_FACTS_FLOOR
    assert overall["hit_at_4"] == 1.0


def test_installed_command_runs_as_a_process(dev_index: DevIndex) -> None:
    """The real entry point, `python -m rag`, in a fresh process."""
    env = {**os.environ, **env_for(dev_index.settings)}
    proc = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "Why did Krause resign?", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "Acting IRS Commissioner" in data["answer"]
    assert proc.stderr == ""
