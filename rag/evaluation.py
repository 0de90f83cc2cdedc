"""`rag eval`: fact accuracy, citation validity, refusals, retrieval hit@k and latency on a JSONL set."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.answering.citations import UNSUPPORTED_TAG
from rag.errors import RagError
from rag.models import Answer
from rag.records import Records

HIT_AT = 3


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    answerable: bool
    facts: list[str]
    support: str


@dataclass
class ItemResult:
    id: str
    question: str
    answerable: bool
    refused: bool
    facts_ok: bool | None
    """All facts in the answer (answerable questions only)."""
    citations_ok: bool | None
    """Every quote verbatim, and one covering the support span (answered, answerable questions only)."""
    verbatim_ok: bool | None
    """Every quote is the article text at its offsets (every answered question)."""
    unsupported: int
    """Sentences of the answer flagged as unsupported by the articles."""
    hit: bool | None
    """The support span lies inside one of the top-k passages."""
    latency_ms: float
    answer: str
    backend: str


@dataclass
class EvalReport:
    items: list[ItemResult] = field(default_factory=list)

    def overall(self) -> dict[str, Any]:
        answerable = [r for r in self.items if r.answerable]
        refused = [r for r in self.items if r.refused]
        unanswerable = [r for r in self.items if not r.answerable]
        cited = [r for r in self.items if r.citations_ok is not None]
        quoted = [r for r in self.items if r.verbatim_ok is not None]
        latencies = sorted(r.latency_ms for r in self.items)
        return {
            "questions": len(self.items),
            "fact_accuracy": _ratio(sum(bool(r.facts_ok) for r in answerable), len(answerable)),
            "citation_validity": _ratio(sum(bool(r.citations_ok) for r in cited), len(cited)),
            "citations_verbatim": _ratio(sum(bool(r.verbatim_ok) for r in quoted), len(quoted)),
            "unsupported_sentences_flagged": sum(r.unsupported for r in self.items),
            "refusal_precision": _ratio(sum(not r.answerable for r in refused), len(refused)),
            "refusal_recall": _ratio(sum(r.refused for r in unanswerable), len(unanswerable)),
            f"hit_at_{HIT_AT}": _ratio(sum(bool(r.hit) for r in answerable), len(answerable)),
            "answered_by": dict(Counter(r.backend for r in self.items if not r.refused)),
            "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "latency_p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1)
            if latencies
            else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall(), "items": [asdict(r) for r in self.items]}


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)


def load_eval_set(path: Path) -> list[EvalItem]:
    """Read a JSONL file of {id, question, answerable, facts, support}."""
    if not path.is_file():
        raise RagError(f"eval file {path} does not exist")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            items.append(
                EvalItem(
                    str(d.get("id", n)),
                    d["question"],
                    bool(d.get("answerable", True)),
                    list(d.get("facts", [])),
                    d.get("support", ""),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RagError(f"{path}:{n} is not a valid eval line ({exc}); expected JSON with a 'question'") from None
    return items


def fact_present(fact: str, text: str) -> bool:
    """A fact `a|b` is present when any alternative occurs in the text, ignoring case."""
    lowered = text.lower()
    return any(alt.strip().lower() in lowered for alt in fact.split("|"))


def evaluate(items: list[EvalItem], ask: Callable[[str], Answer], records: Records) -> EvalReport:
    """Ask every question and score the answers against the article bodies in `records`."""
    report = EvalReport()
    bodies: dict[str, str] = {}

    def body(source: str) -> str:
        if source not in bodies:
            article = records.article(source)
            bodies[source] = article.body if article else ""
        return bodies[source]

    for item in items:
        started = time.perf_counter()
        result = ask(item.question)
        latency = (time.perf_counter() - started) * 1000
        facts_ok = citations_ok = hit = verbatim_ok = None
        if item.answerable:
            facts_ok = not result.refused and all(fact_present(f, result.text) for f in item.facts)
            spans = [(p.source, p.start, p.end) for p in result.passages[:HIT_AT]]
            hit = any(_covers(body(s), start, end, item.support) for s, start, end in spans)
        if not result.refused:
            verbatim_ok = all(body(c.source)[c.start : c.end] == c.quote for c in result.citations)
        if not result.refused and item.answerable:
            verbatim = bool(verbatim_ok)
            on_support = any(_overlaps(body(c.source), c.start, c.end, item.support) for c in result.citations)
            citations_ok = bool(result.citations) and verbatim and on_support
        report.items.append(
            ItemResult(
                id=item.id,
                question=item.question,
                answerable=item.answerable,
                refused=result.refused,
                facts_ok=facts_ok,
                citations_ok=citations_ok,
                verbatim_ok=verbatim_ok,
                unsupported=result.text.count(UNSUPPORTED_TAG),
                hit=hit,
                latency_ms=round(latency, 1),
                answer=result.text,
                backend=result.backend,
            )
        )
    return report


def _support_spans(body: str, support: str) -> list[tuple[int, int]]:
    spans, at = [], body.find(support)
    while support and at >= 0:
        spans.append((at, at + len(support)))
        at = body.find(support, at + 1)
    return spans


def _covers(body: str, start: int, end: int, support: str) -> bool:
    return any(start <= s and e <= end for s, e in _support_spans(body, support))


def _overlaps(body: str, start: int, end: int, support: str) -> bool:
    return any(start < e and s < end for s, e in _support_spans(body, support))
