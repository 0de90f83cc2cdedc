import pytest

from rag.evaluation import EvalReport, ItemResult, _covers, _overlaps, fact_present


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


def _trap(kind: str | None, refused: bool) -> ItemResult:
    return ItemResult(
        id="t", question="q", answerable=False, near=True, refused=refused, facts_ok=None, support_ok=None,
        verbatim_ok=None, unsupported=0, hit=None, latency_ms=1.0, answer="", backend="extractive", kind=kind,
    )  # fmt: skip


def test_near_topic_refusals_are_counted_per_kind_where_the_set_names_kinds() -> None:
    report = EvalReport([_trap("premise", True), _trap("premise", False), _trap("later", True)])
    assert report.overall()["refused_near_topic_by_kind"] == {"later": "1/1", "premise": "1/2"}
    assert report.overall()["refused_near_topic"] == "2/3"


def test_a_set_without_kinds_reports_no_per_kind_figure() -> None:
    assert "refused_near_topic_by_kind" not in EvalReport([_trap(None, True)]).overall()
