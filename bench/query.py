"""Retrieval and answer latency (warm), their growth with index size, and peak memory.

Usage:
  python -m bench.query latency          # at 1k, 10k, 100k chunks; the peer at 10k
  python -m bench.query rss --size 100000  # peak RSS while answering (run in its own process)
Needs the indexes from `python -m bench.scale_index`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import DATA_DIR, latencies_ms, peak_rss_mb, read_result, write_result
from bench.scale_index import CORPUS, SIZES, index_dir, settings_for
from bench.synth import generate

QUESTIONS = 200


def questions_for(size: int) -> list[str]:
    """Needle questions about articles that are in the index of this size."""
    from rag.store import open_store

    indexed = {a.source for a in open_store(settings_for(index_dir(size))).records.articles()}
    needles = [a.needle.question for a in generate(60_000, seed=11)[: len(indexed) + 10] if a.name in indexed]
    step = max(1, len(needles) // QUESTIONS)
    return needles[::step][:QUESTIONS]


def our_retrieval(size: int, questions: list[str]) -> dict[str, float]:
    from rag.embeddings import get_embedder
    from rag.retrieval import retrieve
    from rag.store import open_store

    store, embedder = open_store(settings_for(index_dir(size))), get_embedder()
    return latencies_ms(lambda q: retrieve(store, q, embedder.embed_one(q), 4), questions)


def our_answer(size: int, questions: list[str]) -> dict[str, float]:
    from rag.api import answer
    from rag.store import open_store

    settings = settings_for(index_dir(size))
    store = open_store(settings)
    return latencies_ms(lambda q: answer(q, settings=settings, store=store), questions)


def peer_retrieval(size: int, questions: list[str]) -> dict[str, float]:
    """The peer indexed over the same articles as our index of this size."""
    from bench.peer import build_peer, open_peer, peer_embeddings
    from rag.store import open_store

    embeddings = peer_embeddings()
    persist = DATA_DIR / f"peer-index-{size}"
    if not persist.exists():
        sources = [a.source for a in open_store(settings_for(index_dir(size))).records.articles()]
        started = time.perf_counter()
        build_peer([CORPUS / s for s in sources], persist, embeddings)
        print(f"peer index over {len(sources)} articles built in {time.perf_counter() - started:.0f}s", flush=True)
    peer = open_peer(persist, embeddings)
    result = latencies_ms(lambda q: peer.similarity_search(q, k=4), questions)
    result["chunks"] = peer._collection.count()
    return result


def latency() -> None:
    results: dict[str, Any] = {}
    earlier = read_result("query")
    for size in SIZES:
        if not index_dir(size).exists():
            # A size without an index keeps its earlier figures, listed with their date, so that
            # re-measuring the small sizes does not erase the 100k one (40 minutes to rebuild).
            kept = {k: v for k, v in earlier.items() if k.endswith(f"_{size}")}
            results |= kept
            if kept:  # a figure carried over twice keeps the date it was measured on
                first = [c for c in earlier.get("carried_over", []) if c.startswith(f"{size} ")]
                note = first[0] if first else f"{size} (recorded {earlier.get('recorded')})"
                results.setdefault("carried_over", []).append(note)
            print(f"skipping {size}: no index; run python -m bench.scale_index")
            continue
        qs = questions_for(size)
        results[f"retrieval_{size}"] = our_retrieval(size, qs)
        if size == 10_000:
            results[f"answer_{size}"] = our_answer(size, qs)
            results[f"peer_similarity_search_{size}"] = peer_retrieval(size, qs)
    r = results
    summary = {}
    if "retrieval_10000" in r and "peer_similarity_search_10000" in r:
        summary["retrieval_over_peer_10k"] = round(
            r["retrieval_10000"]["p50_ms"] / r["peer_similarity_search_10000"]["p50_ms"], 3
        )
    if "carried_over" in r and "retrieval_growth_1k_to_100k" in earlier:
        # a ratio of two runs' figures would mix two states of a shared machine: keep the earlier run's
        summary["retrieval_growth_1k_to_100k"] = earlier["retrieval_growth_1k_to_100k"]
    elif "retrieval_1000" in r and "retrieval_100000" in r:
        summary["retrieval_growth_1k_to_100k"] = round(
            r["retrieval_100000"]["p50_ms"] / r["retrieval_1000"]["p50_ms"], 3
        )
    write_result("query", {**results, **summary})


def rss(size: int) -> None:
    from rag.api import answer
    from rag.store import open_store

    settings = settings_for(index_dir(size))
    store = open_store(settings)
    qs = questions_for(size)[:100]
    started = time.perf_counter()
    for q in qs:
        answer(q, settings=settings, store=store)
    write_result(
        f"rss-{size}",
        {
            "size": size,
            "chunks": store.records.counts()[1],
            "questions": len(qs),
            "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mb": peak_rss_mb(),
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["latency", "rss"])
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    latency() if args.what == "latency" else rss(args.size)
