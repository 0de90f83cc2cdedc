"""Time-aware answers end to end on a dated corpus: the latest figure first, dates in questions,
date and outlet filters in every entry point, on both record backends."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ingest.indexer import ingest
from rag import answer, search
from rag.cli import app
from rag.config import Settings
from rag.filters import DAYS_META, FilterError
from rag.langchain import NewsRetriever
from rag.store import open_store
from tests.dated_corpus import QUESTIONS, UNDATED, write_dated_corpus

pytestmark = pytest.mark.both_backends
runner = CliRunner()


@pytest.fixture
def dated(settings: Settings) -> Settings:
    write_dated_corpus(settings.corpus_dir)
    ingest(settings)
    return settings


def env_for(settings: Settings) -> dict[str, str]:
    env = {
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_COLLECTION": settings.collection,
    }
    if settings.database_url:
        env["RAG_DATABASE_URL"] = settings.database_url
    return env


def test_the_latest_estimate_is_quoted_first_with_its_date(dated: Settings) -> None:
    result = runner.invoke(
        app, ["ask", "What is the latest estimate of the Marlow bridge repair bill?", "--json"], env=env_for(dated)
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert not data["refused"]
    first = data["citations"][0]
    assert "3.5 million euros" in first["quote"] and first["published"] == "2026-03-04"
    assert data["answer"].startswith(first["quote"])
    assert all(set(p) >= {"published"} for p in data["passages"])
    older = [c for c in data["citations"] if c["published"] and c["published"] < "2026-03-04"]
    for c in older:  # an older quote is marked with its day
        assert f"On {int(c['published'][8:])} March 2026: {c['quote']}" in data["answer"]


def test_the_latest_on_a_story_leads_with_its_newest_article(dated: Settings) -> None:
    result = answer("What's the latest on the Marlow swing bridge?", settings=dated)
    assert not result.refused
    assert result.citations[0].source == "bridge-reopening.md" and result.citations[0].published == "2026-03-09"


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("What did the inspection in November 2025 find?", "pier-inspection.md"),
        ("What did the inspection in February 2026 find?", "roof-inspection.md"),
        ("What did the November 2025 inspection find?", "pier-inspection.md"),
    ],
)
def test_a_date_named_in_the_question_finds_the_article_of_that_date(
    dated: Settings, question: str, source: str
) -> None:
    result = answer(question, settings=dated)
    assert not result.refused, result.text
    assert result.citations[0].source == source


def test_a_dated_question_about_nothing_indexed_is_still_refused(dated: Settings) -> None:
    assert answer("What recipe did the council publish in March 2026?", settings=dated).refused


def test_since_until_and_outlet_restrict_every_citation_and_passage(dated: Settings) -> None:
    result = answer("How much will the Marlow bridge repairs cost?", settings=dated, until="2026-03-03")
    assert not result.refused and "2 million euros" in result.text
    assert {c.published for c in result.citations} == {"2026-03-02"}
    assert all(p.published and p.published <= "2026-03-03" for p in result.passages)

    result = answer("When will the Marlow bridge reopen?", settings=dated, outlets=["island times"])
    assert not result.refused and "June" in result.text
    assert {p.outlet for p in result.passages} == {"Island Times"}

    march = search("bridge", settings=dated, k=3, since="2026-03-01", until="2026-03-31")
    assert len(march) == 3  # three matching chunks exist: the filter finds them all
    assert all("2026-03-01" <= (p.published or "") <= "2026-03-31" for p in march)


def test_a_filter_that_matches_nothing_is_a_refusal_that_says_so(dated: Settings) -> None:
    result = answer("How much will the Marlow bridge repairs cost?", settings=dated, since="2027-01-01")
    assert result.refused and not result.citations
    assert "No indexed article matches the filter (published since 2027-01-01)" in result.text
    assert f"{UNDATED} articles without a date were left out" in result.text
    assert answer("Who won the choral award?", settings=dated, outlets="Nowhere News").refused


def test_the_cli_filters_and_its_one_line_errors(dated: Settings) -> None:
    env = env_for(dated)
    args = ["ask", "Who won the regional choral award?", "--json"]
    undated = json.loads(runner.invoke(app, args, env=env).stdout)
    assert not undated["refused"] and undated["citations"][0]["published"] is None
    filtered = runner.invoke(app, [*args, "--since", "2026-01-01"], env=env)
    assert json.loads(filtered.stdout)["refused"]
    ferry = runner.invoke(app, ["ask", "How much will ferry fares rise?", "--outlet", "Island Times"], env=env)
    assert ferry.exit_code == 0 and "4 percent" in ferry.stdout
    bad = runner.invoke(app, [*args, "--since", "last week"], env=env)
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "error: since 'last week' is not a date; give it as YYYY-MM-DD, e.g. 2026-03-01"
    status = runner.invoke(app, ["status"], env=env)
    assert f"undated:     {UNDATED} articles" in status.stdout


def test_the_langchain_retriever_filters(dated: Settings) -> None:
    docs = NewsRetriever(settings=dated, k=2, outlets=["Harbour Gazette"], since="2026-03-01").invoke("bridge repair")
    assert docs and all(d.metadata["outlet"] == "Harbour Gazette" for d in docs)
    assert all(d.metadata["published"] >= "2026-03-01" for d in docs)


def test_an_index_from_before_dates_asks_for_one_ingest_then_filters(dated: Settings) -> None:
    store = open_store(dated)
    ids = sorted(store.vector_ids())
    store.update_metadata(ids, [{"day": None}] * len(ids))  # as chunks were written before dates
    with store.records.transaction() as db:
        db.execute("DELETE FROM meta WHERE key = ?", (DAYS_META,))
    with pytest.raises(FilterError, match="run `rag ingest` once"):
        answer("How much will the Marlow bridge repairs cost?", settings=dated, since="2026-03-01")
    assert ingest(dated).chunks_embedded == 0  # the days are added without embedding anything
    result = answer("How much will the Marlow bridge repairs cost?", settings=dated, since="2026-03-03")
    assert not result.refused and {c.published for c in result.citations} <= {"2026-03-04", "2026-03-09"}


def test_the_openai_compatible_api_takes_filters(dated: Settings) -> None:
    import openai

    from tests.integration.test_openai_api import _start

    url, server, thread = _start(dated)
    try:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        question = [{"role": "user", "content": "How much will the Marlow bridge repairs cost?"}]
        reply = client.chat.completions.create(
            model="newsrag", messages=question, extra_body={"filters": {"until": "2026-03-03"}}
        )
        citations = reply.model_extra["citations"]  # type: ignore[index]
        assert citations and {c["published"] for c in citations} == {"2026-03-02"}
        with pytest.raises(openai.BadRequestError, match="YYYY-MM-DD"):
            client.chat.completions.create(model="newsrag", messages=question, extra_body={"filters": {"since": "May"}})
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=10)


def test_rag_eval_reports_the_dated_section_with_each_question_s_filters(dated: Settings) -> None:
    result = runner.invoke(app, ["eval", str(QUESTIONS), "--json"], env=env_for(dated))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    section = data["sections"]["dated"]
    assert section["questions"] == 9
    # Written beside the feature: a check of the behaviour, not an unbiased quality figure.
    assert (section["fact_accuracy"], section["support"], section["citation_validity"]) == (1.0, 1.0, 1.0)
    assert (section["refused_near_topic"], section["refused_off_topic"], section["false_refusals"]) == (
        "2/2",
        "1/1",
        "0/6",
    )
    filtered = {i["id"]: i for i in data["items"]}["dt05"]
    assert filtered["facts_ok"] and "2 million" in filtered["answer"]
