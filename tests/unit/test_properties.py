"""Property tests: generated input at every door that reads text strangers wrote.

Examples are derandomised (the same inputs on every run; `RAG_HYPOTHESIS_PROFILE=long` tries many
more, see tests/conftest.py). Each property states what must hold for any input.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ingest.chunker import chunk_article
from ingest.feeds import FeedError, parse_feed
from ingest.loader import load_articles
from ingest.web import NoArticleText, WebArticle, extract_html
from rag.answering.citations import check_citations
from rag.answering.questions import read_question
from rag.dates import parse_published, question_period, without_period
from rag.documents import Article
from rag.filters import FilterError, Filters
from rag.records import ChunkRecord
from rag.retrieval import Passage
from rag.text import clean_question, sentence_spans

WORDS = st.sampled_from(
    "the council said ferry strike ended on Tuesday Mr. Brennan 6.5 percent U.S. e.g. it's "
    "quote \u201cwe won\u201d said she. ? ! ... (2026) 3.5m \u00e9t\u00e9 \u4e2d\u6587 \n \n\n \t".split(" ")
)
PROSE = st.lists(WORDS, max_size=120).map(" ".join)
ANY_TEXT = st.one_of(PROSE, st.text(max_size=400))


def word_tokens(texts: Sequence[str]) -> list[int]:
    """A stand-in tokenizer: one token per word or punctuation mark (a real one splits finer), plus
    the two special tokens, as the embedder's count_tokens counts them."""
    return [len(re.findall(r"\w+|[^\w\s]", t)) + 2 for t in texts]


class HashEmbedder:
    """A deterministic stand-in embedder: the citation check's offsets are logic, not semantics."""

    name = "hash"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).normal(size=16)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32).reshape(len(texts), 16)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


@given(st.binary(max_size=2000), st.sampled_from([".md", ".txt", ".html"]))
def test_any_bytes_become_an_article_or_a_one_line_skip(raw: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp)
        path = corpus / f"article{suffix}"
        path.write_bytes(raw)
        articles, skipped = load_articles([path], corpus, max_bytes=1_000_000)
    assert len(articles) + len(skipped) == 1
    for s in skipped:
        assert s.reason and "\n" not in s.reason
    for a in articles:
        assert a.body.strip() and a.title


@given(PROSE.filter(str.strip), st.integers(min_value=8, max_value=64))
def test_chunks_cover_the_body_with_exact_offsets(body: str, max_tokens: int) -> None:
    body = body.strip()
    chunks = chunk_article(Article("a.md", "A", body), word_tokens, max_tokens)
    covered = np.zeros(len(body), dtype=bool)
    for c in chunks:
        assert c.text == body[c.start : c.end]
        covered[c.start : c.end] = True
    assert all(covered[i] for i, ch in enumerate(body) if ch.isalnum())  # every word is in a chunk
    assert [c.index for c in chunks] == list(range(len(chunks)))


@given(ANY_TEXT)
def test_sentence_spans_are_ordered_disjoint_and_in_bounds(text: str) -> None:
    spans = sentence_spans(text)
    for (s, e), following in zip(spans, [*spans[1:], (len(text), len(text))], strict=False):
        assert 0 <= s < e <= following[0] <= len(text)
        assert text[s:e].strip() == text[s:e]


@given(
    st.lists(PROSE.filter(str.strip), min_size=1, max_size=3),
    st.lists(st.tuples(PROSE, st.lists(st.integers(min_value=-1, max_value=5), max_size=3)), max_size=5),
)
def test_every_citation_quotes_the_article_at_its_offsets(bodies: list[str], claims: list) -> None:
    passages = []
    for n, body in enumerate(bodies):
        start = 7 * n  # passages need not start at 0
        full = "x" * start + body
        record = ChunkRecord(f"c{n}", f"s{n}.md", f"T{n}", start, len(full), body, None, None, None)
        passages.append((Passage(record, 0.5, np.zeros(16, dtype=np.float32)), full))
    raw = " ".join(f"{text} " + "".join(f"[{m}]" for m in marks) for text, marks in claims)
    checked = check_citations(raw, [p for p, _ in passages], HashEmbedder())  # type: ignore[arg-type]
    bodies_by_source = {p.source: full for p, full in passages}
    for c in checked.citations:
        assert bodies_by_source[c.source][c.start : c.end] == c.quote
    for marker in re.findall(r"\[(\d+)\]", checked.text):
        assert 1 <= int(marker) <= len(checked.citations)


@given(ANY_TEXT.map(lambda t: f"<html><body><p>{t}</p><script>x</script></body></html>"))
def test_any_page_gives_an_article_or_says_it_has_none(page: str) -> None:
    try:
        article = extract_html(page)
    except NoArticleText:
        return
    assert isinstance(article, WebArticle) and article.text.strip()
    assert "<script>" not in article.text


@given(st.one_of(st.binary(max_size=1500), ANY_TEXT.map(lambda t: f"<rss version='2.0'><channel>{t}".encode())))
def test_any_bytes_are_a_feed_or_one_feed_error(body: bytes) -> None:
    try:
        feed = parse_feed(body, "http://feeds.example/rss")
    except FeedError as exc:
        assert str(exc).startswith("http://feeds.example/rss: ") and "\n" not in str(exc)
        return
    assert feed.entries is not None


@given(ANY_TEXT)
def test_question_parsing_never_fails(text: str) -> None:
    cleaned = clean_question(text)
    read_question(cleaned)
    period = question_period(cleaned, None)
    assert len(without_period(cleaned, period)) <= len(cleaned)
    parse_published(text)


@given(st.one_of(st.none(), ANY_TEXT), st.one_of(st.none(), ANY_TEXT), st.lists(ANY_TEXT, max_size=3))
def test_filters_parse_or_say_what_to_give(since: str | None, until: str | None, outlets: list[str]) -> None:
    try:
        filters = Filters.parse(since, until, outlets)
    except FilterError as exc:
        assert "YYYY-MM-DD" in str(exc) or "swap" in str(exc)
        return
    filters.where(["Harbour Gazette"])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
REQUEST = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"model": st.sampled_from(["newsrag", "other"]), "messages": JSON},
        optional={"stream": JSON, "filters": JSON, "sources_footer": JSON},
    ),
    st.fixed_dictionaries(
        {
            "model": st.just("newsrag"),
            "messages": st.lists(
                st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "x"]), "content": JSON}),
                max_size=3,
            ),
        },
        optional={"filters": st.fixed_dictionaries({}, optional={"since": JSON, "until": JSON, "outlets": JSON})},
    ),
)


def _api_client():  # one app for all examples: building it per example would dominate the run
    from fastapi.testclient import TestClient

    from rag.config import Settings
    from rag.models import Answer
    from rag.openai_api import build_api

    def fake_answer(question: str, **kwargs: object) -> Answer:
        Filters.parse(kwargs.get("since"), kwargs.get("until"), kwargs.get("outlets"))  # type: ignore[arg-type]
        return Answer(question=question, text="An answer.")

    return TestClient(build_api(Settings(), answer_fn=fake_answer), raise_server_exceptions=False)


API = _api_client()


@given(REQUEST)
def test_any_json_body_gets_an_answer_or_an_openai_style_4xx(body: object) -> None:
    reply = API.post("/v1/chat/completions", content=json.dumps(body))
    assert reply.status_code < 500, (body, reply.text)
    if reply.status_code >= 400:
        error = reply.json()["error"]
        assert error["message"] and error["type"]
