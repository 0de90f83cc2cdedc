"""The two embedder backends: the int8 ONNX export agrees with PyTorch, is cached, and an index
says which one built it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.chunker import chunk_article
from ingest.indexer import ingest
from ingest.loader import load_articles
from rag.answering.reranker import Reranker, pair_text
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import ConfigError
from rag.onnx_models import cached_model
from rag.store import BACKEND_KEY, open_store
from tests.conftest import REPO, SEED_ARTICLE, new_settings

QUESTIONS = [
    "Why did Krause resign?",
    "Who replaced the IRS commissioner?",
    "What did the data-sharing plan with ICE allow?",
    "How much will the new bridge cost?",
]


@pytest.fixture(scope="module")
def backends() -> dict[str, Embedder]:
    return {"onnx": Embedder("onnx"), "torch": Embedder("torch")}


@pytest.fixture(scope="module")
def seed_chunks(backends: dict[str, Embedder]) -> list[str]:
    articles, _ = load_articles([SEED_ARTICLE], SEED_ARTICLE.parent, max_bytes=10_000_000)
    return [c.text for c in chunk_article(articles[0], backends["torch"].count_tokens, 256)]


def test_onnx_vectors_agree_with_pytorch(backends: dict[str, Embedder], seed_chunks: list[str]) -> None:
    texts = seed_chunks + QUESTIONS
    onnx, torch = backends["onnx"].embed(texts), backends["torch"].embed(texts)
    assert onnx.shape == torch.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-4)
    cosines = (onnx * torch).sum(axis=1)
    assert cosines.mean() >= 0.99, cosines
    assert cosines.min() >= 0.97, cosines
    # Batching by length must not mix up the order: each text is nearest its own PyTorch vector.
    assert list((onnx @ torch.T).argmax(axis=1)) == list(range(len(texts)))


def test_both_backends_count_the_same_tokens(backends: dict[str, Embedder], seed_chunks: list[str]) -> None:
    long_text = " ".join(seed_chunks) * 2  # past the model's 256 tokens: counting must not truncate
    texts = [*seed_chunks, long_text, ""]
    counts = backends["onnx"].count_tokens(texts)
    assert counts == backends["torch"].count_tokens(texts)
    assert counts[-2] > 512 and counts[-1] == 2
    assert backends["onnx"].max_tokens == backends["torch"].max_tokens == 256


def test_onnx_reranker_ranks_like_pytorch() -> None:
    articles, _ = load_articles([SEED_ARTICLE], SEED_ARTICLE.parent, max_bytes=10_000_000)
    title = articles[0].title
    sentences = [pair_text(title, s) for s in articles[0].body.split(". ")[:12]]
    onnx, torch = Reranker(backend="onnx"), Reranker(backend="torch")
    for question in QUESTIONS[:3]:
        a, b = onnx.score(question, sentences), torch.score(question, sentences)
        assert a.shape == b.shape == (len(sentences),)
        assert np.corrcoef(a, b)[0, 1] >= 0.98, (question, a, b)
        assert int(a.argmax()) == int(b.argmax()), question
    assert onnx.score("anything", []).shape == (0,)


def test_the_export_is_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "cache"))
    built = []

    def build() -> torch.nn.Module:
        built.append(1)
        return _tiny_encoder()

    first = cached_model("tiny", "k1", build)
    assert first.exists() and first.parent == tmp_path / "cache"
    stamp = first.stat().st_mtime_ns
    again = cached_model("tiny", "k1", build)
    assert again == first and again.stat().st_mtime_ns == stamp and len(built) == 1
    assert cached_model("tiny", "k2", build) != first and len(built) == 2  # a new key exports afresh
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]  # no staging left behind


def test_an_unwritable_cache_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RAG_MODEL_CACHE", str(blocker / "cache"))
    with pytest.raises(ConfigError, match="RAG_MODEL_CACHE"):
        cached_model("tiny", "k1", _tiny_encoder)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ConfigError, match="RAG_EMBED_BACKEND"):
        Embedder("tensorflow")
    env = {**os.environ, "RAG_EMBED_BACKEND": "tensorflow"}
    proc = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "anything"], env=env, capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "error: RAG_EMBED_BACKEND='tensorflow' is not known; use one of: onnx, torch"
    ]


def test_the_index_records_its_backend_and_status_tells_a_mismatch(tmp_path: Path) -> None:
    settings = new_settings(tmp_path)
    (settings.corpus_dir / SEED_ARTICLE.name).write_bytes(SEED_ARTICLE.read_bytes())
    ingest(settings, embedder=Embedder("onnx"))
    assert open_store(settings).records.get_meta(BACKEND_KEY) == "onnx-int8"

    def status(backend: str) -> str:
        env = {**os.environ, **_env(settings), "RAG_EMBED_BACKEND": backend}
        proc = subprocess.run(
            [sys.executable, "-m", "rag", "status"], env=env, capture_output=True, text=True, cwd=REPO, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "on onnx-int8" in status("onnx") and "note:" not in status("onnx")
    told = status("torch")
    assert "embedded by onnx-int8, this process embeds with torch-fp32" in told
    assert "rag ingest --rebuild" in told
    # Asking still works across backends (the vectors are close); a rebuild re-embeds alike.
    env = {**os.environ, **_env(settings), "RAG_EMBED_BACKEND": "torch"}
    asked = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "Why did Krause resign?"], env=env, capture_output=True, text=True,
        cwd=REPO, timeout=120,
    )  # fmt: skip
    assert asked.returncode == 0 and "Krause" in asked.stdout, asked.stderr
    assert asked.stderr.strip().splitlines()[-1].startswith("note: the index was embedded by onnx-int8")
    ingest(settings, rebuild=True, embedder=Embedder("torch"))
    assert open_store(settings).records.get_meta(BACKEND_KEY) == "torch-fp32"
    assert "note:" not in status("torch")


def test_an_index_of_two_backends_says_both(tmp_path: Path) -> None:
    settings = new_settings(tmp_path)
    (settings.corpus_dir / SEED_ARTICLE.name).write_bytes(SEED_ARTICLE.read_bytes())
    ingest(settings, embedder=Embedder("torch"))
    (settings.corpus_dir / "second.md").write_text("# Second\n\nThe council approved the budget on Monday.\n")
    ingest(settings, embedder=Embedder("onnx"))
    store = open_store(settings)
    assert store.records.get_meta(BACKEND_KEY) == "onnx-int8, torch-fp32"
    assert "rag ingest --rebuild" in (store.backend_note("onnx-int8") or "")


def _env(settings: Settings) -> dict[str, str]:
    return {
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_COLLECTION": settings.collection,
    }


def _tiny_encoder():  # type: ignore[no-untyped-def]
    """A two-layer stand-in with the encoders' inputs and output, quick to export."""
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(30522, 384)
            self.dense = torch.nn.Linear(384, 384)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.embed(input_ids) * attention_mask.unsqueeze(-1) + token_type_ids.unsqueeze(-1)
            return self.dense(hidden)

    return Tiny()
