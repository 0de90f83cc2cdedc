import pytest

from rag.evaluation import _covers, _overlaps, fact_present


@pytest.mark.parametrize(
    ("fact", "text", "present"),
    [
        ("tension", "over Tensions with", True),
        ("data-sharing|data sharing", "a data sharing plan", True),
        ("court", "the judge", False),
        ("a|b", "", False),
    ],
)
def test_fact_present(fact: str, text: str, present: bool) -> None:
    assert fact_present(fact, text) is present


def test_support_cover_and_overlap() -> None:
    body = "xxxx SUPPORT yyyy"
    assert _covers(body, 0, 17, "SUPPORT")
    assert not _covers(body, 6, 17, "SUPPORT")
    assert _overlaps(body, 6, 8, "SUPPORT")
    assert not _overlaps(body, 13, 17, "SUPPORT")
    assert not _covers(body, 0, 17, "missing")
