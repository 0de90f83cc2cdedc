"""The public Python API: `answer(question) -> Answer`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rag.answering.extractive import extract_answer
from rag.config import Settings
from rag.embeddings import Embedder, get_embedder
from rag.errors import ConfigError, IndexMissingError
from rag.models import Answer, Citation, SourcePassage
from rag.refusal import is_covered
from rag.retrieval import Passage, retrieve
from rag.store import Store, open_store
from rag.text import clean_question, keyword_terms

log = logging.getLogger(__name__)

EMPTY_QUESTION = "Please type a question about the news articles."
NOT_COVERED = "The indexed articles do not cover this question."
ANSWERERS = ("extractive",)
_FOLLOW_UP_WORDS = frozenset(
    ["it", "its", "they", "them", "their", "he", "him", "his", "she", "her", "this", "that", "these", "those", "there"]
)

History = Sequence[Any]
"""Earlier turns: (user, assistant) pairs, or {"role", "content"} messages."""

__all__ = ["Answer", "Citation", "SourcePassage", "answer"]


def answer(
    question: str,
    *,
    history: History | None = None,
    settings: Settings | None = None,
    k: int | None = None,
    store: Store | None = None,
    embedder: Embedder | None = None,
) -> Answer:
    """Answer a question from the indexed articles, citing verbatim passages.

    With no index yet, the corpus dir is indexed first. A question the articles do not cover gets
    `refused=True` and a plain sentence saying so.
    """
    settings = settings or Settings.from_env()
    if settings.llm not in ANSWERERS:
        raise ConfigError(f"RAG_LLM={settings.llm!r} is not available; valid values: {', '.join(ANSWERERS)}")
    cleaned = clean_question(question)
    if not cleaned:
        return Answer(question=question, text=EMPTY_QUESTION, refused=True, notes=["empty question"])
    notes: list[str] = []
    if len(cleaned) > settings.max_question_chars:
        cleaned = cleaned[: settings.max_question_chars]
        notes.append(f"question truncated to its first {settings.max_question_chars} characters")
    store = store or open_store(settings)
    ensure_index(settings, store)
    embedder = embedder or get_embedder()
    query = retrieval_query(cleaned, history)
    query_vector = embedder.embed_one(query)
    passages = retrieve(store, query, query_vector, k or settings.top_k)
    shown = [_source_passage(p) for p in passages]
    if not is_covered(cleaned, passages, settings.min_score):
        return Answer(question=question, text=NOT_COVERED, refused=True, passages=shown, notes=notes)
    extract = extract_answer(cleaned, query_vector, passages, embedder, store.records.body)
    if not extract.citations:
        return Answer(question=question, text=NOT_COVERED, refused=True, passages=shown, notes=notes)
    return Answer(question=question, text=extract.text, citations=extract.citations, passages=shown, notes=notes)


def ensure_index(settings: Settings, store: Store) -> None:
    """Build the index from the corpus dir when there is none yet."""
    if not store.is_empty():
        return
    # Imported here: ingest depends on rag, and only this first-use path needs it.
    from ingest.indexer import ingest

    log.info("no index in %s yet; indexing %s first", settings.data_dir, settings.corpus_dir)
    if settings.corpus_dir.is_dir():
        ingest(settings, store=store)
    if store.is_empty():
        raise IndexMissingError(
            f"nothing is indexed and {settings.corpus_dir} has no articles; "
            "add .md or .txt files there and run `rag ingest`"
        )


def retrieval_query(question: str, history: History | None) -> str:
    """Fold the previous question into a follow-up ("Who criticized it?") so retrieval has context."""
    previous = _last_user_turn(history)
    if not previous:
        return question
    words = question.lower().replace("?", " ").split()
    if len(keyword_terms(question)) <= 2 or _FOLLOW_UP_WORDS.intersection(words):
        return f"{previous} {question}"
    return question


def _last_user_turn(history: History | None) -> str | None:
    for turn in reversed(history or []):
        if isinstance(turn, dict):
            if turn.get("role") == "user" and isinstance(turn.get("content"), str):
                return clean_question(turn["content"])
        elif isinstance(turn, list | tuple) and turn and isinstance(turn[0], str):
            return clean_question(turn[0])
    return None


def _source_passage(p: Passage) -> SourcePassage:
    c = p.chunk
    return SourcePassage(c.source, c.title, c.text, c.start, c.end, p.score, c.outlet, c.published, c.url)
