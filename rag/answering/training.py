"""Fit the sentence selector on an evaluation set, and measure it honestly with k-fold cross-validation.

Each answerable question contributes its candidate sentences, labelled 1 where the sentence
overlaps the question's support span; every question (answerable or not) contributes its best
probability to the refusal threshold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag.answering.extractive import (
    WHOLE_ARTICLES,
    Scored,
    featurize,
    passages_to_read,
    selection_answers,
)
from rag.answering.selection import FEATURES, SelectorModel
from rag.config import Settings
from rag.embeddings import Embedder
from rag.evaluation import EvalItem, EvalReport, evaluate, with_copies
from rag.refusal import is_covered
from rag.retrieval import retrieve, with_whole_articles
from rag.store import Store

log = logging.getLogger(__name__)

L2 = 10.0
"""Ridge penalty on the standardised weights: a few hundred positives want a firm prior."""
POSITIVE_WEIGHT = 1.0
"""Weight of an answer sentence against another candidate in the fit (1: the ridge prior is enough)."""
FALSE_REFUSAL_COST = 3.0
"""Refusing a question the articles answer is worse than answering one they do not: the answer
still quotes the articles, and the reader can judge it; a refusal hides what is there."""


@dataclass(frozen=True)
class Example:
    """One question's candidate sentences, their features and labels."""

    item: EvalItem
    scored: Scored
    labels: np.ndarray
    covered: bool
    """Whether retrieval alone let the question through (`rag.refusal.is_covered`)."""


def collect_examples(
    items: Sequence[EvalItem], settings: Settings, store: Store, embedder: Embedder, features: Sequence[str] = FEATURES
) -> list[Example]:
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
        covered = is_covered(item.question, passages, settings.min_score)
        examples.append(Example(item, scored, labels.astype(np.float64), covered))
    return examples


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


def fit_selector(examples: Sequence[Example], features: Sequence[str] = FEATURES) -> SelectorModel:
    """Fit the logistic model on the labelled sentences, then calibrate the refusal threshold.

    The threshold separates answerable from off-topic questions, on out-of-fold probabilities (each
    half scored by weights fitted on the other half): probabilities of the questions a model was
    fitted on run high, and a threshold set on them refuses too much on new questions.
    """
    weights = _fit_weights(examples, features)
    best: dict[str, float] = {}
    passed: set[str] = set()
    for held_out in folds([e.item for e in examples], 2):
        ids = {i.id for i in held_out}
        inner = _fit_weights([e for e in examples if e.item.id not in ids], features)
        for e in (e for e in examples if e.item.id in ids and len(e.labels)):
            scored = replace(e.scored, probabilities=inner.probabilities(e.scored.features))
            best[e.item.id] = scored.best
            if e.covered and selection_answers(scored):
                passed.add(e.item.id)
    # The threshold is the last check: it is set on the questions that retrieval and the answer-type
    # check let through. Near-topic traps (the archive names the subject, not the fact asked) are
    # left to those checks; a threshold pushed up to catch them refuses real questions that score low.
    calibration = [e for e in examples if e.item.id in passed and (e.item.answerable or not e.item.near)]
    threshold = calibrate_threshold([best[e.item.id] for e in calibration], [e.item.answerable for e in calibration])
    return replace(weights, threshold=threshold)


def _fit_weights(examples: Sequence[Example], features: Sequence[str]) -> SelectorModel:
    """The logistic model over `features` (others get weight 0), without a refusal threshold."""
    columns = [FEATURES.index(f) for f in features]
    rows = [e.scored.features[:, columns] for e in examples if len(e.labels)]
    matrix = np.vstack(rows) if rows else np.zeros((0, len(columns)))
    labels = np.concatenate([e.labels for e in examples if len(e.labels)]) if rows else np.zeros(0)
    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale < 1e-9] = 1.0
    weights, bias = _logistic((matrix - mean) / scale, labels)
    # Features left out (an ablation) get weight 0 and keep the full feature vector's shape.
    full_w, full_mean, full_scale = np.zeros(len(FEATURES)), np.zeros(len(FEATURES)), np.ones(len(FEATURES))
    full_w[columns], full_mean[columns], full_scale[columns] = weights, mean, scale
    return SelectorModel(FEATURES, full_mean, full_scale, full_w, bias, 0.0)


def _logistic(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised, class-weighted logistic regression by Newton's method."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    sample_weight = np.where(y > 0, POSITIVE_WEIGHT, 1.0)
    penalty = np.full(d + 1, L2)
    penalty[-1] = 0.0  # the bias is not shrunk
    beta = np.zeros(d + 1)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (sample_weight * (p - y)) + penalty * beta
        hessian = (design * (sample_weight * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def calibrate_threshold(best: Sequence[float], answerable: Sequence[bool]) -> float:
    """The cut-off on a question's best sentence probability that makes the fewest mistakes.

    A false refusal costs `FALSE_REFUSAL_COST` missed ones; among equally good cut-offs the lowest
    is taken, down to 0 (refuse nothing) when no unanswerable question scores below the answerable
    ones: a new answerable question may score lower than any seen, so refuse no more than needed.
    """
    values = sorted(set(best))
    if not values:
        return 0.0
    cuts = [0.0] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)] + [values[-1] + 1e-6]

    def mistakes(cut: float) -> float:
        pairs = zip(best, answerable, strict=True)
        return sum((FALSE_REFUSAL_COST if ok else 1.0) * ((b < cut) == ok) for b, ok in pairs)

    fewest = min(mistakes(c) for c in cuts)
    return float(min(c for c in cuts if mistakes(c) == fewest))


def folds(items: Sequence[EvalItem], k: int = 2) -> list[list[EvalItem]]:
    """Split questions into k folds, answerable, near-topic and off-topic ones spread evenly, in id order."""
    out: list[list[EvalItem]] = [[] for _ in range(k)]
    groups: dict[object, list[EvalItem]] = {}
    for item in sorted(items, key=lambda i: i.id):
        groups.setdefault((item.answerable, item.near), []).append(item)
    at = 0
    for group in groups.values():
        for item in group:
            out[at % k].append(item)
            at += 1
    return out


def cross_validate(
    items: Sequence[EvalItem],
    settings: Settings,
    store: Store,
    embedder: Embedder,
    *,
    k: int = 2,
    features: Sequence[str] = FEATURES,
    examples: Sequence[Example] | None = None,
) -> EvalReport:
    """Answer each fold's questions with a selector fitted on the other folds only; score them all."""
    from rag.api import answer

    examples = examples if examples is not None else collect_examples(items, settings, store, embedder)
    report = EvalReport()
    for held_out in folds(items, k):
        ids = {i.id for i in held_out}
        model = fit_selector([e for e in examples if e.item.id not in ids], features)
        fold = evaluate(
            held_out,
            lambda q, m=model: answer(q, settings=settings, store=store, embedder=embedder, selector=m),  # type: ignore[misc]
            store.records,
        )
        report.items.extend(fold.items)
    order = {item.id: n for n, item in enumerate(items)}
    report.items.sort(key=lambda r: order[r.id])
    return report


def top_n_rate(examples: Sequence[Example], model: SelectorModel, n: int = 3) -> float:
    """Share of answerable questions whose answer sentence is among the model's n most probable."""
    answerable = [e for e in examples if e.item.answerable]
    hits = 0
    for e in answerable:
        if len(e.labels):
            top = np.argsort(-model.probabilities(e.scored.features))[:n]
            hits += bool(e.labels[top].any())
    return hits / len(answerable) if answerable else 0.0
