"""Answerability on bbc_train, cross-validated by article: how many near-topic traps the refusal
model refuses, per kind of trap, at a given share of answerable questions refused.

The rows are those `fit_selector` fits the answerability model on: each question scored by the
fold reranker and the selector that did not see its article. Each feature set's model is fitted and
tested by article-grouped 5-fold splits of those rows, repeated; its threshold is the one that
refuses the given share of held-out answerable questions (never chosen by accuracy on the
trap-heavy mix). Questions that retrieval's floor already refuses are not rows: `bench.answer_quality`
reports the whole pipeline.

Usage: python -m bench.answerability [--shared ../shared]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REPO, archive_index, write_result

RATES = (0.02, 0.03, 0.05)
"""Shares of answerable questions refused at which the traps refused are reported."""
REPEATS = 10
FEATURE_SETS = {
    "all": None,
    "without best_rerank": ("best_rerank",),
    "without the answer-type and year checks": ("typed_answer", "dated_article"),
}


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The share of (positive, negative) pairs that the scores order right (ties count half)."""
    if not len(positive) or not len(negative):
        return float("nan")
    greater = (positive[:, None] > negative[None, :]).mean()
    return float(greater + 0.5 * (positive[:, None] == negative[None, :]).mean())


def refused_at(probabilities: np.ndarray, answerable: np.ndarray, kinds: list[str], rate: float) -> dict[str, Any]:
    """Per repeat: the cut refusing `rate` of held-out answerable rows; the share of each kind refused (mean)."""
    shares: dict[str, list[float]] = {}
    for held in probabilities:
        cut = np.quantile(held[answerable], rate)
        for kind in sorted(set(kinds)):
            rows = np.array([k == kind for k in kinds])
            shares.setdefault(kind, []).append(float((held[rows] < cut).mean()))
    return {kind: round(float(np.mean(v)), 3) for kind, v in shares.items()}


def kind_of(item: Any) -> str:
    """What a question is, as these figures count it: answerable, off-topic or its kind of trap."""
    if item.answerable:
        return "answerable"
    return "off-topic" if item.near is False else item.kind or "near (no kind)"


def held_out_figures(
    rows: np.ndarray,
    answerable: np.ndarray,
    kinds: list[str],
    groups: list[str],
    columns: list[int],
    penalty: float | np.ndarray | None = None,
) -> dict[str, Any]:
    """AUC against near-topic traps and traps refused per kind at `RATES`, of models over `columns`
    fitted without each row's article (5-fold, `REPEATS` times; ridge `penalty`, default the
    training's)."""
    from rag.answering.training import held_out_probabilities

    ridge = {} if penalty is None else {"penalty": penalty}
    held = held_out_probabilities(rows, answerable, columns, groups, 5, REPEATS, **ridge)
    near = np.array([k not in ("answerable", "off-topic") for k in kinds])
    return {
        "auc_answerable_vs_near_topic": round(float(np.mean([auc(h[answerable], h[near]) for h in held])), 4),
        **{f"refused_at_{rate:.0%}_of_answerable": refused_at(held, answerable, kinds, rate) for rate in RATES},
    }


def main(shared: Path) -> None:
    from bench.train_reranker import fold_scored_examples
    from rag.answering.selection import QUESTION_FEATURES
    from rag.answering.training import answerability_rows

    settings, store = archive_index(shared)
    examples = fold_scored_examples(shared / "eval" / "bbc_train.jsonl", settings, store)
    rows, judged = answerability_rows(examples)
    answerable = np.array([e.item.answerable for e in judged])
    kinds = [kind_of(e.item) for e in judged]
    groups = [e.item.article for e in judged]
    result: dict[str, Any] = {
        "rows": dict(zip(*np.unique(kinds, return_counts=True), strict=True)),
        "not_judged_refused_by_retrieval": len([e for e in examples if e not in judged]),
    }
    result["rows"] = {k: int(v) for k, v in result["rows"].items()}
    for name, left_out in FEATURE_SETS.items():
        columns = [i for i, f in enumerate(QUESTION_FEATURES) if not left_out or f not in left_out]
        result[name] = held_out_figures(rows, answerable, kinds, groups, columns)
        print(name, result[name], flush=True)
    write_result("answerability", result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    main(parser.parse_args().shared)
