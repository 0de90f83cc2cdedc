"""Copy an index to another place without embedding anything again: say, from the embedded store of
one machine to PostgreSQL and a Chroma server that several chat servers share.

Articles, chunks (same ids), signatures, copy groups and saved feeds go to the target's records;
the vectors go to the target's Chroma collection unless both indexes keep their vectors in the same
one. Each group of articles is written as `rag ingest` writes it (vectors journalled as pending,
then the records in one transaction), so a copy that dies midway leaves a consistent, smaller index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ingest.feeds import META_KEY as FEEDS_KEY
from ingest.indexer import chunk_metadata
from rag.config import Settings
from rag.documents import Article, Chunk
from rag.errors import ConfigError, CopyTargetError, IndexMissingError, StoreUnavailableError
from rag.filters import DAYS_META
from rag.store import BACKEND_KEY, Store, open_store

BATCH_ARTICLES = 200
COPIED_META = ("last_ingest", FEEDS_KEY, BACKEND_KEY)
"""What the copy carries over besides the articles: when the index was last brought up to date, the
saved feeds (with what each has already delivered, so the copy does not fetch it again), and which
embedder backend made the vectors."""


@dataclass
class CopyReport:
    articles: int = 0
    chunks: int = 0
    vectors: int = 0
    """Vectors written to the target's collection."""
    shared_vectors: bool = False
    """Whether the target uses the source's collection (nothing to write there)."""
    left_out: list[str] = field(default_factory=list)
    """Articles not copied because the source's collection lacks some of their vectors (`rag
    ingest` in the source repairs that; then copy again)."""

    def summary(self) -> str:
        where = "vectors shared with the source" if self.shared_vectors else f"{self.vectors} vectors"
        text = f"copied {self.articles} articles, {self.chunks} chunks ({where})"
        if self.left_out:
            text += (
                f"; left out {len(self.left_out)} articles whose vectors are missing: run `rag ingest`, then copy again"
            )
        return text


def copy_index(source: Settings, target: Settings, *, replace: bool = False) -> CopyReport:
    """Copy the index of `source` into the (empty, or with `replace` emptied) index of `target`."""
    src = open_store(source)
    if not src.records.has_articles():
        raise IndexMissingError(f"there is no index at {src.records.location} to copy; run `rag ingest` first")
    dst = _target_store(target)
    if src.records.location == dst.records.location:
        raise CopyTargetError(
            f"the target's records are the source's ({src.records.location}); give another database URL or data dir"
        )
    shared_vectors = _same_vectors(source, target)
    with src.records.ingest_lock(), dst.records.ingest_lock():
        held, _ = dst.records.counts()
        # The target's collection may hold another index's vectors even when its records are empty.
        vectors_held = 0 if shared_vectors else dst.collection.count()
        if (held or vectors_held) and not replace:
            raise CopyTargetError(
                f"the target index at {dst.records.location} is not empty ({held} articles, {vectors_held} vectors "
                f"in collection {target.collection!r}); pass --replace to overwrite it"
            )
        if shared_vectors:
            dst.records.reset()  # the vectors are the source's own: keep them
        else:
            dst.drop()
        dst.claim_for_embedder()
        report = CopyReport(shared_vectors=shared_vectors)
        signatures = src.records.signatures()
        for group in _article_groups(src):
            if not shared_vectors:
                group = _copy_vectors(src, dst, group, report)
            dst.records.replace_articles(
                group, [], {a.source: signatures[a.source] for a, _ in group if a.source in signatures}
            )
            dst.records.clear_pending([c.id for _, chunks in group for c in chunks])
            report.articles += len(group)
            report.chunks += sum(len(chunks) for _, chunks in group)
        dst.records.set_copy_groups(src.records.copy_groups())
        for key in COPIED_META:
            value = src.records.get_meta(key)
            if value is not None:
                dst.records.set_meta(key, value)
        dst.records.set_meta(DAYS_META, "1")  # every copied chunk carries its day (chunk_metadata)
        dst.bump_generation()
    return report


_TARGET_OPTIONS = {
    "RAG_DATABASE_URL": "--to-database-url",
    "RAG_CHROMA_URL": "--to-chroma-url",
    "RAG_DATA_DIR": "--to-data-dir",
}
"""The target's settings come from these options, so its errors name them, not the variables."""


def _target_store(target: Settings) -> Store:
    """The target's store, reachable (its records and its Chroma are opened now, before any write)."""
    try:
        store = open_store(target)
        store.client  # noqa: B018 - opening the client is the check
        return store
    except (ConfigError, StoreUnavailableError) as exc:
        message = str(exc)
        for variable, option in _TARGET_OPTIONS.items():
            message = message.replace(f"unset {variable}", f"check {option}").replace(variable, option)
        raise CopyTargetError(f"the target: {message}") from None


def _same_vectors(a: Settings, b: Settings) -> bool:
    """Whether two settings name one Chroma collection."""
    if a.collection != b.collection or a.chroma_url != b.chroma_url:
        return False
    return a.chroma_url is not None or a.data_dir.resolve() == b.data_dir.resolve()


def _article_groups(src: Store) -> Iterator[list[tuple[Article, list[Chunk]]]]:
    """The source's articles with their chunks, `BATCH_ARTICLES` at a time."""
    sources = [a.source for a in src.records.articles()]
    for at in range(0, len(sources), BATCH_ARTICLES):
        batch = sources[at : at + BATCH_ARTICLES]
        ids = src.records.chunk_ids_of(batch)  # each article's in order: a chunk's index is its place
        records = src.records.chunks_by_id(ids)
        by_source: dict[str, list[Chunk]] = {source: [] for source in batch}
        for chunk_id in ids:
            r = records[chunk_id]
            chunks = by_source[r.source]
            chunks.append(Chunk(r.id, r.source, len(chunks), r.start, r.end, r.text))
        articles = (src.records.article(source) for source in batch)
        yield [(a, by_source[a.source]) for a in articles if a is not None]


def _copy_vectors(
    src: Store, dst: Store, group: list[tuple[Article, list[Chunk]]], report: CopyReport
) -> list[tuple[Article, list[Chunk]]]:
    """Write the group's vectors to the target's collection, journalled as `rag ingest` does; return
    the articles whose vectors were all found (the others are left out, and noted in the report)."""
    found = src.vectors_of([c.id for _, chunks in group for c in chunks])
    complete = [(a, chunks) for a, chunks in group if all(c.id in found for c in chunks)]
    report.left_out.extend(a.source for a, chunks in group if any(c.id not in found for c in chunks))
    pairs = [(a, c) for a, chunks in complete for c in chunks]
    if pairs:
        ids = [c.id for _, c in pairs]
        dst.records.mark_pending(ids)
        vectors = np.stack([found[i] for i in ids])
        dst.upsert_vectors(ids, vectors, [c.text for _, c in pairs], [chunk_metadata(c, a) for a, c in pairs])
        report.vectors += len(ids)
    return complete
