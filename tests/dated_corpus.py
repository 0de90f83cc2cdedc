"""The dated test corpus (tests/data/dated/corpus): a bridge repair story updated over three days,
inspections of different months, articles of two outlets, and undated articles. Its questions,
with the filters some of them carry, are tests/data/dated/questions.jsonl (`rag eval` reads it)."""

from __future__ import annotations

import shutil
from pathlib import Path

DATED = Path(__file__).resolve().parent / "data" / "dated"
QUESTIONS = DATED / "questions.jsonl"
UNDATED = 2
"""Articles of the corpus without a published date."""


def write_dated_corpus(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for path in sorted((DATED / "corpus").glob("*.md")):
        shutil.copy(path, corpus / path.name)
