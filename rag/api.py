"""The public Python API: `answer(question) -> Answer`."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from functools import cache
from typing import Any

import numpy as np

from rag.answering.citations import check_citations
from rag.answering.dated import in_date_order, is_chronology, lead_with_newest
from rag.answering.extractive import (
    WHOLE_ARTICLES,
    answers_question,
    extract_answer,
    passages_to_read,
    rerank_passages,
    score_sentences,
)
from rag.answering.llm import chat_model, condense_question, parse_llm, stream_answer
from rag.answering.questions import asks_for_news, asks_who_or_what_is
from rag.answering.reranker import Reranker, get_reranker
from rag.answering.selection import SelectorModel, shipped_model
from rag.config import Settings
from rag.dates import question_period, wants_latest, without_period
from rag.documents import PAGE_BREAK
from rag.embeddings import Embedder, get_embedder
from rag.errors import IndexMissingError
from rag.filters import DAYS_META, FilterError, Filters
from rag.models import Answer, Citation, SourcePassage
from rag.records import Records
from rag.refusal import is_covered, names_all_in_one
from rag.retrieval import Passage, Preference, retrieve, with_whole_articles
from rag.store import Store, open_store
from rag.text import clean_question, keyword_terms

log = logging.getLogger(__name__)

EMPTY_QUESTION = "Please type a question about the news articles."
NOT_COVERED = "The indexed articles do not cover this question."
NOT_ANSWERED = "The indexed articles do not answer this question."
REPORTED_QUOTES = 2
"""Sentences a refusal quotes of what the articles do say about the story (the two most probable)."""
_FOLLOW_UP_WORDS = frozenset(
    ["it", "its", "they", "them", "their", "he", "him", "his", "she", "her", "this", "that", "these", "those", "there"]
)

History = Sequence[Any]
"""Earlier turns: (user, assistant) pairs, or {"role", "content"} messages."""

__all__ = ["Answer", "Citation", "SourcePassage", "answer", "answer_stream", "search"]


def answer(
    question: str,
    *,
    history: History | None = None,
    settings: Settings | None = None,
    k: int | None = None,
    store: Store | None = None,
    embedder: Embedder | None = None,
    selector: SelectorModel | None = None,
    reranker: Reranker | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    outlets: str | Sequence[str] | None = None,
) -> Answer:
    """Answer a question from the indexed articles, citing verbatim passages.

    With no index yet, the corpus dir is indexed first. A question the articles do not cover gets
    `refused=True` and a plain sentence saying so, and no LLM is called. `since` / `until` (ISO
    days, inclusive) and `outlets` keep only the articles they match; a filter that matches nothing
    is a refusal that says so.
    """
    final: Answer | None = None
    stream = answer_stream(
        question,
        history=history,
        settings=settings,
        k=k,
        store=store,
        embedder=embedder,
        selector=selector,
        reranker=reranker,
        since=since,
        until=until,
        outlets=outlets,
    )
    for item in stream:
        if isinstance(item, Answer):
            final = item
    assert final is not None
    return final


def search(
    query: str,
    *,
    k: int | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    embedder: Embedder | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    outlets: str | Sequence[str] | None = None,
) -> list[SourcePassage]:
    """The `k` passages hybrid retrieval finds for a query (dense + keyword, one copy of each story,
    diverse), most relevant first; no answer is picked. An empty query finds nothing. The filters
    are those of `answer()`."""
    settings = settings or Settings.from_env()
    filters = Filters.parse(since, until, outlets)
    cleaned = clean_question(query)
    if not cleaned:
        return []
    store = open_index(settings, store)
    check_filters(filters, store.records)
    embedder = embedder or get_embedder()
    asked = cleaned[: settings.max_question_chars]
    passages = retrieve(store, cleaned, lambda: embedder.embed_one(asked), k or settings.top_k, filters=filters or None)
    return [_source_passage(p, store.records) for p in passages]


def answer_stream(
    question: str,
    *,
    history: History | None = None,
    settings: Settings | None = None,
    k: int | None = None,
    store: Store | None = None,
    embedder: Embedder | None = None,
    selector: SelectorModel | None = None,
    reranker: Reranker | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    outlets: str | Sequence[str] | None = None,
) -> Iterator[str | Answer]:
    """Yield the answer as text deltas, then the checked `Answer` (which may differ from the deltas:
    unsupported sentences flagged, citations repaired, or an extractive fallback).

    `selector` scores the passages' sentences (default: the shipped model) from their features, the
    `reranker`'s scores among them (default: the shipped reranker); it also decides refusals.
    """
    settings = settings or Settings.from_env()
    spec = parse_llm(settings.llm)
    filters = Filters.parse(since, until, outlets)
    cleaned = clean_question(question)
    if not cleaned:
        yield Answer(question=question, text=EMPTY_QUESTION, refused=True, notes=["empty question"])
        return
    notes: list[str] = []
    if len(cleaned) > settings.max_question_chars:
        cleaned = cleaned[: settings.max_question_chars]
        notes.append(f"question truncated to its first {settings.max_question_chars} characters")
    store = open_index(settings, store)
    embedder = embedder or get_embedder()
    turns = conversation_turns(history)
    query = retrieval_query(cleaned, turns)
    if spec is not None and turns:
        try:
            query = condense_question(chat_model(spec, settings), cleaned, turns)
        except Exception as exc:  # the heuristic query is a fine fallback
            log.warning("condensing the follow-up with %s failed (%s)", spec.label, failure_reason(exc))
    check_filters(filters, store.records)
    prefer = preference(cleaned, store.records)
    # The words that name a period match nothing in an article's body (its published field carries
    # the date): the period is a retrieval preference, and the rest of the question is what is asked.
    asked_text = without_period(cleaned, prefer.period)
    k = k or settings.top_k

    @cache
    def query_embedding() -> np.ndarray:  # computed by retrieve() while the keyword search runs
        return embedder.embed_one(asked_text if query == cleaned else query)

    passages = retrieve(store, query, query_embedding, passages_to_read(k), filters=filters or None, prefer=prefer)
    query_vector = query_embedding()
    if filters and not passages:
        yield Answer(question=question, text=nothing_matches(filters, store.records), refused=True, notes=notes)
        return
    selector = selector or shipped_model()
    min_score = selector.retrieval_floor(asked_text) if settings.min_score is None else settings.min_score
    if not is_covered(asked_text, passages, min_score):
        shown = [_source_passage(p, store.records) for p in passages[:k]]
        yield Answer(question=question, text=NOT_COVERED, refused=True, passages=shown, notes=notes)
        return
    # Retrieval used the conversation; sentences are picked for what is asked now.
    asked = query_vector if query == cleaned else embedder.embed_one(asked_text)
    reranker = reranker or get_reranker()
    body_of = store.records.body
    read = with_whole_articles(store, passages, query_vector, WHOLE_ARTICLES)
    frequencies = store.records.document_frequencies
    scored = score_sentences(asked_text, asked, read, embedder, body_of, frequencies, selector, reranker)
    # The answerability model learned from self-contained questions for one fact; a follow-up ("Who
    # criticized it?") names nothing and looks unanswerable to it, and so does a question whose named
    # period is what singles out the article ("What did the inspection in November 2025 find?") or
    # one that asks for the news on a story ("What's the latest on the swing bridge?"): for those,
    # retrieval's check (above) decides alone. A question only for who or what a name is ("Who is
    # Jimmy Gomez?") is answered by a passage that holds the whole name.
    answers = (
        query != cleaned
        or period_leads(prefer, passages, store.records)
        or asks_for_news(asked_text)
        or (asks_who_or_what_is(asked_text) and names_all_in_one(scored.question.names, passages))
        or answers_question(selector, scored)
    )
    if prefer.latest:
        scored = lead_with_newest(scored, store.records.article_dates().days)
    passages = rerank_passages(read, scored)[:k]
    shown = [_source_passage(p, store.records) for p in passages]
    if not answers:
        extract = extract_answer(scored, asked, embedder, body_of, quotes=REPORTED_QUOTES)
        text = not_said(extract.text)
        citations = located(extract.citations, store.records)
        yield Answer(question=question, text=text, citations=citations, refused=True, passages=shown, notes=notes)
        return

    def extractive(extra_notes: list[str]) -> Iterator[str | Answer]:
        extract = extract_answer(scored, asked, embedder, body_of)
        if not extract.citations:
            yield Answer(question=question, text=NOT_COVERED, refused=True, passages=shown, notes=notes)
            return
        text, citations = extract.text, extract.citations
        if prefer.latest or is_chronology(cleaned):
            reordered = in_date_order(citations, store.records.article_dates().days, newest_first=prefer.latest)
            text, citations = reordered or (text, citations)
        for piece in split_after_markers(text):
            yield piece + " "
        yield Answer(
            question=question,
            text=text,
            citations=located(citations, store.records),
            passages=shown,
            notes=notes + extra_notes,
        )

    if spec is None:
        yield from extractive([])
        return
    try:
        raw = ""
        started = time.monotonic()
        for delta in stream_answer(chat_model(spec, settings), cleaned, passages):
            if time.monotonic() - started > settings.llm_timeout:
                raise TimeoutError
            raw += delta
            yield delta
        checked = check_citations(raw, passages, embedder)
    except Exception as exc:  # any failure of the model: fall back, and say so
        reason = failure_reason(exc)
        log.warning("%s answerer failed (%s); using the extractive answer", spec.label, reason)
        yield from extractive([f"the {spec.label} answerer failed ({reason}); showing the extractive answer"])
        return
    if checked.declined or checked.supported == 0:
        why = "found no answer in the passages" if checked.declined else "gave no sentence the articles support"
        yield from extractive([f"the {spec.label} answerer {why}; showing the extractive answer", *checked.notes])
        return
    yield Answer(
        question=question,
        text=checked.text,
        citations=located(checked.citations, store.records),
        passages=shown,
        backend=spec.label,
        notes=notes + checked.notes,
    )


def not_said(reported: str) -> str:
    """The refusal of a question about a story the articles cover but whose asked fact they do not
    state: it says so, then what they do report (`reported`, with its `[n]` markers)."""
    return f"{NOT_ANSWERED} What they report: {reported}" if reported else NOT_COVERED


def located(citations: list[Citation], records: Records) -> list[Citation]:
    """Add the page to citations of paged (PDF) articles, and the near-duplicate copies of each source."""
    out = []
    for c in citations:
        body = records.body(c.source) or ""
        page = body.count(PAGE_BREAK, 0, c.start) + 1 if PAGE_BREAK in body else None
        day = records.article_dates().days.get(c.source)
        published = day.isoformat() if day else None
        out.append(replace(c, page=page, also_in=tuple(records.copies_of(c.source)), published=published))
    return out


def check_filters(filters: Filters, records: Records) -> None:
    """A date filter needs every chunk to carry its day; an index built before date filters does not yet."""
    if filters.dated and not records.get_meta(DAYS_META):
        raise FilterError("this index was built before date filters; run `rag ingest` once to add the articles' dates")


def preference(question: str, records: Records) -> Preference:
    """What the question's wording prefers: the period it names, newer articles. Nothing when no
    article has a date (or the index predates dates), so an undated archive answers as before."""
    if not records.get_meta(DAYS_META):
        return Preference()
    dates = records.article_dates()
    if not dates.days:
        return Preference()
    return Preference(period=question_period(question, dates.newest), latest=wants_latest(question))


def period_leads(prefer: Preference, passages: Sequence[Passage], records: Records) -> bool:
    """The question names a period and the best passage's article is of that period."""
    if prefer.period is None or not passages:
        return False
    day = records.article_dates().days.get(passages[0].source)
    return day is not None and day in prefer.period


def nothing_matches(filters: Filters, records: Records) -> str:
    """The refusal of a filter that leaves no passage, saying which filter and what it left out."""
    text = f"No indexed article matches the filter ({filters.describe()})."
    undated = records.article_dates().undated
    if filters.dated and undated:
        some = f"{undated} articles without a date were" if undated > 1 else "1 article without a date was"
        text += f" {some} left out."
    return text


def failure_reason(exc: BaseException) -> str:
    """A short reason that never repeats the exception's message (it could hold a URL or a key)."""
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or "Timeout" in name:
        return "timed out"
    if "Connection" in name or isinstance(exc, ConnectionError):
        return "cannot connect"
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else name


def split_after_markers(text: str) -> list[str]:
    """Pieces of an answer, each ending with its `[n]` marker, for sentence-by-sentence display."""
    return [m.group().strip() for m in _PIECE.finditer(text) if m.group().strip()]


_PIECE = re.compile(r".+?\[\d+\](?=\s|$)|.+$", re.DOTALL)


def open_index(settings: Settings, store: Store | None = None) -> Store:
    """The store to answer from: indexed first if empty, reopened if another process re-indexed it."""
    store = store or open_store(settings)
    ensure_index(settings, store)
    store.refresh_if_stale()
    return store


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


def retrieval_query(question: str, turns: Sequence[tuple[str, str]]) -> str:
    """Fold the previous question into a follow-up ("Who criticized it?") so retrieval has context."""
    previous = turns[-1][0] if turns else None
    if not previous:
        return question
    words = question.lower().replace("?", " ").split()
    if len(keyword_terms(question)) <= 2 or _FOLLOW_UP_WORDS.intersection(words):
        return f"{previous} {question}"
    return question


def conversation_turns(history: History | None) -> list[tuple[str, str]]:
    """Normalise history to (question, answer) pairs; accepts pairs or role/content messages."""
    turns: list[tuple[str, str]] = []
    pending: str | None = None
    for turn in history or []:
        if isinstance(turn, dict):
            content = turn.get("content")
            content = content if isinstance(content, str) else ""
            if turn.get("role") == "user":
                if pending is not None:
                    turns.append((pending, ""))
                pending = clean_question(content)
            elif turn.get("role") == "assistant" and pending is not None:
                turns.append((pending, content))
                pending = None
        elif isinstance(turn, list | tuple) and len(turn) == 2 and isinstance(turn[0], str):
            turns.append((clean_question(turn[0]), str(turn[1] or "")))
    if pending is not None:
        turns.append((pending, ""))
    return [t for t in turns if t[0]]


def _source_passage(p: Passage, records: Records) -> SourcePassage:
    c = p.chunk
    day = records.article_dates().days.get(c.source)
    published = day.isoformat() if day else c.published
    return SourcePassage(c.source, c.title, c.text, c.start, c.end, p.score, c.outlet, published, c.url)
