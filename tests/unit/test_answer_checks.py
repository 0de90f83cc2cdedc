"""The checks that let a selection answer or refuse: the answer type near what is asked, and the year
the question names (pure logic over hand-made sentences, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.extractive import Scored, has_typed_candidate, quotes_a_dated_article
from rag.answering.questions import read_question
from rag.answering.selection import Candidate, sentence_features


def scored(question: str, sentences: list[tuple[str, str]], dated_sources: frozenset[str] = frozenset()) -> Scored:
    """`sentences` are (source, text), most probable first."""
    q = read_question(question)
    candidates = [Candidate(src, "Title", 0, len(text), text, 0, 0.5, 3) for src, text in sentences]
    features = sentence_features(q, candidates, {w: 1.0 for w in q.raw_terms}, {})
    probabilities = np.linspace(0.9, 0.1, len(candidates))
    return Scored(q, candidates, np.zeros((len(candidates), 2)), features, probabilities, dated_sources)


def test_a_sum_needs_a_focus_word_or_every_name_of_the_question() -> None:
    question = "How much did Jane Doe give to the Acme Fund for flood relief?"
    assert has_typed_candidate(scored(question, [("a", "The flood relief effort has raised $3m so far.")]))
    # "donated" is not "give", but a sum beside every name asked about is the one asked for
    assert has_typed_candidate(scored(question, [("a", "Actress Jane Doe has donated $1m to the Acme Fund.")]))
    assert not has_typed_candidate(scored(question, [("a", "Jane Doe visited the Acme Fund in May.")]))
    assert not has_typed_candidate(scored(question, [("a", "Jane Doe has donated $1m to a hospital.")]))


def test_a_bare_number_beside_the_names_is_not_enough_for_a_count() -> None:
    question = "How many guests attended the wedding of Jane Doe and John Roe?"
    assert not has_typed_candidate(scored(question, [("a", "Jane Doe, 45, and John Roe met in 1990.")]))
    assert has_typed_candidate(scored(question, [("a", "Some 800 guests attended the wedding.")]))


def test_a_question_without_a_year_needs_no_dated_article() -> None:
    assert quotes_a_dated_article(scored("Who won the cup final?", [("a", "Rovers won the final.")]))


def test_a_year_of_the_question_must_be_in_the_quoted_article() -> None:
    question = "Which club won the 2005 cup final?"
    sentences = [("a", "Rovers won last year's final against City.")]
    assert not quotes_a_dated_article(scored(question, sentences))
    assert quotes_a_dated_article(scored(question, sentences, frozenset({"a"})))


def test_a_sentence_about_a_later_year_does_not_count() -> None:
    question = "Which club won the 2005 cup final?"
    other_year = [("a", "The new stadium will open for the 2006 cup final.")]
    assert not quotes_a_dated_article(scored(question, other_year, frozenset({"a"})))
    also_asked_year = [("a", "City won the 2005 cup final, as they had in 1998.")]
    assert quotes_a_dated_article(scored(question, also_asked_year, frozenset({"a"})))
    earlier_year = [("a", "City won the final, their first win since 1998.")]
    assert quotes_a_dated_article(scored(question, earlier_year, frozenset({"a"})))


def test_only_the_most_probable_sentences_count() -> None:
    question = "Which club won the 2005 cup final?"
    sentences = [("b", "Rovers won."), ("b", "City lost."), ("b", "The crowd sang."), ("a", "City won in 2005.")]
    assert not quotes_a_dated_article(scored(question, sentences, frozenset({"a"})))


def test_question_features_describe_the_best_sentence() -> None:
    from rag.answering.extractive import question_features
    from rag.answering.selection import QUESTION_FEATURES, with_rerank

    s = scored("How much did Jane Doe give to the Acme Fund?", [("a", "Jane Doe has donated $1m to the Acme Fund.")])
    s = Scored(s.question, s.candidates, s.vectors, with_rerank(s.features, np.array([2.5])), s.probabilities)
    row = dict(zip(QUESTION_FEATURES, question_features(s), strict=True))
    assert row["best_probability"] == pytest.approx(np.log(0.9 / 0.1))  # the probability's logit
    assert row["best_rerank"] == 2.5
    assert row["typed_answer"] == 1.0 and row["dated_article"] == 1.0


def test_without_an_answerability_model_the_checks_decide() -> None:
    from dataclasses import replace

    from rag.answering.extractive import answers_question
    from rag.answering.selection import FEATURES, QUESTION_FEATURES, AnswerabilityModel, SelectorModel

    n, m = len(FEATURES), len(QUESTION_FEATURES)
    model = SelectorModel(np.zeros(n), np.ones(n), np.zeros(n), 0.0)
    asked_a_sum = "How much did Acme pay for the ferry line?"
    assert answers_question(model, scored(asked_a_sum, [("a", "Acme paid £30m for the ferry line.")]))
    no_sum = scored(asked_a_sum, [("a", "Acme bought the ferry line in May.")])
    assert not answers_question(model, no_sum)  # the answer-type check refuses it
    # With an answerability model, its verdict alone counts, whatever the checks say.
    never = AnswerabilityModel(np.zeros(m), np.ones(m), np.zeros(m), -10.0, threshold=0.5)
    assert not answers_question(replace(model, answerability=never), scored("Who won?", [("a", "Rovers won.")]))
    always = replace(never, bias=10.0)
    assert answers_question(replace(model, answerability=always), no_sum)


def test_the_answerability_row_ends_with_the_reading_of_the_most_probable_sentence() -> None:
    from dataclasses import replace

    from rag.answering.extractive import answerability_row, question_features

    s = scored("Who won the cup?", [("a", "Rovers won the cup."), ("b", "City lost.")])
    readings = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    s = replace(s, readings=readings, probabilities=np.array([0.2, 0.7]))
    row = answerability_row(s, 3)
    assert np.array_equal(row[:-3], question_features(s))
    assert list(row[-3:]) == [4.0, 5.0, 6.0]  # the second sentence is the more probable one
    assert np.array_equal(answerability_row(s, 0), question_features(s))  # a model without readings
    assert np.isnan(answerability_row(replace(s, readings=None), 3)[-3:]).all()


def test_a_missing_reading_counts_as_the_average_one() -> None:
    from rag.answering.selection import QUESTION_FEATURES, AnswerabilityModel

    m = len(QUESTION_FEATURES)
    # Only the reading's first column counts: above its mean the model answers, below it refuses.
    weights = np.zeros(m + 2)
    weights[m] = 5.0
    model = AnswerabilityModel(np.full(m + 2, 1.0), np.ones(m + 2), weights, 0.0, threshold=0.4, reading_width=2)
    features = np.zeros(m)
    assert model.answers(np.concatenate([features, [3.0, 0.0]]))
    assert not model.answers(np.concatenate([features, [-1.0, 0.0]]))
    assert model.answers(np.concatenate([features, [np.nan, np.nan]]))  # probability 0.5 >= 0.4


def test_the_answerability_model_round_trips_and_refuses_another_width() -> None:
    import json

    from rag.answering.reranker import STATE_WIDTH
    from rag.answering.selection import QUESTION_FEATURES, AnswerabilityModel

    m = len(QUESTION_FEATURES) + STATE_WIDTH
    model = AnswerabilityModel(
        np.arange(m) / 7, np.ones(m), np.arange(m) / 3, -0.5, threshold=0.25, reading_width=STATE_WIDTH
    )
    back = AnswerabilityModel.from_dict(json.loads(model.to_json()))
    assert back.reading_width == STATE_WIDTH and back.threshold == 0.25
    assert np.allclose(back.weights, model.weights, atol=1e-6) and np.allclose(back.mean, model.mean, atol=1e-6)
    for wrong in ({"reading_width": 4}, {"reading_width": 3, "weights": [0.0] * (len(QUESTION_FEATURES) + 3)}):
        with pytest.raises(ValueError, match="refit"):  # a width the reranker does not give
            AnswerabilityModel.from_dict(json.loads(model.to_json()) | wrong)
