"""Settings: every knob in one dataclass, read from the environment in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import ConfigError

DEFAULT_COLLECTION = "newsrag"


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Build it with `Settings.from_env()`; pass it down, never re-read env."""

    corpus_dir: Path = Path("corpus")
    """RAG_CORPUS_DIR: the folder of articles (.md, .txt)."""
    data_dir: Path = Path(".rag")
    """RAG_DATA_DIR: all on-disk state (Chroma, keyword index, records)."""
    chroma_url: str | None = None
    """RAG_CHROMA_URL: use a Chroma server (http://host:port) instead of the embedded store."""
    database_url: str | None = field(default=None, repr=False)
    """RAG_DATABASE_URL: keep the records and keyword index in PostgreSQL (postgresql://...) instead of SQLite."""
    collection: str = DEFAULT_COLLECTION
    """RAG_COLLECTION: the Chroma collection name."""
    top_k: int = 4
    """RAG_TOP_K: passages retrieved per question."""
    chunk_tokens: int = 160
    """RAG_CHUNK_TOKENS: upper bound of a chunk's length in embedder tokens (title header included)."""
    min_score: float | None = None
    """RAG_MIN_SCORE: the best passage's cosine similarity below which the question is refused
    (unless one passage holds every name the question names: see `rag.refusal.is_covered`); unset,
    the threshold fitted with the sentence selector (`rag.answering.selection.SelectorModel.min_score`)."""
    max_question_chars: int = 1000
    """RAG_MAX_QUESTION_CHARS: longer questions are truncated, with a note."""
    max_file_bytes: int = 5 * 1024 * 1024
    """RAG_MAX_FILE_BYTES: larger corpus files are skipped with a warning."""
    fetch_timeout: float = 20.0
    """RAG_FETCH_TIMEOUT: seconds to wait for a web page given to `rag ingest URL`."""
    feed_interval: float = 15.0
    """RAG_FEED_INTERVAL: minutes between polls of the saved feeds under `--watch`."""
    feed_pause: float = 1.0
    """RAG_FEED_PAUSE: seconds between two requests to the same host when taking a feed's entries."""
    ingest_batch: int = 1024
    """RAG_INGEST_BATCH: chunks embedded and committed per step of an ingest (a killed ingest loses at most one)."""
    llm: str = "extractive"
    """RAG_LLM: the answerer: extractive, openai:<model>, llamacpp:<path.gguf> or local."""
    llm_base_url: str | None = None
    """RAG_LLM_BASE_URL: an OpenAI-compatible server's base URL (default: OpenAI's)."""
    llm_api_key: str | None = field(default=None, repr=False)
    """RAG_LLM_API_KEY, else OPENAI_API_KEY: the server's key; never printed."""
    llm_timeout: float = 60.0
    """RAG_LLM_TIMEOUT: seconds before an LLM call gives up and the extractive answer is used."""
    llm_max_tokens: int = 256
    """RAG_LLM_MAX_TOKENS: longest generated answer, in tokens."""
    ui_host: str = "127.0.0.1"
    """RAG_UI_HOST: the address the chat binds; another host only when asked."""
    ui_port: int = 7860
    """RAG_UI_PORT: the chat's port."""
    ui_auth: str | None = field(default=None, repr=False)
    """RAG_UI_AUTH: `user:password` turns on the chat's login; never printed."""
    api_port: int = 8000
    """RAG_API_PORT: the port of `rag serve` (the OpenAI-compatible chat API); it binds RAG_UI_HOST."""
    api_key: str | None = field(default=None, repr=False)
    """RAG_API_KEY: when set, `rag serve` wants `Authorization: Bearer <key>`; never printed."""
    mcp: bool = False
    """RAG_MCP=1: `rag serve` also serves the MCP tools `ask` and `search` at /mcp/."""
    rate_limit: int = 0
    """RAG_RATE_LIMIT: requests a minute `rag serve` takes per API key (else per client address); 0 = no limit."""
    embed_backend: str = "onnx"
    """RAG_EMBED_BACKEND: `onnx` (int8, the default) or `torch` (the weights as shipped) runs the bundled MiniLM."""
    threads: int = 0
    """RAG_THREADS: CPU threads each process gives the MiniLM encoders; 0 = one per core."""
    examples: tuple[str, ...] = ()
    """RAG_EXAMPLES: example questions under the chat, separated by `|` (else `examples.txt` in the data dir)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: the process environment)."""
        env = os.environ if env is None else env
        d = cls()
        return cls(
            corpus_dir=Path(env.get("RAG_CORPUS_DIR") or d.corpus_dir),
            data_dir=Path(env.get("RAG_DATA_DIR") or d.data_dir),
            chroma_url=env.get("RAG_CHROMA_URL") or None,
            database_url=env.get("RAG_DATABASE_URL") or None,
            collection=env.get("RAG_COLLECTION") or d.collection,
            top_k=_int(env, "RAG_TOP_K", d.top_k, minimum=1),
            chunk_tokens=_int(env, "RAG_CHUNK_TOKENS", d.chunk_tokens, minimum=32),
            min_score=_float(env, "RAG_MIN_SCORE", 0.0) if env.get("RAG_MIN_SCORE") else d.min_score,
            max_question_chars=_int(env, "RAG_MAX_QUESTION_CHARS", d.max_question_chars, minimum=10),
            max_file_bytes=_int(env, "RAG_MAX_FILE_BYTES", d.max_file_bytes, minimum=1),
            fetch_timeout=_float(env, "RAG_FETCH_TIMEOUT", d.fetch_timeout),
            feed_interval=_positive(env, "RAG_FEED_INTERVAL", d.feed_interval),
            feed_pause=_float(env, "RAG_FEED_PAUSE", d.feed_pause),
            ingest_batch=_int(env, "RAG_INGEST_BATCH", d.ingest_batch, minimum=1),
            llm=env.get("RAG_LLM") or d.llm,
            llm_base_url=env.get("RAG_LLM_BASE_URL") or None,
            llm_api_key=env.get("RAG_LLM_API_KEY") or env.get("OPENAI_API_KEY") or None,
            llm_timeout=_float(env, "RAG_LLM_TIMEOUT", d.llm_timeout),
            llm_max_tokens=_int(env, "RAG_LLM_MAX_TOKENS", d.llm_max_tokens, minimum=16),
            ui_host=env.get("RAG_UI_HOST") or d.ui_host,
            ui_port=_int(env, "RAG_UI_PORT", d.ui_port, minimum=1),
            ui_auth=_auth(env.get("RAG_UI_AUTH")),
            api_port=_int(env, "RAG_API_PORT", d.api_port, minimum=1),
            api_key=env.get("RAG_API_KEY") or None,
            mcp=_flag(env, "RAG_MCP"),
            rate_limit=_int(env, "RAG_RATE_LIMIT", d.rate_limit, minimum=0),
            embed_backend=env.get("RAG_EMBED_BACKEND") or d.embed_backend,
            threads=_int(env, "RAG_THREADS", d.threads, minimum=0),
            examples=tuple(q.strip() for q in (env.get("RAG_EXAMPLES") or "").split("|") if q.strip()),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set it to an integer >= {minimum}") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is too small; set it to an integer >= {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to e.g. 0.3") from None


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name}={value:g} must be above 0; set it to e.g. {default:g}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not a yes/no value; set it to 1 or 0")


def _auth(raw: str | None) -> str | None:
    if not raw:
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ConfigError("RAG_UI_AUTH must look like user:password")
    return raw
