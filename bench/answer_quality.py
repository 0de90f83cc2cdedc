"""Answer quality: fit the selector on the training questions, cross-validate it there, test it on the dev set.

- bbc_train.jsonl (archive indexed) is for fitting and choosing. Its figures are 2-fold
  cross-validated: each half answered by a selector fitted on the other half only, with the
  reranker trained on the other half only (bench.train_reranker's fold rerankers), whose scores
  of each question also come from the reranker that did not see it.
- bbc_dev.jsonl is the test set: answered once by the selector fitted on all of bbc_train and the
  shipped reranker (trained on bbc_train), never used to choose anything.
- The seed dev set (seed + distractor articles): answered by the same selector.
- Ablation (train CV): feature groups left out in turn.

`--write-model` writes the fitted sentence model to rag/answering/selector.json and its answerability
model (the four question features) to rag/answering/answerability.json.
`--local-llm` instead answers the BBC dev set once with the `local` answerer (SmolLM2-135M).

Usage: python -m bench.answer_quality [--shared ../shared] [--write-model] [--no-ablation] [--no-train-cv] [--local-llm]
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import (
    DATA_DIR,
    REPO,
    archive_index,
    build_index,
    dev_corpus,
    latencies_ms,
    write_result,
)

ABLATIONS = {
    "reranker": ("rerank", "rerank_gap"),
    "dense": ("dense", "dense_gap"),
    "word overlap": ("idf_overlap", "overlap_gap", "focus_overlap", "previous_overlap", "article_overlap"),
    "names and numbers": ("names_in_sentence", "names_in_article", "question_numbers"),
    "answer type": ("type_match", "type_missing"),
    "position": ("position", "passage_rank"),
}
"""Feature groups left out in turn (one feature alone is nearly always covered by its neighbours)."""
QUESTION_ABLATIONS = {
    "reranker (answerability)": ("best_rerank",),
    "answer-type and year checks (answerability)": ("typed_answer", "dated_article"),
}
"""Features of the answerability model left out in turn: each hand rule must earn its place."""


def main(shared: Path, write_model: bool, ablation: bool, train_cv_answers: bool = True) -> None:
    from bench.train_reranker import fold_scored_examples, load_fold_rerankers
    from rag.answering.reranker import get_reranker
    from rag.answering.selection import ANSWERABILITY_FILE, FEATURES, FITTED_FEATURES, MODEL_FILE, QUESTION_FEATURES
    from rag.answering.training import cross_validate, fit_selector, top_n_rate
    from rag.api import answer
    from rag.embeddings import get_embedder
    from rag.evaluation import evaluate, load_eval_set

    embedder = get_embedder()
    settings, store = archive_index(shared)
    train_file = shared / "eval" / "bbc_train.jsonl"
    train_items = load_eval_set(train_file)
    fold_rerankers = load_fold_rerankers()
    train_examples = fold_scored_examples(train_file, settings, store)
    fitted = fit_selector(train_examples)
    if write_model:
        # Two files: the answerability model apart, where bench.train_answerability may write another.
        assert fitted.answerability is not None  # bbc_train has unanswerable questions to learn from
        MODEL_FILE.write_text(replace(fitted, answerability=None).to_json() + "\n", encoding="utf-8")
        ANSWERABILITY_FILE.write_text(fitted.answerability.to_json() + "\n", encoding="utf-8")

    def cv(features=FITTED_FEATURES, answerability_features=QUESTION_FEATURES) -> dict[str, Any]:
        report = cross_validate(
            train_items,
            settings,
            store,
            embedder,
            examples=train_examples,
            rerankers=fold_rerankers,
            features=features,
            answerability_features=answerability_features,
        )
        return report.overall() | {"_items": report.items}

    def ask_dev(q: str):
        return answer(q, settings=settings, store=store, embedder=embedder, selector=fitted, reranker=get_reranker())

    train_cv = cv() if train_cv_answers else {"_items": []}
    dev_items = load_eval_set(shared / "eval" / "bbc_dev.jsonl")
    dev = evaluate(dev_items, ask_dev, store.records)

    seed_corpus = DATA_DIR / "seed-dev" / "corpus"
    if not seed_corpus.is_dir():
        shutil.copytree(dev_corpus("seed-dev-corpus", shared), seed_corpus)
    seed_settings, seed_store = build_index(seed_corpus, DATA_DIR / "seed-dev" / "data")
    seed = evaluate(
        load_eval_set(shared / "eval" / "dev_set.jsonl"),
        lambda q: answer(q, settings=seed_settings, store=seed_store, selector=fitted),
        seed_store.records,
    )
    seed_over_archive = evaluate(
        load_eval_set(shared / "eval" / "dev_set.jsonl"),
        lambda q: answer(q, settings=settings, store=store, embedder=embedder, selector=fitted),
        store.records,
    )
    answerable = [e for e in train_examples if e.item.answerable]
    result: dict[str, Any] = {
        "bbc_train_cross_validated_2_fold": _public(train_cv),
        "bbc_dev_test": dev.overall(),
        "seed_dev": seed.overall(),
        "seed_dev_over_seed_and_archive": seed_over_archive.overall(),
        "train_answer_sentence_among_candidates": round(sum(e.labels.any() for e in answerable) / len(answerable), 4),
        "train_answer_sentence_in_top3_fitted": round(top_n_rate(train_examples, fitted), 4),
        "answer_latency_bbc_dev": latencies_ms(ask_dev, [i.question for i in dev_items]),
        "weights": dict(zip(FEATURES, [round(float(w), 3) for w in fitted.weights], strict=True)),
        "answerability": {
            "weights": dict(
                zip(QUESTION_FEATURES, [round(float(w), 3) for w in fitted.answerability.weights], strict=True)
            )
            if fitted.answerability
            else None,
            "threshold": round(fitted.answerability.threshold, 4) if fitted.answerability else None,
        },
        "bbc_train_cross_validated_items": [
            {"id": r.id, "refused": r.refused, "facts": r.facts_ok, "support": r.support_ok, "hit": r.hit}
            for r in train_cv["_items"]
        ],
        "bbc_dev_items": [
            {"id": r.id, "refused": r.refused, "facts": r.facts_ok, "support": r.support_ok, "hit": r.hit}
            for r in dev.items
        ],
    }
    if ablation:
        result["ablation_bbc_train_cross_validated"] = {
            f"without {name}": _short(cv([f for f in FITTED_FEATURES if f not in left_out]))
            for name, left_out in ABLATIONS.items()
        }
        result["ablation_bbc_train_cross_validated"] |= {
            f"without {name}": _short(cv(answerability_features=[f for f in QUESTION_FEATURES if f not in left_out]))
            for name, left_out in QUESTION_ABLATIONS.items()
        }
        result["ablation_bbc_train_cross_validated"]["(all features)"] = _short(train_cv)
    write_result("answer_quality", result)


def local_llm(shared: Path) -> None:
    """The BBC dev set answered by the bundled small LLM (with the shipped selector's passages)."""
    from rag.api import answer
    from rag.evaluation import evaluate, load_eval_set

    settings, store = archive_index(shared)
    settings = settings.with_overrides(llm="local")
    items = load_eval_set(shared / "eval" / "bbc_dev.jsonl")
    report = evaluate(items, lambda q: answer(q, settings=settings, store=store), store.records)
    write_result("answer_quality_local", report.to_dict())


def _public(overall: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in overall.items() if not k.startswith("_")}


def _short(overall: dict[str, Any]) -> dict[str, Any]:
    keys = ("fact_accuracy", "support", "hit_at_4", "refused_near_topic", "refused_off_topic", "false_refusals")
    return {k: overall[k] for k in keys}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument(
        "--write-model", action="store_true", help="refit rag/answering/selector.json and answerability.json"
    )
    parser.add_argument("--no-ablation", action="store_true", help="skip the feature ablation")
    parser.add_argument("--no-train-cv", action="store_true", help="skip answering bbc_train by cross-validation")
    parser.add_argument("--local-llm", action="store_true", help="answer the BBC set with the local LLM instead")
    args = parser.parse_args()
    if args.local_llm:
        local_llm(args.shared)
    else:
        main(args.shared, args.write_model, not args.no_ablation and not args.no_train_cv, not args.no_train_cv)
