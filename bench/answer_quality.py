"""Answer quality: fit the sentence selector, report cross-validated and fitted figures, and ablations.

- BBC dev set (archive indexed): 2-fold cross-validation (each half answered by a selector fitted on
  the other half only), and the figures of the shipped selector (fitted on everything: optimistic).
- Seed dev set (seed + distractor articles): answered by a selector fitted on the BBC questions
  only, which never saw these questions, and by the shipped selector.
- Ablation: the cross-validated BBC figures with each feature left out in turn.

`--write-model` refits the shipped selector (rag/answering/selector.json) on both dev sets.
`--local-llm` instead answers the BBC dev set once with the `local` answerer (SmolLM2-135M).

Usage: python -m bench.answer_quality [--shared ../shared] [--write-model] [--no-ablation] [--local-llm]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from bench.common import DATA_DIR, REPO, archive_corpus, dev_corpus, latencies_ms, write_result


def build_index(corpus: Path, data_dir: Path):
    from ingest.indexer import ingest
    from rag.config import Settings
    from rag.store import open_store

    settings = Settings(corpus_dir=corpus, data_dir=data_dir)
    store = open_store(settings)
    ingest(settings, store=store)  # incremental: a kept index is only checked
    return settings, store


def main(shared: Path, write_model: bool, ablation: bool) -> None:
    from rag.answering.selection import FEATURES, MODEL_FILE, SelectorModel
    from rag.answering.training import collect_examples, cross_validate, fit_selector, top_n_rate
    from rag.api import answer
    from rag.embeddings import get_embedder
    from rag.evaluation import evaluate, load_eval_set

    embedder = get_embedder()
    bbc_settings, bbc_store = build_index(archive_corpus(DATA_DIR / "archive", shared), DATA_DIR / "archive" / "data")
    seed_corpus = DATA_DIR / "seed-dev" / "corpus"
    if not seed_corpus.is_dir():
        shutil.copytree(dev_corpus("seed-dev-corpus", shared), seed_corpus)
    seed_settings, seed_store = build_index(seed_corpus, DATA_DIR / "seed-dev" / "data")
    bbc_items = load_eval_set(shared / "eval" / "bbc_dev.jsonl")
    seed_items = load_eval_set(shared / "eval" / "dev_set.jsonl")
    bbc_examples = collect_examples(bbc_items, bbc_settings, bbc_store, embedder)
    seed_examples = collect_examples(seed_items, seed_settings, seed_store, embedder)

    def run(items, settings, store, model: SelectorModel) -> dict[str, Any]:
        ask = lambda q: answer(q, settings=settings, store=store, embedder=embedder, selector=model)  # noqa: E731
        return evaluate(items, ask, store.records).overall()

    fitted = fit_selector(bbc_examples + seed_examples)
    if write_model:
        MODEL_FILE.write_text(fitted.to_json() + "\n", encoding="utf-8")
    bbc_only = fit_selector(bbc_examples)
    cv = cross_validate(bbc_items, bbc_settings, bbc_store, embedder, examples=bbc_examples)
    candidates_hold_answer = sum(e.labels.any() for e in bbc_examples if e.item.answerable) / 50
    result: dict[str, Any] = {
        "bbc_dev": {
            "cross_validated_2_fold": cv.overall(),
            "fitted_on_all": run(bbc_items, bbc_settings, bbc_store, fitted),
            "answer_sentence_among_candidates": round(candidates_hold_answer, 4),
            "answer_sentence_in_top3_fitted": round(top_n_rate(bbc_examples, fitted), 4),
            "cross_validated_items": [
                {"id": r.id, "refused": r.refused, "facts": r.facts_ok, "support": r.support_ok, "hit": r.hit}
                for r in cv.items
            ],
        },
        "seed_dev": {
            "fitted_on_bbc_only": run(seed_items, seed_settings, seed_store, bbc_only),
            "fitted_on_all": run(seed_items, seed_settings, seed_store, fitted),
        },
        "answer_latency_bbc": latencies_ms(
            lambda q: answer(q, settings=bbc_settings, store=bbc_store, embedder=embedder, selector=fitted),
            [i.question for i in bbc_items],
        ),
        "weights": dict(zip(FEATURES, [round(float(w), 3) for w in fitted.weights], strict=True)),
        "threshold": round(fitted.threshold, 4),
    }
    if ablation:
        result["ablation_bbc_cross_validated"] = {
            name: _short(
                cross_validate(
                    bbc_items,
                    bbc_settings,
                    bbc_store,
                    embedder,
                    examples=bbc_examples,
                    features=[f for f in FEATURES if f != name],
                ).overall()
            )
            for name in FEATURES
        }
        result["ablation_bbc_cross_validated"]["(all features)"] = _short(cv.overall())
    write_result("answer_quality", result)


def local_llm(shared: Path) -> None:
    """The BBC dev set answered by the bundled small LLM (with the shipped selector's passages)."""
    from rag.api import answer
    from rag.evaluation import evaluate, load_eval_set

    settings, store = build_index(archive_corpus(DATA_DIR / "archive", shared), DATA_DIR / "archive" / "data")
    settings = settings.with_overrides(llm="local")
    items = load_eval_set(shared / "eval" / "bbc_dev.jsonl")
    report = evaluate(items, lambda q: answer(q, settings=settings, store=store), store.records)
    write_result("answer_quality_local", report.to_dict())


def _short(overall: dict[str, Any]) -> dict[str, Any]:
    keys = ("fact_accuracy", "support", "hit_at_4", "refused_near_topic", "refused_off_topic", "false_refusals")
    return {k: overall[k] for k in keys}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--write-model", action="store_true", help="refit rag/answering/selector.json")
    parser.add_argument("--no-ablation", action="store_true", help="skip the feature ablation")
    parser.add_argument("--local-llm", action="store_true", help="answer the BBC set with the local LLM instead")
    args = parser.parse_args()
    if args.local_llm:
        local_llm(args.shared)
    else:
        main(args.shared, args.write_model, not args.no_ablation)
