"""The bundled MiniLM encoders as ONNX Runtime sessions: exported locally once, then cached.

Nothing is downloaded: the bundled PyTorch weights are exported with `torch.onnx`, attention and
layer norms are fused for the CPU (onnxruntime's BERT optimizer), and the matrix products are
quantized to int8 per channel. The result is cached under RAG_MODEL_CACHE (default
`~/.cache/newsrag`), named after a fingerprint of the weights and the recipe, so a new model or
recipe exports afresh and a cached file is never stale. Processes that start together export once
(a file lock) and never see a half-written file (written aside, then renamed).

The export is deterministic, its results are not the same on every CPU. Exporting twice here gives
byte-identical files (raw, fused and int8, embedder and reranker alike), whatever the hash seed:
the export traces fixed inputs, the fusion rewrites the graph, and the quantizer's scales and
rounding are exact float operations. Running that file is another matter: ONNX Runtime picks its
int8 kernels by CPU feature. Without VNNI (AVX2 only, as the AMD EPYC machines here), it multiplies
u8 activations by s8 weights with VPMADDUBSW, which saturates each pair of products at 16 bits
(255 x 127 x 2 > 32767); with AVX512-VNNI, AVX-VNNI or AMX (some Intel machines of the same kind)
the products are exact. On this AVX2 machine a MatMulInteger of a layer's weights and random u8
activations is off in 22% of its outputs; the reranker's logits move by 0.25 on average (1.6 at
most) between this machine and the same file with its integer products done exactly, about as
much as int8 moves them from PyTorch, so the parity tests compare rankings with a margin
(tests/integration/test_embed_backends.py). Quantizing with 7-bit weights (`reduce_range`) would
make the products exact on every x86 CPU and, measured here, ranks as close to PyTorch; the float
kernels around them would still differ a little by CPU. RECIPE names the export, not the CPU.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime as ort
    import torch

log = logging.getLogger(__name__)

RECIPE = "fused-int8-v1"
"""Change it when the export below changes, so cached files from the old recipe are not reused."""
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
HEADS, HIDDEN = 12, 384
"""all-MiniLM-L6-v2's attention heads and width, which the fusion needs to be told."""


def cache_dir() -> Path:
    """Where exported models live: RAG_MODEL_CACHE, else the user's cache folder."""
    explicit = os.environ.get("RAG_MODEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsrag"


def fingerprint(*parts: str | bytes) -> str:
    """A short hash naming one export: the recipe, the runtime's version and the weights' identity."""
    import onnxruntime

    digest = hashlib.sha256(f"{RECIPE}|{onnxruntime.__version__}".encode())
    for part in parts:
        digest.update(b"|")
        digest.update(part if isinstance(part, bytes) else part.encode())
    return digest.hexdigest()[:16]


def file_identity(path: Path) -> str:
    """A cheap identity of a weights file: its path, size and modification time (no read of 90 MB)."""
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def cached_model(name: str, key: str, build: Callable[[], torch.nn.Module]) -> Path:
    """Return the cached int8 ONNX file for `name`/`key`, exporting `build()`'s module if it is missing.

    `build` returns a module taking (input_ids, attention_mask, token_type_ids) and returning one
    float tensor with the batch as first axis.
    """
    folder = cache_dir()
    target = folder / f"{name}-{key}.onnx"
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the model cache {folder} ({exc}); set RAG_MODEL_CACHE to a writable folder"
        ) from None
    with _export_lock(folder / f"{name}.lock"):
        if target.exists():  # another process exported it while we waited
            return target
        log.info("exporting %s to ONNX (once; cached in %s)", name, folder)
        with tempfile.TemporaryDirectory(dir=folder) as work:
            staged = export_quantized(build(), Path(work))
            os.replace(staged, target)
    return target


def export_quantized(module: torch.nn.Module, work: Path) -> Path:
    """Export, fuse and quantize `module` inside `work`; return the final file's path."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    raw, fused, quantized = work / "raw.onnx", work / "fused.onnx", work / "int8.onnx"
    example = (
        torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]]),
        torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
        torch.zeros(2, 4, dtype=torch.long),
    )
    dynamic = {n: {0: "batch", 1: "tokens"} for n in INPUT_NAMES}
    dynamic["output"] = {0: "batch"}
    with warnings.catch_warnings(), _quiet_root_logger():
        warnings.simplefilter("ignore")  # the exporter's notes on indexing and tracing are for its authors
        module.eval()
        with torch.no_grad():
            torch.onnx.export(
                module, example, str(raw), input_names=list(INPUT_NAMES), output_names=["output"],
                dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
            )  # fmt: skip
        optimizer.optimize_model(str(raw), model_type="bert", num_heads=HEADS, hidden_size=HIDDEN).save_model_to_file(
            str(fused)
        )
        # Per-channel int8 weights on the matrix products only: embeddings and norms stay float,
        # which keeps the vectors within 0.99 cosine of PyTorch's (bench/results/onnx_parity.json).
        quantize_dynamic(
            str(fused), str(quantized), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"], extra_options={"DefaultTensorType": 1},
        )  # fmt: skip
    return quantized


def open_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """An inference session on the CPU with every graph optimisation, one thread per core by default."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.log_severity_level = 3  # errors only: its notes on unused initialisers are noise
    # Idle worker threads sleep instead of spinning: between two model calls an answer does Python
    # work (retrieval, features) that spinning threads would take the cores from.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(session: ort.InferenceSession, ids: Any, mask: Any, types: Any) -> Any:
    """One forward pass; inputs are (batch, tokens) int64 arrays."""
    return session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]


@contextmanager
def _export_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantizer logs advice on the root logger; keep it out of the user's terminal."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
