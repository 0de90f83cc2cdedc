"""Date and outlet filters, applied inside retrieval (the vector store's `where` and the records)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from rag.dates import Period, day_number, parse_iso_day, parse_published
from rag.errors import RagError

DAYS_META = "chunk_days"
"""Records meta key set once every chunk in the vector store carries its article's `day`."""


class FilterError(RagError):
    """A filter given in a form that cannot be used; the message says what to give."""


@dataclass(frozen=True)
class Filters:
    """Keep only articles published in [since, until] (inclusive) and, if given, from these outlets.

    An article without a date is left out by a date filter; outlets match case-insensitively.
    """

    since: date | None = None
    until: date | None = None
    outlets: tuple[str, ...] = ()

    @classmethod
    def parse(cls, since: str | date | None = None, until: str | date | None = None, outlets: Any = None) -> Filters:
        """Filters from user input: ISO dates as text or `date`s, one outlet name or several."""

        def day(value: str | date | None, what: str) -> date | None:
            if value is None or value == "":
                return None
            if isinstance(value, date):
                return value
            try:
                return parse_iso_day(str(value), what)
            except ValueError as exc:
                raise FilterError(str(exc)) from None

        names = (outlets,) if isinstance(outlets, str) else tuple(outlets or ())
        filters = cls(day(since, "since"), day(until, "until"), tuple(n.strip() for n in names if n and n.strip()))
        if filters.since and filters.until and filters.since > filters.until:
            raise FilterError(f"since {filters.since} is after until {filters.until}; swap them")
        return filters

    @property
    def dated(self) -> bool:
        return self.since is not None or self.until is not None

    def __bool__(self) -> bool:
        return self.dated or bool(self.outlets)

    def allows(self, published: str | None, outlet: str | None) -> bool:
        if self.outlets and (outlet or "").casefold() not in {o.casefold() for o in self.outlets}:
            return False
        if self.dated:
            day = parse_published(published)
            return day is not None and day in Period(self.since, self.until)
        return True

    def where(self, outlet_names: list[str]) -> dict[str, Any] | None:
        """The vector store's `where` clause; `outlet_names` are the index's own spellings."""
        conditions: list[dict[str, Any]] = []
        if self.since:
            conditions.append({"day": {"$gte": day_number(self.since)}})
        if self.until:
            conditions.append({"day": {"$lte": day_number(self.until)}})
        if self.outlets:
            wanted = {o.casefold() for o in self.outlets}
            conditions.append({"outlet": {"$in": [n for n in outlet_names if n.casefold() in wanted] or ["\0"]}})
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}

    def describe(self) -> str:
        parts = []
        if self.dated:
            parts.append(f"published {Period(self.since, self.until).describe()}")
        if self.outlets:
            parts.append("from " + " or ".join(self.outlets))
        return ", ".join(parts)


def period_where(period: Period) -> dict[str, Any] | None:
    """The vector store's `where` for a period a question names (a preference, not a filter)."""
    return Filters(period.since, period.until).where([])
