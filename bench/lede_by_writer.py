"""Does the lede feature transfer between question writers? Leave-one-writer-out CV on bbc_train.

bbc_train's six writers (ids bt1- to bt6-) are held out in turn; the selector is fitted on the
other five with and without the `lede` feature, and scored by how often it ranks an answer
sentence of the held-out writer's questions first and among its first three. Reranker scores are
out of fold (each question scored by the fold reranker that did not see it). Also recorded: the
share of each writer's answers that lie in the lede.

Usage: python -m bench.lede_by_writer [--shared ../shared]   (needs bench.train_reranker's fold rerankers)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.common import REPO, archive_index, cached_examples, write_result


def main(shared: Path) -> None:
    from bench.train_reranker import load_fold_rerankers
    from rag.answering.selection import FEATURES
    from rag.answering.training import fit_selector, top_n_rate, with_rerank_scores

    settings, store = archive_index(shared)
    train_file = shared / "eval" / "bbc_train.jsonl"
    examples = with_rerank_scores(cached_examples(train_file, settings, store), load_fold_rerankers())
    writers = sorted({e.item.id.split("-")[0] for e in examples})
    lede = FEATURES.index("lede")
    in_lede = {}
    for w in writers:
        found = [e for e in examples if e.item.answerable and e.item.id.startswith(f"{w}-") and e.labels.any()]
        in_lede[w] = round(
            float(np.mean([bool((e.scored.features[e.labels.astype(bool), lede] > 0).any()) for e in found])), 3
        )
    variants = {"with_lede": list(FEATURES), "without_lede": [f for f in FEATURES if f != "lede"]}
    result = {}
    for name, features in variants.items():
        per_writer = {}
        for w in writers:
            model = fit_selector([e for e in examples if not e.item.id.startswith(f"{w}-")], features)
            held_out = [e for e in examples if e.item.id.startswith(f"{w}-")]
            per_writer[w] = {
                "top1": round(top_n_rate(held_out, model, 1), 3),
                "top3": round(top_n_rate(held_out, model, 3), 3),
            }
        result[name] = {
            "top1": round(float(np.mean([v["top1"] for v in per_writer.values()])), 3),
            "top3": round(float(np.mean([v["top3"] for v in per_writer.values()])), 3),
            "per_writer": per_writer,
        }
    write_result("lede_by_writer", {"answers_in_lede_by_writer": in_lede, **result})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    main(parser.parse_args().shared)
