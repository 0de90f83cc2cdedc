"""Retrieval and answers over the seed article with the distractor articles indexed beside it."""

import re
import shutil

import numpy as np
import pytest

from ingest.indexer import ingest
from rag import Answer, answer
from rag.config import Settings
from rag.errors import IndexMissingError
from rag.evaluation import fact_present
from tests.conftest import SEED_ARTICLE, SEED_FACTS_FLOOR, DevIndex


def assert_citations_valid(result: Answer, bodies: dict[str, str]) -> None:
    """Every quote is verbatim at its offsets, and markers are exactly 1..len(citations)."""
    for c in result.citations:
        assert bodies[c.source][c.start : c.end] == c.quote
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", result.text)]
    assert sorted(set(markers)) == list(range(1, len(result.citations) + 1))
    assert [c.number for c in result.citations] == list(range(1, len(result.citations) + 1))


def test_support_spans_are_in_the_top_three_passages(dev_index: DevIndex, dev_set: list[dict]) -> None:
    for item in (d for d in dev_set if d["answerable"]):
        result = answer(item["question"], settings=dev_index.settings)
        top = [dev_index.bodies[p.source][p.start : p.end] for p in result.passages[:3]]
        assert any(item["support"] in text for text in top), item["question"]


def test_dev_questions_are_answered_with_facts_and_valid_citations(dev_index: DevIndex, dev_set: list[dict]) -> None:
    right = []
    for item in dev_set:
        result = answer(item["question"], settings=dev_index.settings)
        assert_citations_valid(result, dev_index.bodies)
        if not item["answerable"]:
            assert result.refused, item["question"]
        elif not result.refused and all(fact_present(fact, result.text) for fact in item["facts"]):
            right.append(item["id"])
    assert len(right) >= SEED_FACTS_FLOOR * 10, right


def test_answer_shape_for_the_headline_question(dev_index: DevIndex) -> None:
    result = answer("Why did Krause resign?", settings=dev_index.settings)
    assert not result.refused
    assert result.backend == "extractive"
    assert result.text.split()[-1] == f"[{len(result.citations)}]"
    assert all(c.source == SEED_ARTICLE.name for c in result.citations)
    assert all("Krause" in c.title for c in result.citations)
    d = result.to_dict()
    assert set(d) == {"question", "answer", "refused", "backend", "notes", "citations", "passages"}
    assert set(d["citations"][0]) == {"number", "source", "title", "quote", "start", "end", "score", "published"}
    assert set(d["passages"][0]) == {"source", "title", "text", "start", "end", "score", "published"}


def test_distractor_question_cites_the_distractor(dev_index: DevIndex) -> None:
    result = answer("Who chairs the Harbor Board in Port Ellery?", settings=dev_index.settings)
    assert not result.refused
    assert "Ferreira" in result.text
    assert result.citations[0].source == "port-ellery-harbor-commissioner.md"
    assert_citations_valid(result, dev_index.bodies)


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x07"])
def test_empty_question_gets_a_message_without_retrieval(dev_index: DevIndex, question: str) -> None:
    result = answer(question, settings=dev_index.settings)
    assert result.refused
    assert result.passages == []
    assert "type a question" in result.text


def test_very_long_question_is_truncated_with_a_note(dev_index: DevIndex) -> None:
    question = "Why did Krause resign? " + "padding words " * 800
    assert len(question) > 10_000
    result = answer(question, settings=dev_index.settings)
    assert any("truncated" in note for note in result.notes)
    assert_citations_valid(result, dev_index.bodies)


@pytest.mark.parametrize(
    "question",
    [
        "¿Por qué renunció Melanie Krause?",
        "克劳斯为什么辞职？",
        "😀🔥💯",
        "Why\x00 did\x1b Krause resign?",
        "?" * 50,
        "' OR 1=1; DROP TABLE chunks; --",
        'NEAR("krause" AND)',
        "*",
    ],
)
def test_odd_questions_are_answered_or_refused(dev_index: DevIndex, question: str) -> None:
    result = answer(question, settings=dev_index.settings)
    assert result.text
    assert result.refused or result.citations
    assert_citations_valid(result, dev_index.bodies)


def test_follow_up_question_uses_the_previous_turn(dev_index: DevIndex) -> None:
    history = [("What is the IRS-ICE agreement?", "...")]
    result = answer("Who criticized it?", history=history, settings=dev_index.settings)
    assert not result.refused
    assert result.citations[0].source == SEED_ARTICLE.name
    messages = [{"role": "user", "content": "What is the IRS-ICE agreement?"}, {"role": "assistant", "content": "..."}]
    assert answer("Who criticized it?", history=messages, settings=dev_index.settings).text == result.text


def test_missing_index_is_built_from_the_corpus(settings: Settings) -> None:
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    result = answer("Why did Krause resign?", settings=settings)
    assert not result.refused
    assert (settings.data_dir / "records.sqlite3").exists()


def test_missing_index_and_empty_corpus_say_what_to_do(settings: Settings) -> None:
    with pytest.raises(IndexMissingError, match="rag ingest"):
        answer("Why did Krause resign?", settings=settings)


def test_new_article_is_answerable_after_ingest(settings: Settings, write_article) -> None:
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    ingest(settings)
    assert answer("When will the Harlow ferry terminal open?", settings=settings).refused
    write_article(
        "ferry.md", "The Harlow ferry terminal will open in June 2027, the port authority said.", title="Ferry"
    )
    ingest(settings)
    result = answer("When will the Harlow ferry terminal open?", settings=settings)
    assert not result.refused
    assert "June 2027" in result.text


def test_a_year_the_articles_do_not_report_weighs_against_answering(
    settings: Settings, write_article, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question about "the 2003 final" over an article about the 2004 final fails the year check,
    and the answerability model trusts it less; an article dated that year by its publication date
    passes the check even if its text never names the year. The check is a feature the model weighs
    (as a hard rule it cost two answerable training questions for one trap), not a refusal by itself."""
    import rag.api
    from rag.answering.extractive import answerability_row, answers_question
    from rag.answering.selection import QUESTION_FEATURES, shipped_model

    rows: dict[str, np.ndarray] = {}

    def recording(model, scored):  # the answerability row of each question answer() judges
        rows[scored.question.text] = answerability_row(scored, model.answerability.reading_width)
        return answers_question(model, scored)

    monkeypatch.setattr(rag.api, "answers_question", recording)
    write_article(
        "final.md",
        "Rovers won the 2004 cup final, beating City 2-1 at Harlow. The 2005 final will be played in May.",
        title="Rovers win the cup",
    )
    write_article(
        "regatta.md",
        "Harlow Rowing Club won the spring regatta on the river, its first win since 1998.",
        title="Harlow wins regatta",
        published="2025-04-12",
    )
    ingest(settings)
    assert not answer("Which club won the 2004 cup final?", settings=settings).refused
    answer("Which club won the 2003 cup final?", settings=settings)
    regatta = answer("Which club won the 2025 spring regatta?", settings=settings)
    assert not regatta.refused
    assert regatta.citations[0].source == "regatta.md"
    dated_regatta = rows["Which club won the 2025 spring regatta?"]
    write_article("regatta.md", "Harlow Rowing Club won the spring regatta on the river, its first win since 1998.")
    ingest(settings)  # the same article without its date: it names 1998 only
    answer("Which club won the 2025 spring regatta?", settings=settings)
    undated_regatta = rows["Which club won the 2025 spring regatta?"]

    dated = QUESTION_FEATURES.index("dated_article")
    model = shipped_model().answerability
    assert model is not None and model.weights[dated] > 0
    assert rows["Which club won the 2004 cup final?"][dated] == 1.0
    assert rows["Which club won the 2003 cup final?"][dated] == 0.0
    assert (dated_regatta[dated], undated_regatta[dated]) == (1.0, 0.0)

    probability = model.probability

    assert probability(undated_regatta) < probability(dated_regatta)
    unreported, reported = rows["Which club won the 2003 cup final?"], rows["Which club won the 2004 cup final?"]
    assert probability(unreported) < probability(reported)


def test_who_a_named_person_is_is_answered_from_the_article_naming_them(dev_index: DevIndex) -> None:
    # A short question scores low against every passage; the article that names the whole name answers it.
    result = answer("Who is Jimmy Gomez?", settings=dev_index.settings)
    assert not result.refused
    assert result.citations[0].quote.startswith("Representative Jimmy Gomez")  # the sentence introducing him leads
    assert all("Gomez" in c.quote for c in result.citations)  # the lede about Krause says nothing of him
    assert answer("Who is Jimmy Smith?", settings=dev_index.settings).refused  # named in no article


def test_the_fitted_retrieval_threshold_refuses_unless_rag_min_score_overrides_it(dev_index: DevIndex) -> None:
    """Retrieval's refusal threshold comes with the selector; RAG_MIN_SCORE, when set, replaces it."""
    from dataclasses import replace

    from rag.answering.selection import shipped_model

    question = "why did the tax commissioner step down"  # no names: similarity alone decides
    assert not answer(question, settings=dev_index.settings).refused
    strict = replace(shipped_model(), min_score=0.99)
    assert answer(question, settings=dev_index.settings, selector=strict).refused
    lenient = replace(dev_index.settings, min_score=0.1)
    assert not answer(question, settings=lenient, selector=strict).refused
