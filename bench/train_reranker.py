"""Train the reranker (rag/answering/reranker/) on the training questions, and one per fold for cross-validation.

Each training question's candidate sentences (those `answer()` reads for it, over the BBC archive)
form one list; see `rag.answering.reranker_training`. The fold rerankers (bench/data/reranker/)
score the questions they were not trained on, so that `bench.answer_quality` fits the selector on
the scores of unseen questions and cross-validates honestly. Seeds are fixed.

Reported: for held-out questions whose answer is among the candidates, how often the reranker (and,
beside it, the embedder's similarity alone) ranks an answer sentence first and among the first three.

Usage: python -m bench.train_reranker [--shared ../shared] [--epochs N] [--no-final | --final-only | --fold N]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from bench.common import DATA_DIR, REPO, archive_index, cached_examples, write_result
from rag.answering.reranker_training import EPOCHS
from rag.answering.training import folds

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


def fold_scored_examples(eval_file: Path, settings, store, only_fold: int | None = None) -> list:
    """The eval set's examples (`cached_examples`) with each question's candidates scored by the fold
    reranker that did not see it (as `with_rerank_scores` does), each fold's scores cached under
    bench/data until the examples or that fold reranker's weights change (scoring every candidate
    takes minutes). With `only_fold`, that fold's questions only."""
    import hashlib
    import pickle

    from rag.answering.training import with_rerank_scores

    examples = cached_examples(eval_file, settings, store)
    halves = folds([e.item for e in examples], 2)
    out: dict[str, object] = {}
    for n, half in enumerate(halves):
        if only_fold is not None and n != only_fold:
            continue
        ids = {i.id for i in half}
        mine = [e for e in examples if e.item.id in ids]
        key = hashlib.sha256(pickle.dumps(sorted(ids)))
        key.update(str(sum(len(e.scored.candidates) for e in mine)).encode())
        key.update((fold_dir(n) / "weights.safetensors").read_bytes())
        path = DATA_DIR / f"fold-scored-{eval_file.stem}-{n}-{key.hexdigest()[:12]}.pkl"
        if path.is_file():
            scored = pickle.loads(path.read_bytes())
        else:
            # Every example of this fold is scored by fold n's reranker (the others' slots are unused).
            scored = with_rerank_scores(mine, [_fold_reranker(n)] * 2)
            path.write_bytes(pickle.dumps(scored))
        out.update({e.item.id: e for e in scored})
    return [out[e.item.id] for e in examples if e.item.id in out]


def _fold_reranker(n: int):
    from rag.answering.reranker import Reranker
    from rag.config import Settings

    return Reranker(weights_dir=fold_dir(n), backend=Settings.from_env().embed_backend)


def _rank_rates(ranks: list[int]) -> dict[str, float]:
    return {
        "first": round(sum(r == 0 for r in ranks) / len(ranks), 4),
        "top3": round(sum(r < 3 for r in ranks) / len(ranks), 4),
        "questions": len(ranks),
    }


def main(shared: Path, epochs: int, final: bool, fold_models: bool = True, only_fold: int | None = None) -> None:
    from rag.answering.reranker import WEIGHTS_DIR
    from rag.answering.reranker_training import first_answer_rank, rank_of_first_answer, train_reranker
    from rag.answering.selection import FEATURES
    from rag.answering.training import ranking_lists

    settings, store = archive_index(shared)
    examples = cached_examples(shared / "eval" / "bbc_train.jsonl", settings, store)
    result: dict = {"epochs": epochs, "folds": []}
    dense = FEATURES.index("dense")
    for n, held_out in enumerate(folds([e.item for e in examples], 2) if fold_models else []):
        if only_fold is not None and n != only_fold:
            continue
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
    name = "reranker" if only_fold is None else f"reranker-fold-{only_fold}"
    write_result(name if fold_models else "reranker-final", result)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--no-final", action="store_true", help="train the fold rerankers only")
    parser.add_argument("--final-only", action="store_true", help="train the shipped reranker only")
    parser.add_argument("--fold", type=int, help="train this fold's reranker only (and no final one)")
    args = parser.parse_args()
    final = not args.no_final and args.fold is None
    main(args.shared, args.epochs, final, fold_models=not args.final_only, only_fold=args.fold)
