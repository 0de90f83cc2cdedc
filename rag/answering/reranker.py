"""A cross-encoder that reads a question and a sentence together and scores whether the sentence answers it.

Word overlap and the embedder's similarity compare the question with a sentence from afar; read
together, "gave" meets "donated" and a figure meets "how much". The model is the bundled MiniLM
with its layers fine-tuned on question / answer-sentence pairs and a linear head on the
first token (`rag.answering.reranker_training`). Only the fine-tuned layers and the head ship, in
`rag/answering/reranker/`; the frozen word embeddings are read from the bundled embedder's weights.

It runs on ONNX Runtime (an int8 export made on first use) or on PyTorch, as the embedder does
(RAG_EMBED_BACKEND); training always runs on PyTorch.

Scores are logits against a fixed "no sentence answers" option at 0: above 0, the model thinks
the sentence answers the question more likely than none does. Beside each score the model gives
its reading of the pair: the first token's final state, which the head scores. An answerability
model may read that of the most probable sentence (`AnswerabilityModel.reading_width`,
`rag.answering.extractive.answerability_row`); the shipped one does not (`bench/train_answerability.py`
says why).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.embeddings import bundled_model_path

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).with_name("reranker")
"""Where `python -m bench.train_reranker` writes the shipped weights (in the source tree)."""
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
MAX_TOKENS = 160
"""Question and sentence together; longer sentences are cut (the answer is rarely in a long tail)."""
BATCH_SIZE = 16
ONNX_BATCH_SIZE = 6
STATE_WIDTH = 384
"""Width of the model's reading of a pair (MiniLM's hidden size)."""
EXPORT = "logit-and-state"
"""What the ONNX export returns per pair; part of its cache key, so an export of another shape is not reused."""


def pair_text(title: str, sentence: str) -> str:
    """What the reranker reads beside the question: the sentence after its article's headline, which
    names who "he" or "the firm" is when the sentence does not."""
    title = title.strip()
    return f"{title} | {sentence}" if title else sentence


class CrossEncoderModule:
    """The torch parts: the bundled encoder, its fine-tuned top layers, and the scoring head."""

    def __init__(self, tuned_layers: int, *, attention: str | None = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        path = bundled_model_path()
        # The embedder's pooler weights go unused here; the load report about them is noise.
        transformers_logging.disable_progress_bar()
        level = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.encoder = AutoModel.from_pretrained(
                str(path), local_files_only=True, add_pooling_layer=False, attn_implementation=attention
            )
        finally:
            transformers_logging.set_verbosity(level)
        self.encoder.eval()
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)
        self.tuned_layers = tuned_layers

    def tuned_parameters(self) -> dict[str, torch.nn.Parameter]:
        """The parameters that training changes and the weights file holds (names prefixed by part)."""
        layers = self.encoder.encoder.layer
        first = len(layers) - self.tuned_layers
        out = {f"head.{n}": p for n, p in self.head.named_parameters()}
        for i in range(first, len(layers)):
            out.update({f"encoder.layer.{i}.{n}": p for n, p in layers[i].named_parameters()})
        return out

    def encode_pairs(self, question: str, sentences: Sequence[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(
            [question] * len(sentences),
            list(sentences),
            padding=True,
            truncation="longest_first",
            max_length=MAX_TOKENS,
            return_tensors="pt",
        )

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.read(batch)[0]

    def read(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits and the states they are read from (each pair's first token, last layer)."""
        hidden = self.encoder(**batch).last_hidden_state[:, 0]
        return self.head(hidden).squeeze(-1), hidden

    def save(self, directory: Path) -> None:
        """Write the tuned parameters (fp16: half the size, and scores move by far less than they differ)."""
        import torch
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        tensors = {n: p.detach().to(dtype=torch.float16).contiguous() for n, p in self.tuned_parameters().items()}
        save_file(tensors, str(directory / WEIGHTS_FILE))
        (directory / CONFIG_FILE).write_text(json.dumps({"tuned_layers": self.tuned_layers}) + "\n", encoding="utf-8")

    def load(self, weights: bytes) -> None:
        import torch
        from safetensors.torch import load

        tensors = load(weights)
        params = self.tuned_parameters()
        if set(tensors) != set(params):
            raise ValueError(
                "the reranker weights do not match its layers; retrain with python -m bench.train_reranker"
            )
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(tensors[name].to(dtype=p.dtype))


class Reranker:
    """Scores (question, sentence) pairs; thread-safe, loaded on first use.

    The `onnx` backend runs an int8 export of the same weights (`rag.onnx_models`); `torch` runs
    them as trained. A given `module` (training does) always runs on PyTorch.
    """

    def __init__(
        self,
        module: CrossEncoderModule | None = None,
        weights_dir: Path | None = None,
        backend: str = "torch",
        threads: int = 0,
    ) -> None:
        self._module = module
        self._weights_dir = weights_dir
        self._backend = "torch" if module is not None else backend
        self._threads = threads
        self._onnx: OnnxCrossEncoder | None = None
        self._lock = threading.Lock()

    @property
    def module(self) -> CrossEncoderModule:
        with self._lock:
            if self._module is None:
                self._module = _load(self._weights_dir)
            return self._module

    def load(self) -> None:
        """Load the model now (the first question would otherwise)."""
        if self._backend == "onnx":
            self._onnx_encoder()
        else:
            self.module  # noqa: B018

    def _onnx_encoder(self) -> OnnxCrossEncoder:
        with self._lock:
            if self._onnx is None:
                self._onnx = OnnxCrossEncoder(self._weights_dir, self._threads)
            return self._onnx

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """One logit per sentence (see the module docstring); an empty list gives an empty array."""
        return self.read(question, sentences)[0]

    def read(self, question: str, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """One logit per sentence and the model's reading of each pair: (n,) and (n, STATE_WIDTH)."""
        if not sentences:
            return np.zeros(0, dtype=np.float64), np.zeros((0, STATE_WIDTH), dtype=np.float32)
        if self._backend == "onnx":
            return self._onnx_encoder().read(question, list(sentences))
        import torch

        module = self.module
        logits, states = [], []
        for at in range(0, len(sentences), BATCH_SIZE):
            with self._lock:  # the tokenizer keeps per-call settings in shared state
                batch = module.encode_pairs(question, sentences[at : at + BATCH_SIZE])
            with torch.inference_mode():
                scores, hidden = module.read(batch)
            logits.append(scores.float().numpy())
            states.append(hidden.float().numpy())
        return np.concatenate(logits).astype(np.float64), np.concatenate(states)


class OnnxCrossEncoder:
    """The reranker's encoder and head as one int8 ONNX session (exported once, cached)."""

    def __init__(self, weights_dir: Path | None, threads: int = 0) -> None:
        from rag.embeddings import load_tokenizer
        from rag.onnx_models import cached_model, file_identity, fingerprint, open_session

        config, weights = _read_weights(weights_dir)
        embeddings = file_identity(bundled_model_path() / "model.safetensors")
        key = fingerprint("reranker", EXPORT, config, weights, embeddings)
        self._session = open_session(
            cached_model("minilm-reranker", key, lambda: _export_module(config, weights)), threads
        )
        self._tokenizer = load_tokenizer(MAX_TOKENS)

    def read(self, question: str, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        from rag.embeddings import token_arrays
        from rag.onnx_models import run

        # Small batches of similar lengths pad least: on two cores, 12 answer-time pairs score
        # about a fifth faster in two length-sorted batches of 6 than in one of 12.
        order = np.argsort([-len(s) for s in sentences], kind="stable")
        out = np.empty((len(sentences), 1 + STATE_WIDTH), dtype=np.float32)
        for at in range(0, len(sentences), ONNX_BATCH_SIZE):
            picked = order[at : at + ONNX_BATCH_SIZE]
            out[picked] = run(self._session, *token_arrays(self._tokenizer, [(question, sentences[i]) for i in picked]))
        return out[:, 0].astype(np.float64), out[:, 1:]


def _export_module(config: str, weights: bytes):
    """The trained cross-encoder as a module from token arrays to each pair's logit followed by its
    state, one row of 1 + STATE_WIDTH per pair (for the export)."""
    import torch

    # Eager attention exports as plain operators, which the runtime fuses into its attention kernel.
    module = CrossEncoderModule(int(json.loads(config)["tuned_layers"]), attention="eager")
    module.load(weights)

    class LogitAndState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.head = module.encoder, module.head

        def forward(self, input_ids, attention_mask, token_type_ids):
            batch = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            logits, states = module.read(batch)
            return torch.cat([logits[:, None], states], dim=1)

    return LogitAndState()


def _read_weights(weights_dir: Path | None) -> tuple[str, bytes]:
    """The config and weights: shipped in the package, or those of `weights_dir`."""
    if weights_dir is None:
        shipped = resources.files("rag.answering").joinpath(WEIGHTS_DIR.name)
        return shipped.joinpath(CONFIG_FILE).read_text(), shipped.joinpath(WEIGHTS_FILE).read_bytes()
    return (weights_dir / CONFIG_FILE).read_text(), (weights_dir / WEIGHTS_FILE).read_bytes()


def _load(weights_dir: Path | None) -> CrossEncoderModule:
    config, weights = _read_weights(weights_dir)
    module = CrossEncoderModule(int(json.loads(config)["tuned_layers"]))
    module.load(weights)
    log.info("reranker loaded (%d tuned layers)", module.tuned_layers)
    return module


@cache
def get_reranker() -> Reranker:
    """The process-wide reranker with the shipped weights on RAG_EMBED_BACKEND's backend (loaded on first use)."""
    from rag.config import Settings

    settings = Settings.from_env()
    return Reranker(backend=settings.embed_backend, threads=settings.threads)
