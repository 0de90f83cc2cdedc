"""Ingest speed: ours vs raw `SentenceTransformer.encode` of the same chunk texts vs the peer pipeline.

Usage: python -m bench.ingest [--articles 1000] [--archive [--shared ../shared]]

`--archive` indexes the BBC archive in shared/ (2,225 real articles plus the seed) instead of a
synthetic corpus, and records `ingest-archive`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from bench.common import DATA_DIR, REPO, archive_corpus, write_result
from bench.peer import build_peer, peer_embeddings
from bench.synth import write_corpus


def main(count: int, shared: Path | None = None) -> None:
    from sentence_transformers import SentenceTransformer

    from ingest.chunker import chunk_article
    from ingest.indexer import ingest
    from ingest.loader import iter_article_files, load_articles
    from rag.config import Settings
    from rag.embeddings import bundled_model_path, get_embedder

    name = "archive" if shared else str(count)
    if shared:
        corpus = archive_corpus(DATA_DIR / "archive", shared)
    else:
        corpus = DATA_DIR / f"ingest-corpus-{count}"
        if not corpus.exists():
            write_corpus(corpus, count, seed=7)
    ours_dir, peer_dir = DATA_DIR / f"ingest-ours-{name}", DATA_DIR / f"ingest-peer-{name}"
    for d in (ours_dir, peer_dir):
        shutil.rmtree(d, ignore_errors=True)
    settings = Settings(corpus_dir=corpus, data_dir=ours_dir, collection="bench")
    embedder = get_embedder()
    embedder.load()  # loaded before any timing, for every contender
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")  # the raw-encode baseline
    peer_emb = peer_embeddings()
    files = list(iter_article_files(corpus))

    # The exact texts our ingest embeds.
    articles, _ = load_articles(files, corpus, max_bytes=settings.max_file_bytes)
    texts = [c.text for a in articles for c in chunk_article(a, embedder.count_tokens, settings.chunk_tokens)]
    model.encode(texts[:64])  # warm-up
    peer_emb.embed_documents(texts[:64])

    def raw() -> float:
        started = time.perf_counter()
        model.encode(texts)  # library defaults, as a user would call it
        return time.perf_counter() - started

    # On the archive the raw-encode baseline (two more full embeddings, ~8 min each) is left out:
    # the synthetic run measures it; the archive run compares with the peer and times a re-ingest.
    raw_first = raw() if shared is None else None
    started = time.perf_counter()
    first = ingest(settings)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    peer_store = build_peer(files, peer_dir, peer_emb)
    peer = time.perf_counter() - started
    peer_chunks = peer_store._collection.count()
    raw_second = raw() if shared is None else None
    embedded_before = embedder.texts_embedded
    started = time.perf_counter()
    again = ingest(settings)
    reingest = time.perf_counter() - started
    raw_figures = {}
    if raw_first is not None and raw_second is not None:
        raw_time = (raw_first + raw_second) / 2
        raw_figures = {
            "raw_encode_s": round(raw_time, 2),
            "raw_encode_runs_s": [round(raw_first, 2), round(raw_second, 2)],
            "ratio_ours_over_raw": round(ours / raw_time, 3),
        }
    write_result(
        f"ingest-{name}",
        {
            "articles": len(files),
            "our_chunks": len(texts),
            "peer_chunks": peer_chunks,
            **raw_figures,
            "ours_s": round(ours, 2),
            "peer_s": round(peer, 2),
            "reingest_s": round(reingest, 3),
            "reingest_embeddings": embedder.texts_embedded - embedded_before,
            "reingest_report": again.summary(),
            "first_report": first.summary(),
            "ratio_ours_over_peer": round(ours / peer, 3),
            "ratio_reingest_over_first": round(reingest / ours, 4),
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--archive", action="store_true", help="index the BBC archive instead of synthetic articles")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="where the BBC archive is")
    args = parser.parse_args()
    main(args.articles, args.shared if args.archive else None)
