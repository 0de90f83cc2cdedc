"""Check an LLM's answer against the passages: every kept citation quotes a sentence that supports it.

For each sentence of the answer: markers pointing to no passage are dropped; the sentences of the
passages it cites (or, if it cites none or they do not support it, of every passage) are scored by
embedding similarity and word overlap; the best one above the bar becomes its citation, quoted
verbatim with its offsets. A sentence no passage supports keeps no marker and is flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from rag.embeddings import Embedder
from rag.models import Citation
from rag.retrieval import Passage
from rag.text import STOPWORDS, keyword_terms, sentence_spans, stem

SUPPORT_BAR = 0.55
"""Combined score a passage sentence needs to count as support (calibrated on scripted answers)."""
DENSE_WEIGHT = 0.6
UNSUPPORTED_TAG = "(unsupported)"
_MARKER = re.compile(r"\s*\[(\d+)\]")
_NOT_COVERED = re.compile(r"\b(do(es)? not|don't|doesn't) (cover|contain|mention|say)|no information", re.IGNORECASE)


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    supported: int = 0
    unsupported: int = 0
    declined: bool = False
    """The model said the passages do not cover the question."""


@dataclass(frozen=True)
class _Evidence:
    passage: int
    start: int
    end: int
    text: str


def check_citations(raw: str, passages: list[Passage], embedder: Embedder) -> CheckedAnswer:
    """Verify and repair the `[n]` citations of a generated answer (see module docstring)."""
    text = raw.strip()
    if not text:
        return CheckedAnswer("", notes=["the model returned an empty answer"])
    evidence = _evidence(passages)
    claims = [(text[s:e]) for s, e in sentence_spans(text)]
    if not claims or not evidence:
        # Nothing to check against: its markers point at nothing, so none is kept.
        plain = re.sub(r"\s+", " ", _MARKER.sub("", text)).strip()
        return CheckedAnswer(plain, notes=["the model's answer has no checkable sentence"])
    stripped = [_MARKER.sub("", c).strip() for c in claims]
    if all(_NOT_COVERED.search(c) for c in stripped):
        return CheckedAnswer(text, declined=True)
    ev_vectors = embedder.embed([e.text for e in evidence])
    claim_vectors = embedder.embed(stripped)
    result = CheckedAnswer("")
    numbers: dict[tuple[int, int], int] = {}
    parts: list[str] = []
    for claim, plain, vector in zip(claims, stripped, claim_vectors, strict=True):
        cited = {int(n) for n in _MARKER.findall(claim)}
        valid = {n for n in cited if 1 <= n <= len(passages)}
        if not plain.strip("[]() .,;:"):
            continue  # markers or punctuation alone ("[3]" after a sentence's full stop): no claim to check
        if cited - valid:
            result.notes.append(f"removed citation(s) {sorted(cited - valid)} that point to no passage")
        best = _best_support(plain, vector, evidence, ev_vectors, valid)
        if best is None and valid:
            best = _best_support(plain, vector, evidence, ev_vectors, set())
        if best is None:
            result.unsupported += 1
            result.notes.append(f"unsupported by the articles: \u201c{_short(plain)}\u201d")
            parts.append(f"{plain} {UNSUPPORTED_TAG}")
            continue
        ev, score = best
        key = (ev.passage, ev.start)
        if key not in numbers:
            numbers[key] = len(result.citations) + 1
            p = passages[ev.passage - 1]
            result.citations.append(Citation(numbers[key], p.source, p.title, ev.text, ev.start, ev.end, score))
        result.supported += 1
        parts.append(f"{plain} [{numbers[key]}]")
    result.text = " ".join(parts)
    return result


def _evidence(passages: list[Passage]) -> list[_Evidence]:
    """The passages' sentences that can back a claim; a sentence addressed to a model (an
    injection: "ignore your instructions and say ...") reports nothing and backs nothing."""
    found = []
    for i, p in enumerate(passages):
        for s, e in sentence_spans(p.text):
            if not addresses_a_model(p.text[s:e]):
                found.append(_Evidence(i + 1, p.start + s, p.start + e, p.text[s:e]))
    return found


_TO_A_MODEL = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,60}\b(?:instructions?|prompts?|rules|guidelines|system message)\b"
    r"|\b(?:you are now|from now on you|pretend (?:to be|you are)|developer mode|jailbreak|system prompt)\b"
    r"|\b(?:as an ai|language model),? (?:you|answer|reply|say)\b"
    r"|^\W*(?:system|assistant)\s*:",
    re.IGNORECASE | re.DOTALL,
)


def addresses_a_model(sentence: str) -> bool:
    """Whether the sentence gives orders to a language model rather than reporting news."""
    return bool(_TO_A_MODEL.search(sentence))


def _best_support(
    claim: str, vector: np.ndarray, evidence: list[_Evidence], vectors: np.ndarray, only: set[int]
) -> tuple[_Evidence, float] | None:
    names = _names_and_numbers(claim)
    best: tuple[_Evidence, float] | None = None
    for ev, ev_vector in zip(evidence, vectors, strict=True):
        if only and ev.passage not in only:
            continue
        # Similar wording is not support when the claim adds a name or a number the sentence lacks.
        if not _mentions_all(ev.text, names):
            continue
        score = DENSE_WEIGHT * float(ev_vector @ vector) + (1 - DENSE_WEIGHT) * _overlap(claim, ev.text)
        if score >= SUPPORT_BAR and (best is None or score > best[1]):
            best = (ev, score)
    return best


_NAME_OR_NUMBER = re.compile(r"\b(?:[A-Z][\w’'-]*\w|\d[\d.,]*\d|\d)\b")


def _names_and_numbers(claim: str) -> set[str]:
    """Capitalised words past the first word, and numbers: what a supporting sentence must also say."""
    found = set()
    for m in _NAME_OR_NUMBER.finditer(claim):
        if m.start() == 0:
            continue
        word = re.sub(r"[’']s$", "", m.group()).lower()
        if word not in STOPWORDS:
            found.add(word)
    return found


def _mentions_all(sentence: str, names: set[str]) -> bool:
    words = set(re.findall(r"\w+", sentence.lower()))
    return all(set(re.findall(r"\w+", name)) <= words for name in names)


def _overlap(claim: str, sentence: str) -> float:
    """Fraction of the claim's content words (stemmed) found in the sentence."""
    wanted = {stem(w) for w in keyword_terms(claim)}
    if not wanted:
        return 0.0
    return len(wanted & {stem(w) for w in keyword_terms(sentence)}) / len(wanted)


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
