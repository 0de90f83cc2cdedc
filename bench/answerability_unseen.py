"""Answerability of the shipped models on the bbc_train questions they were not fitted on.

The shipped reranker and selector were fitted on bbc_train's first six writers (bt1-bt6, 348
questions); the other fourteen writers' 1,316 questions (bt7-bt20: answerable ones, typed near-topic
traps, off-topic ones) are new to them, so answering them with `answer()` as shipped is a held-out
run of the whole pipeline. This script does that over the seed + the BBC archive, scoring each
answer as `rag eval` does, and records what the answerability model reads for every question it
judges (its question features, and the features and probabilities of the sentences it chose
among). Then answerability models over those rows are cross-validated by article (5-fold splits of
the articles, repeated), per feature set: near-topic traps refused per kind at 2/3/5% of answerable
questions refused. Nothing here chooses on bbc_dev.

Usage: python -m bench.answerability_unseen [--shared ../shared]
Records `answerability_unseen`; the answered rows are cached under bench/data.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.answerability import auc, held_out_figures, kind_of
from bench.common import DATA_DIR, REPO, archive_index, write_result

SEEN_WRITERS = frozenset(f"bt{n}" for n in range(1, 7))
"""The writers whose questions the shipped reranker and selector were fitted on."""
TOP = 3
"""Sentences of a question's most probable ones whose features summarise it (those quoted first)."""


def rows_key(path: Path) -> str:
    """What the rows depend on: the questions, the code of `rag/`, the reranker's weights and the
    selector's sentence model (not the answerability model, which the rows are for)."""
    from rag.answering.reranker import WEIGHTS_DIR, WEIGHTS_FILE
    from rag.answering.selection import MODEL_FILE

    key = hashlib.sha256(path.read_bytes())
    for source in sorted((REPO / "rag").rglob("*.py")):
        key.update(source.read_bytes())
    key.update((WEIGHTS_DIR / WEIGHTS_FILE).read_bytes())
    key.update(MODEL_FILE.read_bytes())
    return key.hexdigest()[:12]


def judged_rows(shared: Path) -> list[dict[str, Any]]:
    """Every unseen question answered by `answer()` as shipped, with what the answerability model read."""
    import rag.api
    from rag.evaluation import load_eval_set, score_answer, with_copies

    path = shared / "eval" / "bbc_train.jsonl"
    cache = DATA_DIR / f"answerability-unseen-{rows_key(path)}.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    from rag.answering.extractive import best_reading, question_features

    settings, store = archive_index(shared)
    items = [i for i in load_eval_set(path) if i.id.split("-")[0] not in SEEN_WRITERS]
    seen: dict[str, Any] = {}
    judge = rag.api.answers_question

    def recording(model: Any, scored: Any) -> bool:
        seen["scored"] = scored
        seen["row"] = question_features(scored)
        return judge(model, scored)

    rag.api.answers_question = recording
    rows = []
    try:
        for n, item in enumerate(items):
            seen.clear()
            item = with_copies(item, store.records)
            result = rag.api.answer(item.question, settings=settings, store=store)
            scored = score_answer(item, result, lambda s: store.records.body(s) or "", 0.0)
            row: dict[str, Any] = {"item": item, "refused": result.refused, "facts_ok": scored.facts_ok}
            if "scored" in seen:
                s = seen["scored"]
                top = np.argsort(-s.probabilities)[:TOP]
                row |= {"question_row": seen["row"], "top_features": s.features[top], "names": len(s.question.names)}
                row["reading"] = best_reading(s)
            rows.append(row)
            if n % 100 == 0:
                print(f"{n}/{len(items)}", flush=True)
    finally:
        rag.api.answers_question = judge
    cache.write_bytes(pickle.dumps(rows))
    return rows


def pipeline_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What `answer()` as shipped did: facts of answerable questions, refusals per kind."""
    kinds = [kind_of(r["item"]) for r in rows]
    answerable = [r for r, k in zip(rows, kinds, strict=True) if k == "answerable"]
    out: dict[str, Any] = {
        "questions": len(rows),
        "fact_accuracy": round(np.mean([bool(r["facts_ok"]) for r in answerable]), 3),
    }
    for kind in sorted(set(kinds)):
        of_kind = [r for r, k in zip(rows, kinds, strict=True) if k == kind]
        out[f"refused_{kind}"] = f"{sum(r['refused'] for r in of_kind)}/{len(of_kind)}"
    return out


def extra_features(row: dict[str, Any]) -> dict[str, float]:
    """Candidate question features, from the most probable sentences' features."""
    from rag.answering.selection import FEATURES

    top = row["top_features"]

    def best(name: str) -> float:
        return float(top[:, FEATURES.index(name)].max()) if len(top) else 0.0

    return {
        "names_in_article": best("names_in_article"),
        "names_in_sentence": best("names_in_sentence"),
        "idf_overlap": best("idf_overlap"),
        "focus_overlap": best("focus_overlap"),
        "dense": best("dense"),
        "type_missing": float(top[:, FEATURES.index("type_missing")].min()) if len(top) else 1.0,
    }


def nested_pipeline(rows: list[dict[str, Any]], matrix: np.ndarray, judged: list[int], **fit: Any) -> dict[str, Any]:
    """What `answer()` would do with an answerability model fitted as `fit_answerability` fits the
    shipped one (threshold included; `fit` passed on), each question judged by a model fitted without
    its article (5 article-grouped folds): facts of the answerable questions, refusals per kind.
    Questions the model does not judge keep what `answer()` as collected did with them."""
    from rag.answering.training import _indexes, fit_answerability

    items = [rows[i]["item"] for i in judged]
    answerable = np.array([i.answerable for i in items])
    group_of = _indexes([i.article for i in items])
    fold_of_group = np.random.default_rng(0).permutation(group_of.max() + 1) % 5
    refused = {i: rows[i]["refused"] for i in range(len(rows))}
    for fold in range(5):
        test = np.flatnonzero(fold_of_group[group_of] == fold)
        train = np.flatnonzero(fold_of_group[group_of] != fold)
        model = fit_answerability(matrix[train], answerable[train], groups=[items[j].article for j in train], **fit)
        assert model is not None
        for j in test:
            refused[judged[j]] = not model.answers(matrix[j])
    changed = [{**r, "refused": refused[i], "facts_ok": r["facts_ok"] and not refused[i]} for i, r in enumerate(rows)]
    return pipeline_figures(changed)


def main(shared: Path) -> None:
    from rag.answering.extractive import with_reading
    from rag.answering.selection import QUESTION_FEATURES, shipped_model
    from rag.answering.training import _fit_logistic

    rows = judged_rows(shared)
    result: dict[str, Any] = {"pipeline_as_shipped": pipeline_figures(rows)}
    judged_at = [n for n, r in enumerate(rows) if "question_row" in r]
    judged = [rows[n] for n in judged_at]
    answerable = np.array([r["item"].answerable for r in judged])
    kinds = [kind_of(r["item"]) for r in judged]
    groups = [r["item"].article for r in judged]
    result["judged_rows"] = dict(Counter(kinds))
    near = np.array([k not in ("answerable", "off-topic") for k in kinds])
    base = np.array([r["question_row"] for r in judged])
    extras = [extra_features(r) for r in judged]
    names = list(QUESTION_FEATURES) + [f"{n} (top {TOP})" for n in extras[0]]
    matrix = np.hstack([base, np.array([list(e.values()) for e in extras])])
    shipped = shipped_model().answerability
    if shipped is not None:
        rows_read = [
            with_reading(b, r.get("reading"), shipped.reading_width) for b, r in zip(base, judged, strict=True)
        ]
        p = np.array([shipped.probability(row) for row in rows_read])
        result["shipped_model_on_these_rows"] = {
            "auc_answerable_vs_near_topic": round(auc(p[answerable], p[near]), 4),
            "refused_at_its_threshold": {
                k: f"{int(sum(p[i] < shipped.threshold for i, kk in enumerate(kinds) if kk == k))}/{kinds.count(k)}"
                for k in sorted(set(kinds))
            },
        }
    sets = {
        "QUESTION_FEATURES, refit on these rows": list(QUESTION_FEATURES),
        "+ overlap": [*QUESTION_FEATURES, f"idf_overlap (top {TOP})", f"focus_overlap (top {TOP})"],
        "+ names": [*QUESTION_FEATURES, f"names_in_article (top {TOP})", f"names_in_sentence (top {TOP})"],
        "+ dense, type_missing": [*QUESTION_FEATURES, f"dense (top {TOP})", f"type_missing (top {TOP})"],
    }
    for label, chosen in sets.items():
        columns = [names.index(n) for n in chosen]
        fitted = _fit_logistic(matrix, answerable.astype(np.float64), columns)
        result[label] = {
            "weights": {n: round(float(fitted.weights[names.index(n)]), 3) for n in chosen},
            **held_out_figures(matrix, answerable, kinds, groups, columns),
            "pipeline_held_out": nested_pipeline(rows, matrix[:, columns], judged_at),
        }
        print(label, result[label], flush=True)
    write_result("answerability_unseen", result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    main(parser.parse_args().shared)
