"""Build (once) our indexes of about 1k, 10k and 100k chunks from the synthetic corpus.

Each size is the previous one plus more articles, indexed incrementally; a snapshot of the data
dir is kept per size under bench/data/. Later runs reuse what exists.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from bench.common import DATA_DIR
from bench.synth import generate

SIZES = (1_000, 10_000, 100_000)
CORPUS = DATA_DIR / "scale-corpus"
WORK = DATA_DIR / "scale-work"


def index_dir(chunks: int) -> Path:
    return DATA_DIR / f"index-{chunks}"


def settings_for(data_dir):
    from rag.config import Settings

    return Settings(corpus_dir=CORPUS, data_dir=data_dir, collection="bench")


def build(sizes=SIZES) -> None:
    from ingest.indexer import ingest
    from rag.store import open_store

    articles = generate(60_000, seed=11)
    CORPUS.mkdir(parents=True, exist_ok=True)
    written = len(list(CORPUS.glob("*.md")))
    settings = settings_for(WORK)
    for target in sizes:
        if index_dir(target).exists():
            print(f"index of {target} chunks exists")
            continue
        store = open_store(settings)
        while store.records.counts()[1] < target:
            have = store.records.counts()[1]
            # About 2.3 chunks per article: add a slice, index it, and look again.
            more = max(10, int((target - have) / 2.3 * 0.9))
            for a in articles[written : written + more]:
                (CORPUS / a.name).write_text(a.text, encoding="utf-8")
            written += more
            started = time.perf_counter()
            report = ingest(settings, progress=True)
            print(
                f"{report.summary()} in {time.perf_counter() - started:.0f}s; {store.records.counts()[1]} chunks",
                flush=True,
            )
        store.records.close()
        shutil.copytree(WORK, index_dir(target))
        print(f"snapshot {index_dir(target)}: {store.records.counts()} (articles, chunks)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max", type=int, default=SIZES[-1], help="largest index to build")
    args = parser.parse_args()
    build(tuple(s for s in SIZES if s <= args.max))
