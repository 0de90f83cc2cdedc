import numpy as np
import pytest

from rag.answering.questions import question_names
from rag.records import ChunkRecord
from rag.refusal import is_covered
from rag.retrieval import Passage


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("When will the Harlow ferry terminal open?", {"harlow"}),
        ("Who won the 2018 FIFA World Cup?", {"fifa", "world", "cup"}),
        ("why did krause resign", set()),
        ("Why did Krause resign?", {"krause"}),
        ("What did Krause’s boss say?", {"krause"}),
        ("¿Por qué renunció Melanie Krause?", {"melanie", "krause"}),
    ],
)
def test_question_names(question: str, names: set[str]) -> None:
    assert question_names(question) == names


def passage(text: str, score: float) -> Passage:
    return Passage(ChunkRecord("id", "a.md", "Harbor news", 0, len(text), text, None, None, None), score, np.zeros(3))


@pytest.mark.parametrize(
    ("question", "score", "covered"),
    [
        ("When will the Harlow ferry terminal open?", 0.32, False),  # related article, unknown name
        ("When will the Harlow ferry terminal open?", 0.55, True),  # very similar: trust it
        ("When will the Port Ellery ferry open?", 0.32, True),  # the name is in the passage
        ("When will the Ell ferry open?", 0.32, False),  # "Ell" is not a name of "Ellery"
        ("when will the ferry open", 0.32, True),  # no names: similarity decides
        # under the threshold, a short question is covered only by a passage naming all it names
        ("Who is Port Ellery's commissioner?", 0.1, True),
        ("Who is the Harlow commissioner in Port Ellery?", 0.1, False),
        ("who is the commissioner", 0.1, False),
    ],
)
def test_is_covered(question: str, score: float, covered: bool) -> None:
    p = passage("Port Ellery harbor commissioner resigned over a data pact.", score)
    assert is_covered(question, [p], min_score=0.25) is covered
    assert not is_covered(question, [], min_score=0.25)
