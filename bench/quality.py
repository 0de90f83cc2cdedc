"""Retrieval quality: hit@3 of support spans, ours vs the peer, on the dev set (with distractors)
and on 200 needle questions over the 1,000 synthetic articles of `bench.ingest`.

Usage: python -m bench.quality [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from bench.common import DATA_DIR, dev_corpus, write_result
from bench.peer import build_peer, open_peer, peer_embeddings
from bench.synth import generate

REPO = Path(__file__).resolve().parent.parent
HIT_AT = 3
NEEDLES = 200


def our_hits(settings, cases: list[tuple[str, str]]) -> float:
    from rag.api import answer
    from rag.store import open_store

    store = open_store(settings)
    hits = 0
    for question, support in cases:
        result = answer(question, settings=settings, store=store, k=HIT_AT)
        hits += any(support in p.text for p in result.passages[:HIT_AT])
    return round(hits / len(cases), 4)


def peer_hits(peer, cases: list[tuple[str, str]]) -> float:
    hits = sum(any(support in d.page_content for d in peer.similarity_search(q, k=HIT_AT)) for q, support in cases)
    return round(hits / len(cases), 4)


def dev_set(shared: Path, embeddings) -> dict[str, float]:
    from ingest.indexer import ingest
    from rag.config import Settings

    corpus = dev_corpus("dev-corpus", shared)
    settings = Settings(corpus_dir=corpus, data_dir=DATA_DIR / "dev-ours", collection="bench")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    ingest(settings)
    peer_dir = DATA_DIR / "dev-peer"
    shutil.rmtree(peer_dir, ignore_errors=True)
    peer = build_peer(sorted(corpus.iterdir()), peer_dir, embeddings)
    items = [json.loads(x) for x in (shared / "eval" / "dev_set.jsonl").read_text().splitlines() if x.strip()]
    cases = [(d["question"], d["support"]) for d in items if d["answerable"]]
    return {"ours": our_hits(settings, cases), "peer": peer_hits(peer, cases), "questions": len(cases)}


def needles(embeddings, count: int = 1000) -> dict[str, float]:
    from rag.config import Settings

    ours_dir, peer_dir = DATA_DIR / f"ingest-ours-{count}", DATA_DIR / f"ingest-peer-{count}"
    if not ours_dir.exists() or not peer_dir.exists():
        raise SystemExit(f"run `python -m bench.ingest --articles {count}` first")
    settings = Settings(corpus_dir=DATA_DIR / f"ingest-corpus-{count}", data_dir=ours_dir, collection="bench")
    articles = generate(count, seed=7)
    step = max(1, count // NEEDLES)
    cases = [(a.needle.question, a.needle.support) for a in articles[::step][:NEEDLES]]
    peer = open_peer(peer_dir, embeddings)
    return {"ours": our_hits(settings, cases), "peer": peer_hits(peer, cases), "questions": len(cases)}


def main(shared: Path) -> None:
    embeddings = peer_embeddings()
    write_result("quality", {"hit_at": HIT_AT, "dev_set": dev_set(shared, embeddings), "needles": needles(embeddings)})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    main(parser.parse_args().shared)
