"""`rag eval`: fact accuracy, citation validity, refusals, retrieval hit@k and latency on a JSONL set."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.answering.citations import UNSUPPORTED_TAG
from rag.errors import RagError
from rag.models import Answer
from rag.records import Records

HIT_AT = 4
"""Retrieval hit: the support span lies inside one of the first `HIT_AT` passages (the default `k`)."""
SUPPORT_COVERAGE = 0.6
"""Share of the support span's words that the answer's valid quotes must cover together."""
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    answerable: bool
    facts: list[str]
    support: str
    sources: list[str] = field(default_factory=list)
    """Articles that hold the answer (any of them counts); empty means any article."""
    near: bool | None = None
    """For unanswerable questions: True when the question is in the archive's domain (a trap)."""
    filters: dict[str, Any] = field(default_factory=dict)
    """`since`, `until`, `outlets` to answer with (see `answer()`)."""
    section: str | None = None
    """A part of the set reported on its own too (e.g. "dated")."""
    kind: str | None = None
    """For near-topic questions: what kind of trap (`undisclosed`, `premise`, `later`), when known."""
    near_source: str | None = None
    """For near-topic questions: the article the question is about, which does not answer it."""

    @property
    def article(self) -> str:
        """The article the question is about (its first source, or the near-topic article), else its id:
        the unit that cross-validation keeps on one side of a split."""
        return self.sources[0] if self.sources else self.near_source or f"id:{self.id}"


FILTER_KEYS = ("since", "until", "outlets")


@dataclass
class ItemResult:
    id: str
    question: str
    answerable: bool
    near: bool | None
    refused: bool
    facts_ok: bool | None
    """All facts in the answer (answerable questions only)."""
    support_ok: bool | None
    """The answer's valid quotes cover the support span's words (answerable questions only)."""
    verbatim_ok: bool | None
    """Every quote is the article text at its offsets (every answered question)."""
    unsupported: int
    """Sentences of the answer flagged as unsupported by the articles."""
    hit: bool | None
    """The support span lies inside one of the top-k passages."""
    latency_ms: float
    answer: str
    backend: str
    section: str | None = None
    kind: str | None = None


@dataclass
class EvalReport:
    items: list[ItemResult] = field(default_factory=list)

    def overall(self) -> dict[str, Any]:
        answerable = [r for r in self.items if r.answerable]
        refused = [r for r in self.items if r.refused]
        near = [r for r in self.items if not r.answerable and r.near is not False]
        off_topic = [r for r in self.items if not r.answerable and r.near is False]
        quoted = [r for r in self.items if r.verbatim_ok is not None]
        latencies = sorted(r.latency_ms for r in self.items)
        kinds = sorted({r.kind for r in near if r.kind})
        figures = {
            "questions": len(self.items),
            "fact_accuracy": _ratio(sum(bool(r.facts_ok) for r in answerable), len(answerable)),
            "support": _ratio(sum(bool(r.support_ok) for r in answerable), len(answerable)),
            "citation_validity": _ratio(sum(bool(r.verbatim_ok) for r in quoted), len(quoted)),
            "unsupported_sentences_flagged": sum(r.unsupported for r in self.items),
            "refusal_precision": _ratio(sum(not r.answerable for r in refused), len(refused)),
            "refusal_recall": _ratio(sum(r.refused for r in near + off_topic), len(near + off_topic)),
            "refused_near_topic": f"{sum(r.refused for r in near)}/{len(near)}",
            # Only for sets whose traps say of what kind they are (bbc_train's).
            "refused_near_topic_by_kind": {
                kind: f"{sum(r.refused for r in near if r.kind == kind)}/{sum(r.kind == kind for r in near)}"
                for kind in kinds
            },
            "refused_off_topic": f"{sum(r.refused for r in off_topic)}/{len(off_topic)}",
            "false_refusals": f"{sum(r.refused for r in answerable)}/{len(answerable)}",
            f"hit_at_{HIT_AT}": _ratio(sum(bool(r.hit) for r in answerable), len(answerable)),
            "answered_by": dict(Counter(r.backend for r in self.items if not r.refused)),
            "latency_p50_ms": _percentile(latencies, 0.5),
            "latency_p95_ms": _percentile(latencies, 0.95),
        }
        if not kinds:
            del figures["refused_near_topic_by_kind"]
        return figures

    def sections(self) -> dict[str, dict[str, Any]]:
        """The overall figures of each named section of the set."""
        names = sorted({r.section for r in self.items if r.section})
        return {n: EvalReport([r for r in self.items if r.section == n]).overall() for n in names}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"overall": self.overall(), "items": [asdict(r) for r in self.items]}
        if self.sections():
            data["sections"] = self.sections()
        return data


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    if q == 0.5:
        return round(statistics.median(ordered), 1)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def load_eval_set(path: Path) -> list[EvalItem]:
    """Read a JSONL file of {id, question, answerable, facts, support, source, near}, and optionally
    `since`, `until`, `outlets` (filters to answer with) and `section`."""
    if not path.is_file():
        raise RagError(f"eval file {path} does not exist")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            source = d.get("source") or []
            items.append(
                EvalItem(
                    str(d.get("id", n)),
                    d["question"],
                    bool(d.get("answerable", True)),
                    list(d.get("facts", [])),
                    d.get("support", ""),
                    [source] if isinstance(source, str) else list(source),
                    d.get("near"),
                    {k: d[k] for k in FILTER_KEYS if d.get(k)},
                    d.get("section"),
                    d.get("kind"),
                    d.get("near_source"),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RagError(f"{path}:{n} is not a valid eval line ({exc}); expected JSON with a 'question'") from None
    return items


def fact_present(fact: str, text: str) -> bool:
    """A fact `a|b` is present when any alternative occurs in the text, ignoring case."""
    lowered = text.lower()
    return any(alt.strip().lower() in lowered for alt in fact.split("|"))


def support_covered(support: str, quotes: list[str], threshold: float = SUPPORT_COVERAGE) -> bool:
    """True when the quotes together contain at least `threshold` of the support span's words."""
    wanted = _TOKEN.findall(support.lower())
    if not wanted:
        return False
    present = set(_TOKEN.findall(" ".join(quotes).lower()))
    return sum(w in present for w in wanted) / len(wanted) >= threshold


def evaluate(items: list[EvalItem], ask: Callable[..., Answer], records: Records) -> EvalReport:
    """Ask every question and score the answers against the article bodies in `records`. An item's
    filters are passed to `ask` as keyword arguments (only items that carry some)."""
    bodies: dict[str, str] = {}

    def body(source: str) -> str:
        if source not in bodies:
            article = records.article(source)
            bodies[source] = article.body if article else ""
        return bodies[source]

    report = EvalReport()
    for item in items:
        item = with_copies(item, records)
        started = time.perf_counter()
        result = ask(item.question, **item.filters)
        latency = (time.perf_counter() - started) * 1000
        report.items.append(score_answer(item, result, body, latency))
    return report


def with_copies(item: EvalItem, records: Records) -> EvalItem:
    """The item with the near-duplicate copies of its sources listed too: a quote from a copy counts."""
    copies = [c for s in item.sources for c in records.copies_of(s) if c not in item.sources]
    return replace(item, sources=item.sources + copies) if copies else item


def score_answer(item: EvalItem, result: Answer, body: Callable[[str], str], latency_ms: float) -> ItemResult:
    """Score one answer: facts, support, verbatim quotes, retrieval hit."""
    facts_ok = support_ok = hit = verbatim_ok = None

    def listed(source: str) -> bool:
        return not item.sources or source in item.sources

    if result.citations or not result.refused:  # a refusal may quote what the articles do say
        verbatim_ok = all(body(c.source)[c.start : c.end] == c.quote for c in result.citations)
    if item.answerable:
        facts_ok = not result.refused and all(fact_present(f, result.text) for f in item.facts)
        spans = [(p.source, p.start, p.end) for p in result.passages[:HIT_AT]]
        hit = any(listed(s) and _covers(body(s), start, end, item.support) for s, start, end in spans)
        valid = [c.quote for c in result.citations if listed(c.source) and body(c.source)[c.start : c.end] == c.quote]
        support_ok = not result.refused and support_covered(item.support, valid)
    return ItemResult(
        id=item.id,
        question=item.question,
        answerable=item.answerable,
        near=item.near,
        refused=result.refused,
        facts_ok=facts_ok,
        support_ok=support_ok,
        verbatim_ok=verbatim_ok,
        unsupported=result.text.count(UNSUPPORTED_TAG),
        hit=hit,
        latency_ms=round(latency_ms, 1),
        answer=result.text,
        backend=result.backend,
        section=item.section,
        kind=item.kind,
    )


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
