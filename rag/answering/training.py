"""Fit the sentence selector on an evaluation set, and measure it honestly with k-fold cross-validation.

Each answerable question contributes its candidate sentences, labelled 1 where the sentence
overlaps the question's support span. Every question (answerable or not) contributes one row of
`QUESTION_FEATURES` to the answerability model, which decides refusals; its rows are scored by
selectors that did not see the question, and its threshold is set on its own held-out probabilities.

The reranker's scores are features too. They must come from a reranker that did not see the
question (`with_rerank_scores`): one that did is surer of its answers than it will be on new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rag.answering.extractive import (
    WHOLE_ARTICLES,
    Scored,
    featurize,
    first_pass,
    passages_to_read,
    question_features,
)
from rag.answering.reranker import Reranker, pair_text
from rag.answering.reranker_training import RankingList
from rag.answering.selection import (
    DEFAULT_MIN_SCORE,
    FEATURES,
    FIRST_PASS_FEATURES,
    FITTED_FEATURES,
    QUESTION_FEATURES,
    AnswerabilityModel,
    Logistic,
    SelectorModel,
    stand_in,
    with_dense,
    with_rerank,
)
from rag.config import Settings
from rag.embeddings import Embedder
from rag.evaluation import EvalItem, EvalReport, evaluate, with_copies
from rag.refusal import is_covered
from rag.retrieval import Passage, retrieve, with_whole_articles
from rag.store import Store

log = logging.getLogger(__name__)

L2 = 10.0
"""Ridge penalty on the standardised weights: a few hundred positives want a firm prior."""
POSITIVE_WEIGHT = 1.0
"""Weight of an answer sentence against another candidate in the fit (1: the ridge prior is enough)."""
MAX_FALSE_REFUSAL_RATE = 0.02
"""Share of answerable questions the refusal threshold may refuse (held out). Refusing a question the
articles answer is worse than answering one they do not: the answer still quotes the articles, and
the reader can judge it; a refusal hides what is there. On bbc_train's held-out probabilities, 2%
refuses a quarter of the near-topic traps and every off-topic question that retrieval lets through;
at 5% it refuses barely more."""


CALIBRATION_REPEATS = 10
"""Repeated k-fold splits whose held-out probabilities set the refusal threshold together. With one
split, the 2% quantile rests on three or so rows of a half: on bbc_train CV it refused 11/300
answerable questions (near-topic 9/36); pooled over ten splits, 5/300 (7/36), within the policy."""


@dataclass(frozen=True)
class Example:
    """One question's candidate sentences, their features and labels."""

    item: EvalItem
    scored: Scored
    """Every candidate sentence, embedded (no prefilter), its reranker columns 0 until `with_rerank_scores`."""
    labels: np.ndarray
    passages: tuple[Passage, ...]
    """What retrieval found, to judge whether it lets the question through at a threshold."""

    @property
    def best_score(self) -> float:
        """The best passage's similarity to the question (0 without passages)."""
        return max((p.score for p in self.passages), default=0.0)

    def covered(self, min_score: float) -> bool:
        """Whether retrieval alone lets the question through at `min_score` (`rag.refusal.is_covered`)."""
        return is_covered(self.item.question, self.passages, min_score)

    def ranking_list(self) -> RankingList:
        """The question's candidates as a reranker training list (answers: the labelled sentences)."""
        answers = frozenset(int(i) for i in np.flatnonzero(self.labels))
        sentences = tuple(pair_text(c.title, c.text) for c in self.scored.candidates)
        return RankingList(self.item.question, sentences, answers)


def collect_examples(items: Sequence[EvalItem], settings: Settings, store: Store, embedder: Embedder) -> list[Example]:
    """Retrieve and featurise every question the way `answer()` does, and label its sentences."""
    bodies: dict[str, str] = {}

    def body(source: str) -> str | None:
        if source not in bodies:
            bodies[source] = store.records.body(source) or ""
        return bodies[source]

    examples = []
    for item in items:
        item = with_copies(item, store.records)
        vector = embedder.embed_one(item.question)
        passages = retrieve(store, item.question, vector, passages_to_read(settings.top_k))
        read = with_whole_articles(store, passages, vector, WHOLE_ARTICLES)
        scored = featurize(item.question, vector, read, embedder, body, store.records.document_frequencies)
        labels = np.array([_overlaps_support(item, c.source, c.start, c.end, body) for c in scored.candidates])
        examples.append(Example(item, scored, labels.astype(np.float64), tuple(passages)))
    return examples


def with_rerank_scores(examples: Sequence[Example], rerankers: Sequence[Reranker], k: int = 2) -> list[Example]:
    """The examples with reranker scores, each question scored by `rerankers[i]` where `i` is its
    fold in `folds(..., k)`: the reranker trained without that fold (`bench.train_reranker` trains them)."""
    fold_of = {item.id: n for n, fold in enumerate(folds([e.item for e in examples], k)) for item in fold}
    out = []
    for e in examples:
        scores, readings = rerankers[fold_of[e.item.id]].read(e.item.question, list(e.ranking_list().sentences))
        scored = replace(e.scored, features=with_rerank(e.scored.features, scores), readings=readings)
        out.append(replace(e, scored=scored))
    return out


def ranking_lists(examples: Sequence[Example]) -> list[RankingList]:
    """Training lists for the reranker: answerable questions whose candidates hold the answer, and
    unanswerable ones (all candidates wrong); an answerable question whose answer was not retrieved
    teaches nothing true about its candidates and is left out."""
    return [e.ranking_list() for e in examples if e.scored.candidates and e.labels.any() != (not e.item.answerable)]


def prefiltered(example: Example, model: SelectorModel) -> Scored:
    """The question as `answer()` scores it: the sentences of the model's `first_pass`, with
    probabilities from `model`."""
    scored = example.scored
    keep = first_pass(model, stand_in(scored.features))
    features = scored.features[keep]
    # The gaps to the best sentence are measured among the kept ones, as at answer time.
    features = with_dense(features, features[:, FEATURES.index("dense")])
    features = with_rerank(features, features[:, FEATURES.index("rerank")])
    return replace(
        scored,
        candidates=[scored.candidates[i] for i in keep],
        vectors=scored.vectors[keep],
        features=features,
        probabilities=model.probabilities(features),
        readings=scored.readings[keep] if scored.readings is not None else None,
    )


def _overlaps_support(item: EvalItem, source: str, start: int, end: int, body: Callable[[str], str | None]) -> bool:
    if not item.answerable or not item.support or (item.sources and source not in item.sources):
        return False
    text = body(source) or ""
    at = text.find(item.support)
    while at >= 0:
        if start < at + len(item.support) and at < end:
            return True
        at = text.find(item.support, at + 1)
    return False


def fit_selector(
    examples: Sequence[Example],
    features: Sequence[str] = FITTED_FEATURES,
    answerability_features: Sequence[str] = QUESTION_FEATURES,
) -> SelectorModel:
    """Fit the logistic model on the labelled sentences, then the answerability model.

    The answerability model learns from out-of-fold rows (each half scored by a selector fitted
    on the other half only): a selector is surer of the questions it was fitted on, and a refusal
    model fitted on that would refuse too much on new questions. Its threshold is set on its own
    held-out probabilities, for the same reason. Its rows are the questions that pass retrieval's
    lowest floor, `DEFAULT_MIN_SCORE`, that of short questions: it judges those too, and without
    the off-topic rows between that floor and the fitted one it weighs the year check half as much.
    """
    min_score, words = fit_min_score(examples)
    weights = replace(_fit_weights(examples, features), min_score=min_score, min_score_words=words)
    rows, judged = answerability_rows(examples, features)
    columns = [QUESTION_FEATURES.index(f) for f in answerability_features]
    answerable = np.array([e.item.answerable for e in judged])
    model = fit_answerability(rows, answerable, columns=columns, groups=[e.item.article for e in judged])
    return replace(weights, answerability=model)


def answerability_rows(
    examples: Sequence[Example], features: Sequence[str] = FITTED_FEATURES
) -> tuple[np.ndarray, list[Example]]:
    """The `QUESTION_FEATURES` rows of the questions the answerability model judges (those with
    candidates that pass retrieval's lowest floor), each scored by a selector fitted on the other
    fold only, and those questions in the same order."""
    rows, judged = [], []
    for held_out in folds([e.item for e in examples], 2):
        ids = {i.id for i in held_out}
        inner = _fit_weights([e for e in examples if e.item.id not in ids], features)
        held = (e for e in examples if e.item.id in ids and e.scored.candidates)
        for e in (e for e in held if e.covered(DEFAULT_MIN_SCORE)):
            rows.append(question_features(prefiltered(e, inner)))
            judged.append(e)
    return np.array(rows).reshape(len(rows), len(QUESTION_FEATURES)), judged


def fit_min_score(examples: Sequence[Example]) -> tuple[float, int]:
    """Retrieval's refusal threshold: midway between the best passage similarity of the most similar
    off-topic question and that of the least similar answerable one (the widest margin between the
    two), and the fewest words of a question it was fitted on; without both kinds of question,
    `DEFAULT_MIN_SCORE` for all.

    Near-topic questions do not set it: their passages are as similar as those of answerable ones,
    and the answerability model judges them. Retrieval refuses what is off the archive's topics."""
    off_topic = [e.best_score for e in examples if not e.item.answerable and e.item.near is False]
    answerable = [e.best_score for e in examples if e.item.answerable]
    if not off_topic or not answerable:
        return DEFAULT_MIN_SCORE, 0
    return (max(off_topic) + min(answerable)) / 2, min(len(e.item.question.split()) for e in examples)


def fit_answerability(
    rows: np.ndarray,
    answerable: np.ndarray,
    k: int = 5,
    columns: Sequence[int] | None = None,
    groups: Sequence[str] | None = None,
    *,
    reading_width: int = 0,
    reading_penalty: float = L2,
) -> AnswerabilityModel | None:
    """A logistic model of "the articles answer this question" over question rows (over `columns`
    only, for an ablation: the others get weight 0), with the refusal threshold chosen on the held-out
    probabilities of `CALIBRATION_REPEATS` k-fold splits (`calibrate_threshold`), rows of one of
    `groups` (the article they are about) on one side of each split. Rows whose last `reading_width`
    columns are the reranker's reading make a model that reads it; those columns are many and
    each weak, so their ridge penalty is `reading_penalty`, while the few question features keep
    `L2`. None without unanswerable questions to learn from."""
    if answerable.all() or not answerable.any():
        return None
    columns = list(range(rows.shape[1])) if columns is None else list(columns)
    penalty = column_penalties(rows.shape[1], reading_width, reading_penalty)
    model = _fit_logistic(rows, answerable.astype(np.float64), columns, penalty)
    names = list(groups) if groups is not None else [str(i) for i in range(len(rows))]
    probabilities = held_out_probabilities(rows, answerable, columns, names, k, CALIBRATION_REPEATS, penalty)
    labels = np.tile(answerable, CALIBRATION_REPEATS)
    threshold = calibrate_threshold(probabilities.ravel().tolist(), labels.tolist())
    return AnswerabilityModel(
        model.mean, model.scale, model.weights, model.bias, threshold=threshold, reading_width=reading_width
    )


def column_penalties(width: int, reading_width: int, reading_penalty: float) -> np.ndarray:
    """The ridge penalty of each column of a row whose last `reading_width` columns are a reading."""
    penalty = np.full(width, L2)
    penalty[width - reading_width :] = reading_penalty
    return penalty


def held_out_probabilities(
    rows: np.ndarray,
    answerable: np.ndarray,
    columns: Sequence[int],
    groups: Sequence[str],
    k: int,
    repeats: int,
    penalty: float | np.ndarray = L2,
) -> np.ndarray:
    """The answerability probability of each row from models fitted without its group (its article),
    over `repeats` random k-fold splits of the groups: shape (repeats, rows). One split's quantile
    rests on a handful of rows; the repeats pool many."""
    group_of = _indexes(groups)
    out = np.zeros((repeats, len(rows)))
    for repeat in range(repeats):
        fold_of_group = np.random.default_rng(repeat).permutation(group_of.max() + 1) % k
        for fold in range(k):
            test = np.flatnonzero(fold_of_group[group_of] == fold)
            train = np.flatnonzero(fold_of_group[group_of] != fold)
            inner = _fit_logistic(rows[train], answerable[train].astype(np.float64), columns, penalty)
            out[repeat, test] = inner.probabilities(rows[test])
    return out


def _indexes(names: Sequence[str]) -> np.ndarray:
    """Each name's position among the distinct names, sorted."""
    position = {n: i for i, n in enumerate(sorted(set(names)))}
    return np.array([position[n] for n in names])


def _fit_logistic(
    matrix: np.ndarray, labels: np.ndarray, columns: Sequence[int], penalty: float | np.ndarray = L2
) -> Logistic:
    """Standardise `columns` of the matrix and fit a logistic model on them with ridge `penalty` (one
    for all, or one per column of the matrix); the other columns get weight 0 (an ablation) and the
    model keeps the full row's shape."""
    columns = list(columns)
    width = matrix.shape[1]
    mean, scale, weights = np.zeros(width), np.ones(width), np.zeros(width)
    used = matrix[:, columns]
    spread = used.std(axis=0)
    spread[spread < 1e-9] = 1.0
    mean[columns], scale[columns] = used.mean(axis=0), spread
    ridge = np.broadcast_to(np.asarray(penalty, dtype=np.float64), (width,))[columns]
    weights[columns], bias = _logistic((used - mean[columns]) / spread, labels, penalty=ridge)
    return Logistic(mean, scale, weights, bias)


def _fit_weights(examples: Sequence[Example], features: Sequence[str]) -> SelectorModel:
    """The sentence model over `features`, without an answerability model."""
    fitted = [e for e in examples if len(e.labels)]
    matrix = np.vstack([e.scored.features for e in fitted]) if fitted else np.zeros((0, len(FEATURES)))
    labels = np.concatenate([e.labels for e in fitted]) if fitted else np.zeros(0)
    model = _fit_logistic(matrix, labels, [FEATURES.index(f) for f in features])
    shortlisted_by = [FEATURES.index(f) for f in FIRST_PASS_FEATURES if f in features]
    first_pass = _fit_logistic(stand_in(matrix), labels, shortlisted_by)
    return SelectorModel(model.mean, model.scale, model.weights, model.bias, first_pass_model=first_pass)


def _logistic(
    x: np.ndarray, y: np.ndarray, iterations: int = 50, penalty: float | np.ndarray = L2
) -> tuple[np.ndarray, float]:
    """L2-regularised (one penalty, or one per column), class-weighted logistic regression by Newton's method."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    sample_weight = np.where(y > 0, POSITIVE_WEIGHT, 1.0)
    ridge = np.zeros(d + 1)  # the bias is not shrunk
    ridge[:-1] = penalty
    beta = np.zeros(d + 1)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (sample_weight * (p - y)) + ridge * beta
        hessian = (design * (sample_weight * p * (1 - p))[:, None]).T @ design + np.diag(ridge + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def calibrate_threshold(
    probabilities: Sequence[float], answerable: Sequence[bool], max_false_refusals: float = MAX_FALSE_REFUSAL_RATE
) -> float:
    """The highest cut-off on held-out answerability probabilities that refuses at most a
    `max_false_refusals` share of the answerable questions; 0 (refuse nothing) when even that cut
    would refuse no unanswerable question, since then it would only refuse new answerable ones."""
    scores = sorted(p for p, ok in zip(probabilities, answerable, strict=True) if ok)
    if not scores:
        return 0.0
    allowed = int(max_false_refusals * len(scores))
    cut = scores[allowed] if allowed < len(scores) else scores[-1] + 1e-6  # refused: strictly below the cut
    caught = sum(p < cut for p, ok in zip(probabilities, answerable, strict=True) if not ok)
    return float(cut) if caught else 0.0


def folds(items: Sequence[EvalItem], k: int = 2) -> list[list[EvalItem]]:
    """Split questions into k folds by article: every question about one article (its answerable
    questions and the near-topic traps about it) falls in one fold, so a model is never tested on an
    article it learned from. Articles are dealt in id order, those with an answerable question first,
    so answerable, near-topic and off-topic questions spread evenly."""
    by_article: dict[str, list[EvalItem]] = {}
    for item in sorted(items, key=lambda i: i.id):
        by_article.setdefault(item.article, []).append(item)
    kinds = sorted(by_article.values(), key=lambda group: (_group_kind(group), group[0].id))
    out: list[list[EvalItem]] = [[] for _ in range(k)]
    for at, group in enumerate(kinds):
        out[at % k].extend(group)
    return out


def _group_kind(group: Sequence[EvalItem]) -> int:
    """0: an article with an answerable question; 1: near-topic traps only; 2: off-topic questions."""
    if any(i.answerable for i in group):
        return 0
    return 1 if any(i.near is not False for i in group) else 2


def cross_validate(
    items: Sequence[EvalItem],
    settings: Settings,
    store: Store,
    embedder: Embedder,
    *,
    k: int = 2,
    features: Sequence[str] = FITTED_FEATURES,
    examples: Sequence[Example] | None = None,
    rerankers: Sequence[Reranker] | None = None,
    answerability_features: Sequence[str] = QUESTION_FEATURES,
) -> EvalReport:
    """Answer each fold's questions with a selector fitted on the other folds only; score them all.

    `rerankers[i]` answers fold i: give rerankers trained without each fold (`bench.train_reranker` trains them)
    for figures of questions nothing was fitted on. Without, the shipped reranker answers, and the
    figures are honest only for questions it was not trained on. `examples` must carry the same
    rerankers' scores (`with_rerank_scores`).
    """
    from rag.answering.reranker import get_reranker
    from rag.api import answer

    if examples is None:
        examples = collect_examples(items, settings, store, embedder)
        examples = with_rerank_scores(examples, rerankers or [get_reranker()] * k, k)
    report = EvalReport()
    for n, held_out in enumerate(folds(items, k)):
        ids = {i.id for i in held_out}
        model = fit_selector([e for e in examples if e.item.id not in ids], features, answerability_features)
        reranker = rerankers[n] if rerankers else get_reranker()

        def ask(q: str, m: SelectorModel = model, r: Reranker = reranker, **filters: Any) -> Any:
            return answer(q, settings=settings, store=store, embedder=embedder, selector=m, reranker=r, **filters)

        fold = evaluate(held_out, ask, store.records)
        report.items.extend(fold.items)
    order = {item.id: n for n, item in enumerate(items)}
    report.items.sort(key=lambda r: order[r.id])
    return report


def fit_on(items: Sequence[EvalItem], settings: Settings, store: Store) -> SelectorModel:
    """A selector fitted on `items` (with the shipped reranker's scores) to answer another set with.

    The shipped reranker was trained on the project's training questions: a selector fitted on
    those same questions here trusts it more than on new ones (bench.answer_quality avoids that).
    """
    from rag.answering.reranker import get_reranker
    from rag.embeddings import get_embedder

    examples = collect_examples(items, settings, store, get_embedder())
    return fit_selector(with_rerank_scores(examples, [get_reranker()] * 2))


def top_n_rate(examples: Sequence[Example], model: SelectorModel, n: int = 3) -> float:
    """Share of answerable questions whose answer sentence is among the model's n most probable."""
    answerable = [e for e in examples if e.item.answerable]
    hits = 0
    for e in answerable:
        if len(e.labels):
            top = np.argsort(-model.probabilities(e.scored.features))[:n]
            hits += bool(e.labels[top].any())
    return hits / len(answerable) if answerable else 0.0
