"""Sentence features on small hand-made sentences, the logistic fit and the refusal threshold."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rag.answering.extractive import EMBEDDED, Scored, first_pass
from rag.answering.questions import read_question
from rag.answering.selection import (
    DEFAULT_MIN_SCORE,
    FEATURES,
    QUESTION_FEATURES,
    AnswerabilityModel,
    Candidate,
    Logistic,
    SelectorModel,
    sentence_features,
    stand_in,
    with_dense,
    with_rerank,
)
from rag.answering.training import (
    Example,
    _fit_weights,
    _logistic,
    calibrate_threshold,
    fit_answerability,
    fit_min_score,
)
from rag.evaluation import EvalItem
from rag.records import ChunkRecord
from rag.retrieval import Passage

QUESTION = "How much did Acme pay for the Harlow ferry line?"
SENTENCES = [
    # (text, article rank, index in article)
    ("Acme has bought the Harlow ferry line, the firm said on Monday.", 0, 1),
    ("It paid £30m for the ferry line, according to the filing.", 0, 2),
    ("Passengers said they hoped fares would not rise.", 1, 5),
    ('"It is a good deal for the town," the mayor of Harlow said.', 1, 6),
]


def features_of(
    question: str = QUESTION, idf: dict[str, float] | None = None, sentences: list[tuple[str, int, int]] = SENTENCES
) -> dict[str, np.ndarray]:
    q = read_question(question)
    candidates = []
    for i, (text, rank, index) in enumerate(sentences):
        previous = sentences[i - 1][0] if i and sentences[i - 1][2] == index - 1 else ""
        start = 10 * i
        candidates.append(Candidate("a.md", "Acme buys ferry line", start, start + 5, text, rank, 0.6, index, previous))
    weights = idf or {w: 1.0 for w in q.raw_terms}
    matrix = sentence_features(q, candidates, weights, {"a.md": " ".join(s[0] for s in sentences)})
    matrix = with_dense(matrix, np.array([0.5, 0.7, 0.1, 0.3][: len(sentences)]))
    return {name: matrix[:, i] for i, name in enumerate(FEATURES)}


def test_feature_matrix_has_one_row_per_sentence_and_one_column_per_feature() -> None:
    f = features_of()
    assert set(f) == set(FEATURES)
    assert all(len(column) == len(SENTENCES) for column in f.values())


def test_dense_similarity_and_its_gap_to_the_best_sentence() -> None:
    f = features_of()
    assert list(f["dense"]) == pytest.approx([0.5, 0.7, 0.1, 0.3])
    assert list(f["dense_gap"]) == pytest.approx([-0.2, 0.0, -0.6, -0.4])


def test_idf_overlap_weights_rare_words_and_focus_leaves_out_names() -> None:
    idf = {"acme": 5.0, "pay": 1.0, "harlow": 5.0, "ferry": 2.0, "line": 1.0}
    f = features_of(idf=idf)
    # sentence 0 holds acme, harlow, ferry, line: all but "pay"
    assert f["idf_overlap"][0] == pytest.approx(13 / 14)
    assert f["overlap_gap"][0] == 0.0
    # its focus words (not names): ferry and line of ferry, line, pay
    assert f["focus_overlap"][0] == pytest.approx(3 / 4)
    assert f["focus_overlap"][2] == 0.0
    # the sentence after it inherits its overlap as "previous_overlap"
    assert f["previous_overlap"][1] == pytest.approx(13 / 14)
    assert f["previous_overlap"][0] == 0.0


def test_names_in_sentence_and_in_article() -> None:
    f = features_of()
    assert f["names_in_sentence"][0] == 1.0  # Acme and Harlow
    assert f["names_in_sentence"][2] == 0.0
    assert f["names_in_article"][2] == 1.0  # the article names both


def test_answer_type_match_needs_a_sum_the_question_does_not_hold() -> None:
    f = features_of()
    assert list(f["type_match"]) == [0.0, 1.0, 0.0, 0.0]
    assert list(f["type_missing"]) == [1.0, 0.0, 1.0, 1.0]
    untyped = features_of("What did the council approve for Acme?")
    assert not untyped["type_match"].any() and not untyped["type_missing"].any()


def test_numbers_of_the_question_found_in_a_sentence() -> None:
    f = features_of("Did Acme pay £30m for the ferry line?")
    assert list(f["question_numbers"]) == [0.0, 1.0, 0.0, 0.0]


def test_a_month_of_the_question_counts_like_its_numbers() -> None:
    sentences = [
        ("Acme made the news in March over its fares.", 0, 1),
        ("Acme hit the headlines in May after a fare rise.", 0, 2),
        ("Acme may raise fares again in 2006.", 0, 3),
    ]
    f = features_of("What Acme story made the news in May?", sentences=sentences)
    assert list(f["question_numbers"]) == [0.0, 1.0, 0.0]  # the month, not the verb "may"
    f = features_of("What Acme story made the news in May 2006?", sentences=sentences)
    assert list(f["question_numbers"]) == [0.0, 0.5, 0.5]


def test_novelty_pronoun_position_lede_and_quotation() -> None:
    f = features_of()
    assert f["novelty"][2] == 1.0  # nothing of the question
    assert f["novelty"][0] < f["novelty"][2]
    assert list(f["pronoun_start"]) == [0.0, 1.0, 0.0, 1.0]  # "It paid", "\"It is
    assert list(f["lede"]) == [1.0, 0.0, 0.0, 0.0]
    assert f["position"][3] > f["position"][0]
    assert list(f["quotation"]) == [0.0, 0.0, 0.0, 1.0]
    assert list(f["passage_rank"]) == [1.0, 1.0, 0.5, 0.5]


def test_headlines_are_not_candidate_sentences() -> None:
    from rag.answering.selection import candidate_sentences

    body = "Acme buys ferry line\n\nAcme has bought the ferry line. It paid £30m."
    chunk = ChunkRecord("c1", "a.md", "Acme buys ferry line", 0, len(body), body, None, None, None)
    passage = Passage(chunk, 0.6, np.zeros(4))
    [first, second] = candidate_sentences([passage], lambda source: body)
    assert first.text == "Acme has bought the ferry line."
    assert (first.index, second.index) == (1, 2)
    assert second.previous == first.text


def test_logistic_fit_separates_a_separable_feature() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] > 0.3).astype(float)
    weights, _ = _logistic(x, y)
    assert weights[0] > 1.0 > abs(weights[1])


def test_threshold_refuses_at_most_the_allowed_share_of_answerable_questions() -> None:
    answerable_scores = [0.1 + 0.008 * i for i in range(100)]  # 0.1 .. 0.892
    probabilities = answerable_scores + [0.05, 0.11, 0.2, 0.95]
    answerable = [True] * 100 + [False] * 4
    cut = calibrate_threshold(probabilities, answerable, max_false_refusals=0.02)
    assert sum(p < cut for p in answerable_scores) == 2  # two of a hundred answerable ones refused
    assert sum(p < cut for p in probabilities[100:]) == 2  # and the two unanswerable ones below them
    assert calibrate_threshold(probabilities, answerable, max_false_refusals=0.0) == pytest.approx(0.1)


def test_model_round_trips_through_json() -> None:
    n, m = len(FEATURES), len(QUESTION_FEATURES)
    answerability = AnswerabilityModel(np.zeros(m), np.ones(m), np.linspace(1, -1, m), -0.2, threshold=0.4)
    plain = SelectorModel(np.zeros(n), np.ones(n), np.linspace(-1, 1, n), 0.5)
    rng = np.random.default_rng(2)
    for model in (plain, replace(plain, answerability=answerability)):
        again = SelectorModel.from_json(model.to_json())
        x = rng.normal(size=(3, n))
        assert np.allclose(model.probabilities(x), again.probabilities(x))
        assert (again.answerability is None) == (model.answerability is None)
    assert again.answerability is not None and again.answerability.threshold == 0.4
    row = rng.normal(size=(4, m))
    assert np.allclose(again.answerability.probabilities(row), answerability.probabilities(row))
    again = SelectorModel.from_json(replace(plain, min_score=0.41, min_score_words=7).to_json())
    assert (again.min_score, again.min_score_words) == (0.41, 7)
    older = json.loads(plain.to_json())
    del older["min_score"]  # a model file from before the threshold was fitted
    assert SelectorModel.from_json(json.dumps(older)).min_score == DEFAULT_MIN_SCORE


def retrieved(question_id: str, best: float, answerable: bool, near: bool | None = None) -> Example:
    """A question whose best passage has similarity `best` (what `fit_min_score` reads)."""
    chunk = ChunkRecord("c", "a.md", "Title", 0, 4, "Text", None, None, None)
    passages = (Passage(chunk, best, np.zeros(3)), Passage(chunk, best - 0.1, np.zeros(3)))
    item = EvalItem(question_id, "What happened?", answerable, [], "", near=near)
    scored = Scored(read_question(item.question), [], np.zeros((0, 384)), np.zeros((0, len(FEATURES))), np.zeros(0))
    return Example(item, scored, np.zeros(0), passages)


def test_retrieval_threshold_is_fitted_midway_between_off_topic_and_answerable_questions() -> None:
    examples = [
        retrieved("a1", 0.62, True),
        retrieved("a2", 0.46, True),  # the least similar answerable question
        retrieved("n1", 0.41, False, near=True),  # near-topic: the answerability model's to judge
        retrieved("o1", 0.31, False, near=False),  # the most similar off-topic question
        retrieved("o2", 0.12, False, near=False),
    ]
    min_score, words = fit_min_score(examples)
    assert (min_score, words) == (pytest.approx((0.31 + 0.46) / 2), 2)
    assert fit_min_score(examples[:3]) == (DEFAULT_MIN_SCORE, 0)  # no off-topic question to set it by
    model = SelectorModel(np.zeros(1), np.ones(1), np.zeros(1), 0.0, min_score=0.4, min_score_words=5)
    assert model.retrieval_floor("Why did the ferry operator cut its timetable?") == 0.4
    assert model.retrieval_floor("What has it prompted?") == DEFAULT_MIN_SCORE  # shorter than any it was fitted on


def test_first_pass_model_round_trips_and_picks_the_shortlist() -> None:
    """The shortlist of sentences to embed follows the first-pass model when there is one, and the
    sentence model itself otherwise (a model file from before first-pass models)."""
    n = len(FEATURES)
    by_position = np.zeros(n)
    by_position[FEATURES.index("position")] = -1.0  # earliest sentences first
    by_length = np.zeros(n)
    by_length[FEATURES.index("length")] = 1.0  # longest sentences first
    sentence_model = SelectorModel(np.zeros(n), np.ones(n), by_length, 0.0)
    with_first_pass = replace(sentence_model, first_pass_model=Logistic(np.zeros(n), np.ones(n), by_position, 0.0))
    again = SelectorModel.from_json(with_first_pass.to_json())
    assert again.first_pass_model is not None
    assert SelectorModel.from_json(sentence_model.to_json()).first_pass_model is None

    rows = 2 * EMBEDDED
    matrix = np.zeros((rows, n))
    matrix[:, FEATURES.index("position")] = np.log1p(np.arange(rows))
    matrix[:, FEATURES.index("length")] = np.log1p(np.arange(rows))  # later sentences are longer
    assert first_pass(again, stand_in(matrix)) == list(range(EMBEDDED))
    assert first_pass(sentence_model, stand_in(matrix)) == list(range(EMBEDDED, rows))


def test_stand_in_puts_the_passage_score_in_the_dense_columns_and_no_rerank_score() -> None:
    f = features_of()
    matrix = with_rerank(np.column_stack([f[name] for name in FEATURES]), np.array([1.5, -0.5, 2.0, 0.0]))
    shown = stand_in(matrix)
    assert np.array_equal(shown[:, FEATURES.index("dense")], matrix[:, FEATURES.index("passage_score")])
    assert not shown[:, FEATURES.index("dense_gap")].any() and not shown[:, FEATURES.index("rerank")].any()


def test_rerank_scores_and_their_gap_fill_their_columns_only() -> None:
    f = features_of()
    assert not f["rerank"].any() and not f["rerank_gap"].any()  # 0 until the reranker has run
    matrix = np.column_stack([f[name] for name in FEATURES])
    ranked = with_rerank(matrix, np.array([1.5, -0.5, 2.0, 0.0]))
    assert list(ranked[:, FEATURES.index("rerank")]) == [1.5, -0.5, 2.0, 0.0]
    assert list(ranked[:, FEATURES.index("rerank_gap")]) == [-0.5, -2.5, 0.0, -2.0]
    others = [i for i, name in enumerate(FEATURES) if not name.startswith("rerank")]
    assert np.array_equal(ranked[:, others], matrix[:, others])


def test_answerability_threshold_is_set_on_held_out_probabilities() -> None:
    rng = np.random.default_rng(3)
    answerable = np.array([True] * 150 + [False] * 50)
    # one informative column (answerable questions score higher), one of noise
    rows = np.column_stack([np.where(answerable, 1.0, -1.0) + rng.normal(scale=0.8, size=200), rng.normal(size=200)])
    model = fit_answerability(rows, answerable)
    assert model is not None and model.weights[0] > 1.0 > abs(model.weights[1])
    refused = ~np.array([model.answers(r) for r in rows])
    assert refused[~answerable].mean() >= 0.5  # half the unanswerable ones or more refused
    assert refused[answerable].mean() <= 0.05  # about the allowed 2% of false refusals
    assert fit_answerability(rows, np.ones(200, dtype=bool)) is None  # nothing to learn a refusal from


def test_threshold_is_zero_when_nothing_unanswerable_scores_low() -> None:
    # no evidence for a cut: refusing below the lowest answerable score would only refuse new answerable ones
    assert calibrate_threshold([0.9, 0.5, 0.05], [True, True, True]) == 0.0
    assert calibrate_threshold([0.9, 0.5, 0.6], [True, True, False]) == 0.0


def test_the_fitted_first_pass_ignores_what_is_unknown_before_embedding() -> None:
    """Fitted on stand-in features, the first-pass model has no weight on the sentences' own similarity
    or reranker score, while the sentence model learns from them."""
    rng = np.random.default_rng(4)
    examples = []
    for n in range(40):
        matrix = rng.normal(size=(10, len(FEATURES)))
        labels = np.zeros(10)
        labels[n % 10] = 1.0
        matrix[:, FEATURES.index("rerank")] = 3 * labels + rng.normal(scale=0.1, size=10)  # the reranker knows
        matrix[:, FEATURES.index("position")] = -labels + rng.normal(scale=0.5, size=10)
        scored = Scored(read_question(QUESTION), [], np.zeros((10, 4)), matrix, np.zeros(10))
        examples.append(Example(EvalItem(f"q{n}", QUESTION, True, [], ""), scored, labels, ()))
    model = _fit_weights(examples, [f for f in FEATURES if f != "lede"])
    assert model.first_pass_model is not None
    unknown = [FEATURES.index(f) for f in ("dense", "dense_gap", "rerank", "rerank_gap")]
    assert not model.first_pass_model.weights[unknown].any()
    assert model.weights[FEATURES.index("rerank")] > 0
    assert model.first_pass_model.weights[FEATURES.index("position")] < 0


def test_folds_keep_an_article_s_questions_together() -> None:
    """An answerable question and the traps about its article fall in one fold; every fold holds
    every kind of question."""
    from rag.answering.training import folds

    items = []
    for n in range(12):
        article = f"bbc/business/{n:03d}.txt"
        items.append(EvalItem(f"q{n}-a", "Q?", True, ["x"], "x", [article]))
        items.append(EvalItem(f"q{n}-t", "Q?", False, [], "", [], True, kind="premise", near_source=article))
    items += [EvalItem(f"off{n}", "Q?", False, [], "", [], False) for n in range(4)]
    halves = folds(items, 2)
    assert sorted(i.id for half in halves for i in half) == sorted(i.id for i in items)
    for half in halves:
        assert {(i.answerable, i.near) for i in half} == {(True, None), (False, True), (False, False)}
        articles = {i.article for i in half}
        other = {i.article for h in halves if h is not half for i in h}
        assert not articles & other


def test_grouped_calibration_never_tests_a_row_beside_its_article() -> None:
    """Held-out probabilities come from models fitted without the row's group. One article's ten
    unanswerable rows stand apart on the only column; the other rows' labels do not depend on it.
    Split by row, most of the article would train the model that scores the rest of it (and learn
    that such rows are unanswerable); split by article, nothing it learns from says so."""
    from rag.answering.training import held_out_probabilities

    # The other rows come in pairs about one article each, one answerable and one not at the same
    # value: alone, they teach the column nothing.
    values = np.random.default_rng(0).normal(size=30)
    rows = np.concatenate([np.full(10, 3.0), np.repeat(values, 2)])[:, None]
    answerable = np.array([False] * 10 + [True, False] * 30)
    articles = ["a"] * 10 + [f"g{i // 2}" for i in range(60)]
    by_article = held_out_probabilities(rows, answerable, [0], articles, 5, 3)
    by_row = held_out_probabilities(rows, answerable, [0], [f"r{i}" for i in range(70)], 5, 3)
    assert by_article.shape == (3, 70)
    assert by_article[:, :10] == pytest.approx(0.5, abs=0.02)  # the pairs' even odds
    assert by_row[:, :10].mean() < 0.3  # the leak the grouping prevents


def test_an_answerability_model_learns_from_a_reading() -> None:
    # A smoke fit of a reading model: the question features say nothing, one reading column tells
    # answerable questions apart, the rest is noise; the firmer ridge keeps the noise weights small.
    rng = np.random.default_rng(5)
    answerable = np.array([True] * 150 + [False] * 50)
    questions = rng.normal(size=(200, len(QUESTION_FEATURES)))
    reading = np.column_stack(
        [np.where(answerable, 1.0, -1.0) + rng.normal(scale=0.8, size=200), rng.normal(size=(200, 7))]
    )
    rows = np.hstack([questions, reading])
    model = fit_answerability(rows, answerable, reading_width=8, reading_penalty=30.0)
    assert model is not None and model.reading_width == 8
    signal = len(QUESTION_FEATURES)
    assert model.weights[signal] > 3 * np.abs(np.delete(model.weights, signal)).max()
    refused = ~np.array([model.answers(r) for r in rows])
    assert refused[~answerable].mean() >= 0.5 and refused[answerable].mean() <= 0.05
    # The reading's penalty is its own: a huge one silences the reading, not the question features.
    rows[:, 0] += np.where(answerable, 1.0, -1.0)  # now a question feature tells them apart too
    muted = fit_answerability(rows, answerable, reading_width=8, reading_penalty=1e9)
    assert muted is not None
    assert np.abs(muted.weights[signal:]).max() < 1e-3 < muted.weights[0]


def test_each_column_gets_its_ridge_penalty() -> None:
    from rag.answering.training import L2, column_penalties

    assert list(column_penalties(6, 2, 300.0)) == [L2] * 4 + [300.0, 300.0]
    assert list(column_penalties(4, 0, 300.0)) == [L2] * 4
