"""Published dates, the periods questions name, filters, and answers ordered by date (pure logic)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from rag.answering.dated import in_date_order, is_chronology, lead_with_newest
from rag.answering.extractive import Scored
from rag.answering.questions import read_question
from rag.answering.selection import Candidate
from rag.dates import Period, parse_published, question_period, wants_latest, without_period
from rag.filters import FilterError, Filters
from rag.models import Citation

REFERENCE = date(2026, 3, 9)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-03-04", date(2026, 3, 4)),
        ("2026-03-04T09:00:00Z", date(2026, 3, 4)),
        ("Wed, 04 Mar 2026 09:00:00 GMT", date(2026, 3, 4)),
        ("4 March 2026", date(2026, 3, 4)),
        ("March 4, 2026", date(2026, 3, 4)),
        ("4th Mar 2026", date(2026, 3, 4)),
        ("2026-02-30", None),
        ("March 2026", None),
        ("last Tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_published_fields_become_days(text: str | None, day: date | None) -> None:
    assert parse_published(text) == day


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("What did the inspection on 3 March 2026 find?", date(2026, 3, 3), date(2026, 3, 3)),
        ("What did the inspection on March 3, 2026 find?", date(2026, 3, 3), date(2026, 3, 3)),
        ("What did the inspection in November 2025 find?", date(2025, 11, 1), date(2025, 11, 30)),
        ("Who won the cup in 2004?", date(2004, 1, 1), date(2004, 12, 31)),
        ("What has changed since January?", date(2026, 1, 1), None),
        ("What happened in November?", date(2025, 11, 1), date(2025, 11, 30)),
        ("What happened on 3 March?", date(2026, 3, 3), date(2026, 3, 3)),
        ("What happened on 20 March?", date(2025, 3, 20), date(2025, 3, 20)),
        ("What did the council decide last week?", date(2026, 3, 2), REFERENCE),
        ("How many ferries sailed this year?", date(2026, 1, 1), REFERENCE),
        ("What did the mayor say yesterday?", date(2026, 3, 8), date(2026, 3, 8)),
        ("What did prices do last year?", date(2025, 1, 1), date(2025, 12, 31)),
        ("What changed since March 2025?", date(2025, 3, 1), None),
        ("What was decided before 2020?", None, date(2019, 12, 31)),
    ],
)
def test_the_period_a_question_names(question: str, since: date | None, until: date | None) -> None:
    period = question_period(question, REFERENCE)
    assert period == Period(since, until)


def test_relative_periods_need_a_reference_day_and_plain_questions_name_none() -> None:
    assert question_period("What did the council decide last week?", None) is None
    assert question_period("Why did Krause resign?", REFERENCE) is None
    assert question_period("How many of the 2,000 jobs will go?", REFERENCE) is None


def test_the_words_naming_a_period_are_taken_out_of_what_is_asked() -> None:
    question = "What did the inspection in November 2025 find?"
    assert without_period(question, question_period(question, REFERENCE)) == "What did the inspection find?"
    assert without_period(question, None) == question


@pytest.mark.parametrize(
    ("question", "latest"),
    [
        ("What is the latest estimate of the repair bill?", True),
        ("What's the newest figure?", True),
        ("What is the current toll?", True),
        ("How much does it cost now?", True),
        ("How often will Microsoft update its program?", False),
        ("Why did Krause resign?", False),
    ],
)
def test_questions_about_the_latest(question: str, latest: bool) -> None:
    assert wants_latest(question) is latest


def test_chronology_questions() -> None:
    assert is_chronology("How did the bridge closure unfold?")
    assert is_chronology("Give me a timeline of the strike")
    assert not is_chronology("Why did the bridge close?")


def test_filters_parse_check_and_match() -> None:
    filters = Filters.parse("2026-03-01", "2026-03-31", ["harbour gazette"])
    assert filters.allows("2026-03-04", "Harbour Gazette")
    assert not filters.allows("2026-04-01", "Harbour Gazette")
    assert not filters.allows(None, "Harbour Gazette")  # an undated article is left out by dates
    assert not filters.allows("2026-03-04", "Island Times")
    assert Filters.parse(outlets="Island Times").allows(None, "island times")
    assert not Filters.parse() and Filters.parse(since="2026-01-01").dated
    with pytest.raises(FilterError, match="YYYY-MM-DD"):
        Filters.parse(since="March")
    with pytest.raises(FilterError, match="swap"):
        Filters.parse("2026-04-01", "2026-03-01")


def test_filters_become_a_vector_store_clause_in_the_index_spelling() -> None:
    where = Filters.parse("2026-03-01", None, ["harbour gazette"]).where(["Harbour Gazette", "Island Times"])
    assert where == {"$and": [{"day": {"$gte": 20260301}}, {"outlet": {"$in": ["Harbour Gazette"]}}]}
    assert Filters.parse(until="2026-03-31").where([]) == {"day": {"$lte": 20260331}}
    assert Filters.parse(outlets="Nowhere Times").where(["Island Times"]) == {"outlet": {"$in": ["\0"]}}
    assert Filters().where(["Island Times"]) is None


def _citation(number: int, source: str, quote: str, start: int = 0) -> Citation:
    return Citation(number, source, source, quote, start, start + len(quote), 0.5)


def test_newest_quote_first_and_older_ones_marked_with_their_day() -> None:
    days = {"mon.md": date(2026, 3, 2), "wed.md": date(2026, 3, 4)}
    cited = [_citation(1, "mon.md", "It will cost 2 million."), _citation(2, "wed.md", "It will cost 3.5 million.")]
    text, ordered = in_date_order(cited, days, newest_first=True)  # type: ignore[misc]
    assert text == "It will cost 3.5 million. [1] On 2 March 2026: It will cost 2 million. [2]"
    assert [(c.number, c.source) for c in ordered] == [(1, "wed.md"), (2, "mon.md")]
    text, _ = in_date_order(cited, days, newest_first=False)  # type: ignore[misc]
    assert text.startswith("On 2 March 2026: It will cost 2 million. [1] On 4 March 2026:")


def test_quotes_of_one_day_keep_their_order() -> None:
    days = {"mon.md": date(2026, 3, 2)}
    cited = [_citation(1, "mon.md", "First.", 10), _citation(2, "other.md", "Second.")]
    assert in_date_order(cited, days, newest_first=True) is None


def test_the_newest_update_of_the_best_sentence_leads() -> None:
    days = {"mon.md": date(2026, 3, 2), "wed.md": date(2026, 3, 4), "fri.md": date(2026, 3, 6)}
    texts = [("mon.md", "cost 2 million"), ("wed.md", "cost 3.5 million"), ("fri.md", "a choir sang")]
    candidates = [Candidate(s, s, 0, len(t), t, 0, 0.5, 0, "") for s, t in texts]
    vectors = np.array([[1.0, 0.0], [0.95, 0.312], [0.0, 1.0]])
    scored = Scored(
        read_question("What is the latest cost?"), candidates, vectors, np.zeros((3, 1)), np.array([0.6, 0.1, 0.3])
    )
    raised = lead_with_newest(scored, days).probabilities
    assert int(np.argmax(raised)) == 1  # the Wednesday update, not the unrelated Friday sentence
    assert raised[0] == 0.6 and raised[2] == 0.3
