"""Save uploaded articles into the corpus dir: article formats only, size-limited, safe names."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ingest.loader import ARTICLE_SUFFIXES
from rag.errors import RagError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(RagError):
    """An uploaded file that cannot be added; the message says why."""


@dataclass(frozen=True)
class SavedUpload:
    path: Path
    message: str


def safe_name(original: str) -> str:
    """A file name with no directory part and only plain characters; keeps the suffix."""
    name = Path(original.replace("\\", "/")).name
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = _UNSAFE.sub("-", stem).strip(".-_") or "article"
    return f"{stem[:100]}{suffix}"


def save_upload(source: Path, original_name: str, corpus_dir: Path, *, max_bytes: int) -> SavedUpload:
    """Copy an uploaded file into the corpus dir; never overwrite a different article silently."""
    name = safe_name(original_name)
    suffix = Path(name).suffix
    if suffix not in ARTICLE_SUFFIXES:
        raise UploadError(f"{original_name}: only {', '.join(sorted(ARTICLE_SUFFIXES))} articles can be added")
    size = source.stat().st_size
    if size > max_bytes:
        raise UploadError(f"{original_name}: {size} bytes is over the {max_bytes // (1024 * 1024)} MB limit")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / name
    stem = Path(name).stem
    n = 1
    while target.exists():
        if target.read_bytes() == source.read_bytes():
            return SavedUpload(target, f"{name} is already in the corpus")
        n += 1
        target = corpus_dir / f"{stem}-{n}{suffix}"
    shutil.copyfile(source, target)
    if target.name != name:
        return SavedUpload(target, f"saved as {target.name}: a different {name} is already in the corpus")
    return SavedUpload(target, f"saved {target.name}")
