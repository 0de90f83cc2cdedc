"""Citation checking of generated answers, with scripted model outputs and the real embedder."""

from __future__ import annotations

import pytest

from rag.answering.citations import UNSUPPORTED_TAG, check_citations
from rag.embeddings import get_embedder
from rag.retrieval import Passage, retrieve
from rag.store import open_store
from tests.conftest import DevIndex


@pytest.fixture(scope="module")
def passages(dev_index: DevIndex) -> list[Passage]:
    store, embedder = open_store(dev_index.settings), get_embedder()
    question = "Why did Krause resign and who criticized the agreement?"
    return retrieve(store, question, embedder.embed_one(question), 4)


def check(raw: str, passages: list[Passage]):
    return check_citations(raw, passages, get_embedder())


def assert_verbatim(result, dev_index: DevIndex) -> None:
    for c in result.citations:
        assert dev_index.bodies[c.source][c.start : c.end] == c.quote


def test_supported_and_cited(passages: list[Passage], dev_index: DevIndex) -> None:
    krause = next(i for i, p in enumerate(passages, 1) if "stepping down" in p.text)
    r = check(f"Krause is stepping down after tensions over a data-sharing plan with ICE [{krause}].", passages)
    assert (r.supported, r.unsupported) == (1, 0)
    assert r.text.endswith("[1]")
    assert "stepping down following tensions" in r.citations[0].quote
    assert_verbatim(r, dev_index)


def test_out_of_range_marker_is_removed_and_the_claim_recited(passages: list[Passage], dev_index: DevIndex) -> None:
    r = check("Representative Jimmy Gomez and Senator Jacky Rosen expressed outrage [9].", passages)
    assert any("[9]" in n for n in r.notes)
    assert "[9]" not in r.text and r.text.endswith("[1]")
    assert "Gomez" in r.citations[0].quote
    assert_verbatim(r, dev_index)


def test_uncited_supported_sentence_gets_a_marker(passages: list[Passage]) -> None:
    r = check("Gomez and Rosen expressed outrage about the agreement.", passages)
    assert r.text.endswith("[1]") and r.supported == 1


def test_wrong_marker_is_pointed_at_the_supporting_passage(passages: list[Passage]) -> None:
    gomez = next(i for i, p in enumerate(passages, 1) if "Gomez" in p.text)
    wrong = next(i for i, p in enumerate(passages, 1) if "Gomez" not in p.text)
    r = check(f"Representative Jimmy Gomez and Senator Jacky Rosen expressed outrage [{wrong}].", passages)
    assert r.citations[0].quote.startswith("Representative Jimmy Gomez")
    assert gomez  # the quote comes from the passage that has it, whatever number the model used


def test_unsupported_sentence_is_flagged_never_cited(passages: list[Passage], dev_index: DevIndex) -> None:
    r = check("Krause is stepping down over a data-sharing plan [1]. The moon is made of green cheese [2].", passages)
    assert (r.supported, r.unsupported) == (1, 1)
    assert f"The moon is made of green cheese. {UNSUPPORTED_TAG}" in r.text
    assert "[2]" not in r.text
    assert any("green cheese" in n for n in r.notes)
    assert_verbatim(r, dev_index)


@pytest.mark.parametrize("raw", ["", "   ", "[1] [2]"])
def test_empty_or_marker_only_output_supports_nothing(passages: list[Passage], raw: str) -> None:
    r = check(raw, passages)
    assert r.supported == 0 and not r.citations


def test_model_declining_is_recognised(passages: list[Passage]) -> None:
    assert check("The indexed articles do not cover this question.", passages).declined


@pytest.mark.parametrize(
    "claim",
    [
        "The Treasury spokesperson said the agreement is bipartisan [1].",
        "The outcry has prompted calls for hearings about the Maplewood Public Library [1].",
        "The outcry has prompted calls for 12 congressional hearings [1].",
    ],
)
def test_claim_adding_a_name_or_number_is_not_supported_by_similar_wording(passages: list[Passage], claim: str) -> None:
    r = check(claim, passages)
    assert r.supported == 0 and r.unsupported == 1 and not r.citations
