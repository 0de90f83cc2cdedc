"""Dates: an article's published date as a day, and the time a question names.

Relative expressions ("last week", "this year", "since January") are measured from a reference
day: the newest article in the index, not the clock, so an archive answers as it did when it was
current.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime

MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): n for n, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_YEAR = r"((?:19|20)\d\d)"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"


def day_number(day: date) -> int:
    """A day as the integer YYYYMMDD: what the vector store's range filters compare."""
    return day.year * 10000 + day.month * 100 + day.day


def parse_published(text: str | None) -> date | None:
    """The day of a published field: ISO dates and timestamps, RFC 2822 (feeds), "3 March 2026",
    "March 3, 2026"; None when it names no whole day."""
    if not text:
        return None
    text = text.strip()
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        return _day(int(m[1]), int(m[2]), int(m[3]))
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    lowered = text.lower()
    m = re.search(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b", lowered)
    if m:
        return _day(int(m[3]), MONTHS[m[2]], int(m[1]))
    m = re.search(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", lowered)
    if m:
        return _day(int(m[3]), MONTHS[m[1]], int(m[2]))
    return None


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_iso_day(text: str, what: str) -> date:
    """A YYYY-MM-DD day given by a user (`--since`, `--until`); ValueError says what to give instead."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a date; give it as YYYY-MM-DD, e.g. 2026-03-01") from None


@dataclass(frozen=True)
class Period:
    """An inclusive range of days; either end may be open."""

    since: date | None = None
    until: date | None = None
    span: tuple[int, int] | None = field(default=None, compare=False)
    """Where the question names the period (start, end), for `without_period`."""

    def __contains__(self, day: date) -> bool:
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    def describe(self) -> str:
        if self.since and self.until:
            return f"{self.since.isoformat()} to {self.until.isoformat()}"
        if self.since:
            return f"since {self.since.isoformat()}"
        if self.until:
            return f"until {self.until.isoformat()}"
        return "any date"


_LATEST = re.compile(r"\b(latest|newest|most recent|most up-to-date|current(?:ly)?|now|so far|to date)\b")


def wants_latest(question: str) -> bool:
    """The question asks for the newest state of things ("the latest estimate", "what is it now")."""
    return bool(_LATEST.search(question.lower()))


def question_period(question: str, reference: date | None) -> Period | None:
    """The days a question names, if any, with where it names them (see `_named_period`)."""
    found = _named_period(question.lower(), reference)
    if found is None:
        return None
    period, match = found
    return replace(period, span=(match.start(), match.end()))


def without_period(question: str, period: Period | None) -> str:
    """The question without the words that name its period: article text rarely repeats a date
    that its published field carries, so those words only blur the question's meaning."""
    if period is None or period.span is None:
        return question
    start, end = period.span
    preposition = r"\b(?:in|on|during|since|from|of|throughout|before|after|until)\s*$"
    before = re.sub(preposition, "", question[:start], flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", f"{before} {question[end:]}").strip()


def _named_period(q: str, reference: date | None) -> tuple[Period, re.Match[str]] | None:
    """The days a lower-cased question names, and the match that names them: "on 3 March 2026",
    "in November 2025", "in 2004", "since January", "last week", "this year", "yesterday".
    Relative ones need `reference` (the newest article's day); without it they are ignored."""
    m = re.search(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b", q) or re.search(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", q)
    if m:
        groups = m.groups()
        day_text, month_text = (groups[0], groups[1]) if groups[0].isdigit() else (groups[1], groups[0])
        day = _day(int(groups[2]), MONTHS[month_text], int(day_text))
        if day:
            return _since_or_on(q, m.start(), day, day), m
    m = re.search(rf"\b{_MONTH}\s+(?:of\s+)?{_YEAR}\b", q)
    if m:
        first = date(int(m[2]), MONTHS[m[1]], 1)
        return _since_or_on(q, m.start(), first, _month_end(first)), m
    m = re.search(rf"\b(?:in|during|since|from|throughout|of|before|until|after)\s+{_YEAR}\b", q)
    if m:
        first, last = date(int(m[1]), 1, 1), date(int(m[1]), 12, 31)
        return _since_or_on(q, m.start(), first, last), m
    if reference is None:
        return None
    m = re.search(rf"\b(?:on|since)\s+(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\b", q) or re.search(
        rf"\b(?:on|since)\s+{_MONTH}\s+{_DAY}\b", q
    )
    if m:
        groups = m.groups()
        day_text, month_text = (groups[0], groups[1]) if groups[0].isdigit() else (groups[1], groups[0])
        day = _latest_before(reference, MONTHS[month_text], int(day_text))
        if day:
            return _since_or_on(q, m.start(), day, day), m
    m = re.search(rf"\b(?:in|since|during|from)\s+{_MONTH}\b", q)
    if m:
        month = MONTHS[m[1]]
        year = reference.year if month <= reference.month else reference.year - 1
        first = date(year, month, 1)
        return _since_or_on(q, m.start(), first, _month_end(first)), m
    relative = (
        (r"\byesterday\b", lambda: Period(reference - timedelta(days=1), reference - timedelta(days=1))),
        (r"\btoday\b", lambda: Period(reference, reference)),
        (
            r"\b(?:this|past|last)\s+week\b|\bin the (?:past|last) (?:few|seven|7) days\b",
            lambda: Period(reference - timedelta(days=7), reference),
        ),
        (r"\b(?:this|past|last)\s+month\b", lambda: Period(reference - timedelta(days=31), reference)),
        (r"\bthis year\b", lambda: Period(date(reference.year, 1, 1), reference)),
        (
            r"\blast year\b",
            lambda: Period(date(reference.year - 1, 1, 1), date(reference.year - 1, 12, 31)),
        ),
    )
    for pattern, period in relative:
        m = re.search(pattern, q)
        if m:
            return period(), m
    return None


def _since_or_on(q: str, at: int, first: date, last: date) -> Period:
    """`since X` and `after X` are open-ended, `before X` and `until X` too; `in/on X` is X itself."""
    before = q[max(0, at - 12) : at + 8]
    if re.search(r"\b(since|from)\b", before):
        return Period(first, None)
    if re.search(r"\bafter\b", before):
        return Period(last + timedelta(days=1), None)
    if re.search(r"\b(before)\b", before):
        return Period(None, first - timedelta(days=1))
    if re.search(r"\b(until|till)\b", before):
        return Period(None, last)
    return Period(first, last)


def _month_end(first: date) -> date:
    return date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])


def _latest_before(reference: date, month: int, day: int) -> date | None:
    """The last `day month` on or before the reference day ("on 3 March" means the latest one)."""
    for year in (reference.year, reference.year - 1):
        candidate = _day(year, month, day)
        if candidate and candidate <= reference:
            return candidate
    return None
