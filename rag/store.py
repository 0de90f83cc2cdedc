"""The index: a Chroma collection of chunk vectors beside the records and keyword index (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from rag.chroma_files import applied_count
from rag.config import Settings
from rag.errors import EmbedderMismatchError, RagError, StoreUnavailableError
from rag.records import open_records

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

GENERATION_KEY = "generation"
"""Records meta key counting the ingests that changed the index."""
CHROMA_DIR = "chroma"
_WRITE_BATCH = 1000


@dataclass(frozen=True)
class Drift:
    """Disagreements between the record of what is indexed, Chroma and the keyword index."""

    vectors_without_record: list[str] = field(default_factory=list)
    records_without_vector: list[str] = field(default_factory=list)
    keyword_index: int = 0
    pending: int = 0

    @property
    def ok(self) -> bool:
        return not (self.vectors_without_record or self.records_without_vector or self.keyword_index or self.pending)

    def summary(self) -> str:
        return (
            f"{len(self.vectors_without_record)} vectors without a record, "
            f"{len(self.records_without_vector)} records without a vector, "
            f"{self.keyword_index} keyword-index mismatches, {self.pending} pending writes"
        )


BACKEND_KEY = "embed_backend"
"""Meta key: the embedder backend(s) whose vectors the index holds (`rag.embeddings.BACKEND_LABELS`)."""
LEGACY_BACKEND = "torch-fp32"


class Store:
    """One index: the vectors (Chroma, embedded or a server) and the records (SQLite or PostgreSQL)."""

    def __init__(self, settings: Settings, *, embedder_name: str, dimension: int) -> None:
        self.settings = settings
        self.embedder_name = embedder_name
        self.dimension = dimension
        self.records = open_records(settings)
        self._generation: str | None = None
        """The index generation the open Chroma client has seen (embedded store only)."""
        self._readers = 0
        self._readers_done = threading.Condition()
        self._drift_logged = False

    # --- Chroma -------------------------------------------------------------------------------

    @cached_property
    def client(self) -> ClientAPI:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        url = self.settings.chroma_url
        try:
            if url:
                parsed = urlparse(url)
                return chromadb.HttpClient(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=chroma_settings,
                )
            path = self.settings.data_dir / CHROMA_DIR
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:  # chromadb raises plain exceptions for a server that is down
            where = url or str(self.settings.data_dir / CHROMA_DIR)
            raise StoreUnavailableError(
                f"cannot open the Chroma store at {where} ({_first_line(exc)}); check RAG_CHROMA_URL or RAG_DATA_DIR"
            ) from None

    @cached_property
    def collection(self) -> Collection:
        """The chunk collection; created with our embedder's name and dimension on first use."""
        self._generation = self.records.get_meta(GENERATION_KEY)
        try:
            collection = self.client.get_or_create_collection(
                self.settings.collection,
                # No embedding function: we always pass vectors, and Chroma's default would download one.
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "ef_search": 100, "ef_construction": 100}},
                metadata={"embedder": self.embedder_name, "dimension": self.dimension},
            )
        except Exception as exc:
            raise StoreUnavailableError(
                f"cannot open Chroma collection {self.settings.collection!r} ({_first_line(exc)})"
            ) from None
        meta = collection.metadata or {}
        self._check_embedder(meta.get("embedder"), meta.get("dimension"), "Chroma collection")
        return collection

    def check_embedder(self) -> None:
        """Refuse an index that another embedding model built: its vectors would be garbage to us."""
        self._check_embedder(self.records.get_meta("embedder"), self.records.get_meta("dimension"), "records")

    def _check_embedder(self, name: object, dimension: object, where: str) -> None:
        if name is None:
            return
        if name != self.embedder_name or int(str(dimension)) != self.dimension:
            raise EmbedderMismatchError(
                f"the index in {self.settings.data_dir} ({where}) was built with {name} ({dimension}-d), "
                f"not {self.embedder_name} ({self.dimension}-d); re-index with `rag ingest --rebuild`"
            )

    # --- another process's ingest ---------------------------------------------------------------

    def bump_generation(self) -> None:
        """Record that this process changed the index; its own Chroma client already sees the change."""
        generation = str(int(self.records.get_meta(GENERATION_KEY) or 0) + 1)
        self.records.set_meta(GENERATION_KEY, generation)
        if "collection" in self.__dict__:
            self._generation = generation

    def refresh_if_stale(self) -> bool:
        """Reopen the embedded Chroma store if another process's ingest has changed the index since.

        An embedded Chroma client keeps its vector index in memory and never sees another process's
        writes, so a `rag ingest` from another terminal would leave the chat blind to new chunks. While
        that ingest runs, the old view keeps answering (ids it lacks are dropped); once it returns,
        the next question reopens the store and sees everything. A Chroma server needs none of this.
        """
        if self.settings.chroma_url or "collection" not in self.__dict__:
            return False
        if self.records.get_meta(GENERATION_KEY) == self._generation or self.records.ingest_running():
            return False
        with self._readers_done:
            self._readers_done.wait_for(lambda: self._readers == 0)
            if self.records.get_meta(GENERATION_KEY) == self._generation:
                return False  # another thread reopened it meanwhile
            client = self.__dict__.pop("client", None)
            self.__dict__.pop("collection", None)
            if client is not None:
                client.close()
            self.collection  # noqa: B018 - reopen now, under the lock, and note the generation seen
        log.info("the index changed in another process; reopened the vector store")
        return True

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Count a read of the Chroma client, so that a reopen waits for it to finish."""
        with self._readers_done:
            self._readers += 1
        try:
            yield
        finally:
            with self._readers_done:
                self._readers -= 1
                self._readers_done.notify_all()

    @contextmanager
    def _chroma(self) -> Iterator[None]:
        """Turn a failure to reach the Chroma server into a one-line error."""
        try:
            yield
        except RagError:
            raise
        except Exception as exc:
            if not self.settings.chroma_url:
                raise
            raise StoreUnavailableError(
                f"cannot reach the Chroma server at {self.settings.chroma_url} ({type(exc).__name__}); "
                "start it or unset RAG_CHROMA_URL"
            ) from None

    def upsert_vectors(
        self, ids: Sequence[str], vectors: np.ndarray, documents: Sequence[str], metadatas: Sequence[dict[str, Any]]
    ) -> None:
        for i in range(0, len(ids), _WRITE_BATCH):
            sl = slice(i, i + _WRITE_BATCH)
            with self._chroma():
                self.collection.upsert(
                    ids=list(ids[sl]),
                    embeddings=vectors[sl],
                    documents=list(documents[sl]),
                    metadatas=list(metadatas[sl]),
                )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        """Merge these keys into the chunks' metadata (vectors and documents stay as they are)."""
        for i in range(0, len(ids), _WRITE_BATCH):
            sl = slice(i, i + _WRITE_BATCH)
            with self._chroma():
                self.collection.update(ids=list(ids[sl]), metadatas=list(metadatas[sl]))

    def delete_vectors(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), _WRITE_BATCH):
            with self._chroma():
                self.collection.delete(ids=list(ids[i : i + _WRITE_BATCH]))

    def dense_search(
        self, vector: np.ndarray, limit: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, np.ndarray]]:
        """Return (chunk id, vector) of the nearest chunks (among those matching `where`), nearest first."""
        with self._reading(), self._chroma():
            # n_results above the collection size just returns fewer hits: no count() round trip.
            result = self.collection.query(
                query_embeddings=[vector], n_results=limit, where=where, include=["embeddings"]
            )
        ids = result["ids"][0]
        embeddings = result["embeddings"]
        assert embeddings is not None
        return list(zip(ids, np.asarray(embeddings[0], dtype=np.float32), strict=True))

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the given chunk ids; ids this client cannot find (another process's ingest is
        midway, or has just finished) are left out, never raised."""
        if not ids:
            return {}
        with self._reading():
            try:
                with self._chroma():
                    return self._get_vectors(ids)
            except StoreUnavailableError:
                raise
            except Exception as exc:  # the embedded client knows the id's record but not its vector
                if not self._drift_logged:
                    log.warning("vector store lags the records (%s); leaving unknown chunks out", _first_line(exc))
                    self._drift_logged = True
            found: dict[str, np.ndarray] = {}
            for chunk_id in ids:
                try:
                    found.update(self._get_vectors([chunk_id]))
                except Exception:  # noqa: S112 - this id is the unknown one; the rest still count
                    continue
            return found

    def _get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        embeddings = got["embeddings"]
        assert embeddings is not None
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], embeddings, strict=True)}

    # --- both ---------------------------------------------------------------------------------

    def claim_for_embedder(self) -> None:
        """Record our embedder in the records, so a later run with another model is caught."""
        if self.records.get_meta("embedder") is None:
            self.records.set_meta("embedder", self.embedder_name)
            self.records.set_meta("dimension", str(self.dimension))

    def note_backend(self, label: str) -> None:
        """Record that `label`'s backend embedded vectors of this index (both, once two have)."""
        recorded = self.records.get_meta(BACKEND_KEY)
        labels = sorted({*(recorded.split(", ") if recorded else ()), label})
        if recorded != ", ".join(labels):
            self.records.set_meta(BACKEND_KEY, ", ".join(labels))

    def backend_note(self, label: str) -> str | None:
        """What to tell a user whose process embeds with `label` when the index was built otherwise."""
        recorded = self.records.get_meta(BACKEND_KEY)
        if recorded is None:
            if not self.records.counts()[1]:
                return None
            recorded = LEGACY_BACKEND  # indexes built before backends were recorded ran on PyTorch
        if recorded == label:
            return None
        return (
            f"the index was embedded by {recorded}, this process embeds with {label}: answers work "
            "(the vectors agree within 0.99 cosine); `rag ingest --rebuild` re-embeds it all alike"
        )

    def repair(self) -> int:
        """Finish what a killed ingest left: drop vectors journalled as pending but not committed."""
        pending = self.records.pending_ids()
        if not pending:
            return 0
        committed = self.records.all_chunk_ids()
        orphans = [i for i in pending if i not in committed]
        self.delete_vectors(orphans)
        self.records.clear_pending(pending)
        if orphans:
            log.info("removed %d vectors left by an interrupted ingest", len(orphans))
        return len(orphans)

    def vector_ids(self) -> set[str]:
        """Every id in the Chroma collection (paged: a large collection is not fetched at once)."""
        ids: set[str] = set()
        page = 10_000
        while True:
            with self._chroma():
                got = self.collection.get(include=[], limit=page, offset=len(ids))["ids"]
            ids.update(got)
            if len(got) < page:
                return ids

    def verify(self) -> Drift:
        """Compare the records, Chroma and the keyword index; report what disagrees."""
        committed = self.records.all_chunk_ids()
        vectors = self.vector_ids()
        return Drift(
            vectors_without_record=sorted(vectors - committed),
            records_without_vector=sorted(committed - vectors),
            keyword_index=self.records.keyword_index_drift(),
            pending=len(self.records.pending_ids()),
        )

    def vector_count(self) -> int:
        """Vectors in the collection. An embedded store not yet opened by this process is counted from
        its SQLite file, so that an unchanged re-ingest never has to start Chroma."""
        if not self.settings.chroma_url and "collection" not in self.__dict__:
            count = applied_count(self.settings.data_dir / CHROMA_DIR, self.settings.collection)
            if count is not None:
                return count
        with self._chroma():
            return self.collection.count()

    def repair_drift(self) -> Drift:
        """Fix any drift: drop stray vectors; re-embed (next ingest) articles whose vectors are missing."""
        self.repair()
        if self.vector_count() == self.records.counts()[1] and not self.records.keyword_index_drift():
            return Drift()  # the cheap check: equal counts after the journal replay
        drift = self.verify()
        self.delete_vectors(drift.vectors_without_record)
        self.records.forget_articles(self.records.sources_of(drift.records_without_vector))
        if drift.keyword_index:
            self.records.rebuild_keyword_index()
        log.warning("index drift repaired: %s", drift.summary())
        return drift

    def is_empty(self) -> bool:
        return not self.records.has_articles()

    def drop(self) -> None:
        """Delete the collection and all records (for `rag ingest --rebuild`)."""
        try:
            self.client.delete_collection(self.settings.collection)
        except Exception:  # missing collection: nothing to drop
            log.debug("no collection %s to drop", self.settings.collection)
        self.__dict__.pop("collection", None)
        self.records.reset()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


_stores: dict[tuple[str, str | None, str | None, str], Store] = {}
_stores_lock = threading.Lock()


def open_store(settings: Settings, *, check: bool = True) -> Store:
    """Return the process-wide store for these settings' data dir and collection.

    With `check`, an index built by another embedding model raises `EmbedderMismatchError`.
    """
    from rag.embeddings import get_embedder

    key = (str(settings.data_dir.resolve()), settings.chroma_url, settings.database_url, settings.collection)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            embedder = get_embedder()
            store = Store(settings, embedder_name=embedder.name, dimension=embedder.dimension)
            _stores[key] = store
    if check:
        store.check_embedder()
    return store
