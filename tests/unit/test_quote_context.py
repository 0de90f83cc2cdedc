"""A quote that opens with a pronoun brings the sentence it refers back to (pure logic, no model)."""

from __future__ import annotations

from rag.answering.extractive import _antecedent
from rag.answering.selection import Candidate

BODY = (
    "Lions coach names his squad\n"
    "The coach weighed up the scrum-halves on Monday. "
    "He choked late on in the second half when Wales were trailing. "
    "They had good possession and he kicked the ball away."
)


def candidate(text: str) -> Candidate:
    start = BODY.index(text)
    return Candidate("a.md", "Lions", start, start + len(text), text, 0, 0.5, 2, "")


def test_a_pronoun_quote_gets_the_sentence_before_it() -> None:
    before = _antecedent(candidate("They had good possession and he kicked the ball away."), lambda _: BODY)
    assert before is not None
    assert before.text == "He choked late on in the second half when Wales were trailing."
    assert BODY[before.start : before.end] == before.text  # a verbatim span: it can be cited


def test_no_context_for_a_quote_that_names_its_subject_or_follows_a_headline() -> None:
    assert _antecedent(candidate("The coach weighed up the scrum-halves on Monday."), lambda _: BODY) is None
    headline_first = "Lions coach names his squad\nHe picked Peel."
    quote = Candidate(
        "b.md", "Lions", headline_first.index("He"), len(headline_first), "He picked Peel.", 0, 0.5, 1, ""
    )
    assert _antecedent(quote, lambda _: headline_first) is None
    assert _antecedent(candidate("They had good possession and he kicked the ball away."), lambda _: None) is None
