"""Train the reranker (rag/answering/reranker/) on the training questions, and one per fold for cross-validation.

Each training question's candidate sentences (those `answer()` reads for it, over the BBC archive)
form one list; see `rag.answering.reranker_training`. The fold rerankers (bench/data/reranker/)
score the questions they were not trained on, so that `bench.answer_quality` fits the selector on
the scores of unseen questions and cross-validates honestly. Seeds are fixed.

Reported: for held-out questions whose answer is among the candidates, how often the reranker (and,
beside it, the embedder's similarity alone) ranks an answer sentence first and among the first three.

Usage: python -m bench.train_reranker [--shared ../shared] [--epochs 2] [--no-final]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from bench.common import DATA_DIR, REPO, archive_index, cached_examples, write_result

FOLDS_DIR = DATA_DIR / "reranker"


def fold_dir(n: int) -> Path:
    return FOLDS_DIR / f"fold-{n}"


def load_fold_rerankers(k: int = 2):
    """The fold rerankers saved by this script (run it first)."""
    from rag.answering.reranker import Reranker
    from rag.config import Settings

    missing = [fold_dir(n) for n in range(k) if not fold_dir(n).is_dir()]
    if missing:
        raise SystemExit(f"no fold rerankers at {missing[0]}: run python -m bench.train_reranker first")
    backend = Settings.from_env().embed_backend  # the backend the shipped reranker runs on
    return [Reranker(weights_dir=fold_dir(n), backend=backend) for n in range(k)]


def _rank_rates(ranks: list[int]) -> dict[str, float]:
    return {
        "first": round(sum(r == 0 for r in ranks) / len(ranks), 4),
        "top3": round(sum(r < 3 for r in ranks) / len(ranks), 4),
        "questions": len(ranks),
    }


def main(shared: Path, epochs: int, final: bool) -> None:
    from rag.answering.reranker import WEIGHTS_DIR
    from rag.answering.reranker_training import first_answer_rank, rank_of_first_answer, train_reranker
    from rag.answering.selection import FEATURES
    from rag.answering.training import folds, ranking_lists

    settings, store = archive_index(shared)
    examples = cached_examples(shared / "eval" / "bbc_train.jsonl", settings, store)
    result: dict = {"epochs": epochs, "folds": []}
    dense = FEATURES.index("dense")
    for n, held_out in enumerate(folds([e.item for e in examples], 2)):
        ids = {i.id for i in held_out}
        train = [e for e in examples if e.item.id not in ids]
        test = [e for e in examples if e.item.id in ids and e.item.answerable and e.labels.any()]
        lists = ranking_lists(train)
        started = time.perf_counter()
        reranker = train_reranker(lists, epochs=epochs)
        took = time.perf_counter() - started
        reranker.module.save(fold_dir(n))
        by_dense = [first_answer_rank(e.scored.features[:, dense], e.ranking_list().answers) for e in test]
        result["folds"].append(
            {
                "trained_on": len(lists),
                "train_seconds": round(took, 1),
                "reranker_held_out": _rank_rates(rank_of_first_answer(reranker, [e.ranking_list() for e in test])),
                "dense_held_out": _rank_rates(by_dense),
            }
        )
        print(result["folds"][-1], flush=True)
    if final:
        lists = ranking_lists(examples)
        started = time.perf_counter()
        train_reranker(lists, epochs=epochs).module.save(WEIGHTS_DIR)
        result["final"] = {"trained_on": len(lists), "train_seconds": round(time.perf_counter() - started, 1)}
    write_result("reranker", result)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--no-final", action="store_true", help="train the fold rerankers only")
    args = parser.parse_args()
    main(args.shared, args.epochs, not args.no_final)
