"""Incremental indexing: embed only new or changed articles, replace edits, remove deletions."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ingest.chunker import chunk_article
from ingest.loader import Skipped, iter_article_files, load_articles, source_name
from rag.config import Settings
from rag.dates import day_number, parse_published
from rag.documents import Article, Chunk
from rag.duplicates import group_copies, signature
from rag.embeddings import Embedder, get_embedder
from rag.errors import CorpusPathError
from rag.filters import DAYS_META
from rag.records.base import CHUNKS_EMBEDDED_KEY, INGEST_RUNS_KEY
from rag.store import Store, open_store

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    decoded: dict[str, str] = field(default_factory=dict)
    """Files of this run that were not UTF-8: source -> the encoding they were decoded from."""
    copy_groups: int = 0
    """Groups of near-duplicate articles in the index after this run."""

    def summary(self) -> str:
        """One line for the end of `rag ingest`."""
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.skipped)} skipped ({self.chunks_embedded} chunks embedded)"
        )
        if self.copy_groups:
            line += f"; {self.copy_groups} groups of near-duplicate articles"
        if self.decoded:
            shown = ", ".join(f"{s} as {e}" for s, e in list(self.decoded.items())[:5])
            more = f" and {len(self.decoded) - 5} more" if len(self.decoded) > 5 else ""
            line += f"; decoded {shown}{more}"
        return line


def ingest(
    settings: Settings,
    paths: Sequence[Path] | None = None,
    *,
    rebuild: bool = False,
    progress: bool = False,
    store: Store | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Bring the index up to date with the corpus dir (or with just `paths`, without removals)."""
    embedder = embedder or get_embedder()
    corpus_dir = settings.corpus_dir
    if not corpus_dir.is_dir():
        raise CorpusPathError(f"corpus dir {corpus_dir} does not exist; create it or set RAG_CORPUS_DIR")
    files = _files_to_ingest(corpus_dir, paths)
    store = store or open_store(settings, check=not rebuild)
    with store.records.ingest_lock():
        if rebuild:
            store.drop()
        store.claim_for_embedder()
        repaired = not store.repair_drift().ok
        articles, skipped = load_articles(files, corpus_dir, max_bytes=settings.max_file_bytes)
        report = IngestReport(skipped=skipped, decoded={a.source: a.encoding for a in articles if a.encoding})
        indexed = store.records.article_hashes()
        changed: list[Article] = []
        for article in articles:
            old = indexed.get(article.source)
            if old == article.content_hash:
                report.unchanged.append(article.source)
            else:
                (report.added if old is None else report.updated).append(article.source)
                changed.append(article)
        if paths is None:
            present = {a.source for a in articles} | {s.source for s in skipped}
            report.removed = sorted(set(indexed) - present)
            if report.removed:
                store.delete_vectors(store.records.remove_articles(report.removed))
                store.records.clear_pending(store.records.pending_ids())
        report.chunks_embedded = _index_articles(store, embedder, changed, settings, progress=progress)
        if report.chunks_embedded:
            store.note_backend(embedder.backend_label)
        _backfill_days(store)
        report.copy_groups = _group_copies(store)
        store.records.set_meta("last_ingest", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        store.records.add_to_meta(INGEST_RUNS_KEY, 1)
        store.records.add_to_meta(CHUNKS_EMBEDDED_KEY, report.chunks_embedded)
        if report.added or report.updated or report.removed or repaired:
            store.bump_generation()
    log.info("ingest: %s", report.summary())
    return report


def delete_article(settings: Settings, source: str, *, store: Store | None = None) -> None:
    """Delete an article in one step: its file in the corpus, its records and its vectors."""
    path = (settings.corpus_dir / source).resolve()
    if not path.is_relative_to(settings.corpus_dir.resolve()):
        raise CorpusPathError(f"{source} is not a file of the corpus dir {settings.corpus_dir}")
    store = store or open_store(settings)
    if store.records.article(source) is None:
        raise CorpusPathError(f"{source} is not an indexed article; the corpus panel lists them")
    with store.records.ingest_lock():
        path.unlink(missing_ok=True)
        removed = store.records.remove_articles([source])
        store.delete_vectors(removed)
        store.records.clear_pending(removed)
        _group_copies(store)
        store.bump_generation()
    log.info("deleted %s (%d chunks)", source, len(removed))


def _files_to_ingest(corpus_dir: Path, paths: Sequence[Path] | None) -> list[Path]:
    if paths is None:
        return list(iter_article_files(corpus_dir))
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise CorpusPathError(f"{path} does not exist")
        try:
            source_name(path, corpus_dir)
        except ValueError:
            raise CorpusPathError(
                f"{path} is outside the corpus dir {corpus_dir}; copy it there first or set RAG_CORPUS_DIR"
            ) from None
        files.extend(iter_article_files(path))
    return files


def _index_articles(
    store: Store, embedder: Embedder, articles: list[Article], settings: Settings, *, progress: bool
) -> int:
    """Chunk, embed and commit changed articles group by group; return the chunks embedded."""
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens) if articles else settings.chunk_tokens
    total = 0
    seen = VectorMemo()
    bar = tqdm(total=len(articles), unit="article", desc="indexing", disable=not progress or not articles)
    with bar:
        for group in _groups(articles, embedder, max_tokens, settings.ingest_batch):
            signatures = {a.source: signature(a.body) for a, _ in group}
            chunks = [c for _, cs in group for c in cs]
            vectors = seen.embed(embedder, [c.text for c in chunks])
            old_ids = store.records.chunk_ids_of(a.source for a, _ in group)
            new_ids = [c.id for c in chunks]
            # Journal first: if we die after the Chroma write, the next run deletes these orphans.
            store.records.mark_pending(new_ids)
            titles = {a.source: a for a, _ in group}
            store.upsert_vectors(
                new_ids, vectors, [c.text for c in chunks], [chunk_metadata(c, titles[c.source]) for c in chunks]
            )
            stale = sorted(set(old_ids) - set(new_ids))
            store.records.replace_articles(group, stale, signatures)
            store.delete_vectors(stale)
            store.records.clear_pending(new_ids + stale)
            total += len(chunks)
            bar.set_postfix(chunks=total, refresh=False)
            bar.update(len(group))
    return total


class VectorMemo:
    """Vectors of the chunk texts one ingest run has embedded, so a text is embedded once per run.

    News archives hold copies of one wire story under several paths; their identical chunks need
    one embedding (about 7% of the BBC archive's chunks). The memo is bounded: past `limit` texts
    it stops remembering, and later copies are embedded again.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self._vectors: dict[bytes, np.ndarray] = {}
        self._limit = limit

    def embed(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        """The vectors of `texts`, embedding only those this run has not embedded yet."""
        if not texts:
            return np.zeros((0, embedder.dimension), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}
        fresh = dict(zip(missing, embedder.embed(list(missing.values())), strict=True)) if missing else {}
        for key, vector in fresh.items():
            if len(self._vectors) < self._limit:
                self._vectors[key] = vector
        return np.stack([fresh[k] if k in fresh else self._vectors[k] for k in keys])


def _group_copies(store: Store) -> int:
    """Bring the groups of near-duplicate articles up to date; return how many groups there are.

    Regrouping runs when an article write has marked the groups stale, even in a run after one
    that died before regrouping; articles indexed before signatures existed get one from their body.
    """
    records = store.records
    missing = records.sources_without_signature()
    if missing:
        records.add_signatures({s: signature(records.body(s) or "") for s in missing})
    if missing or not records.copies_fresh():
        records.set_copy_groups(group_copies(records.signatures()))
    return len(records.copy_groups())


def _groups(
    articles: list[Article], embedder: Embedder, max_tokens: int, group_chunks: int
) -> Iterator[list[tuple[Article, list[Chunk]]]]:
    """Articles with their chunks, in groups of about `group_chunks` chunks embedded together."""
    group: list[tuple[Article, list[Chunk]]] = []
    size = 0
    for article in articles:
        chunks = chunk_article(article, embedder.count_tokens, max_tokens)
        group.append((article, chunks))
        size += len(chunks)
        if size >= group_chunks:
            yield group
            group, size = [], 0
    if group:
        yield group


def chunk_metadata(chunk: Chunk, article: Article) -> dict[str, str | int]:
    day = parse_published(article.published)
    return {
        "source": chunk.source,
        "title": article.title,
        "start": chunk.start,
        "end": chunk.end,
        "index": chunk.index,
        **article.metadata(),
        # The published day as YYYYMMDD: date filters compare numbers in the vector store.
        **({"day": day_number(day)} if day else {}),
    }


def _backfill_days(store: Store) -> None:
    """Give the chunks of an index built before date filters their article's day (no re-embedding)."""
    if store.records.get_meta(DAYS_META):
        return
    ids: list[str] = []
    metadatas: list[dict[str, str | int]] = []
    for source, day in store.records.article_dates().days.items():
        chunk_ids = store.records.chunk_ids_of([source])
        ids += chunk_ids
        metadatas += [{"day": day_number(day)}] * len(chunk_ids)
    store.update_metadata(ids, metadatas)
    store.records.set_meta(DAYS_META, "1")
