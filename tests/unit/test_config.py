from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ConfigError


def test_defaults_when_environment_is_empty() -> None:
    s = Settings.from_env({})
    assert s.corpus_dir == Path("corpus")
    assert s.data_dir == Path(".rag")
    assert s.chroma_url is None
    assert s.llm == "extractive"
    assert s.top_k == 4


def test_environment_overrides() -> None:
    s = Settings.from_env(
        {
            "RAG_DATA_DIR": "/tmp/x",
            "RAG_CORPUS_DIR": "news",
            "RAG_TOP_K": "7",
            "RAG_MIN_SCORE": "0.5",
            "RAG_CHROMA_URL": "http://127.0.0.1:8000",
        }
    )
    assert (s.data_dir, s.corpus_dir, s.top_k, s.min_score) == (Path("/tmp/x"), Path("news"), 7, 0.5)
    assert s.chroma_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("name", "value"), [("RAG_TOP_K", "many"), ("RAG_TOP_K", "0"), ("RAG_MIN_SCORE", "high"), ("RAG_CHUNK_TOKENS", "8")]
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
