"""The reranker: a tiny training run on the bundled MiniLM, its weights file, and the shipped weights
on questions they were not trained on (the seed dev set)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.answering.reranker import WEIGHTS_FILE, Reranker, get_reranker
from rag.answering.reranker_training import RankingList, rank_of_first_answer, train_reranker
from rag.text import sentence_spans
from tests.conftest import SEED_ARTICLE

FACTS = [
    ("Which port did the Mervale ferry sail from?", "The Mervale ferry sailed from Port Anselm at dawn."),
    ("How much did Corbin Mills pay for the mill?", "Corbin Mills paid £4m for the old mill in March."),
    ("Who won the Tallis chess open?", "Grandmaster Ines Varga won the Tallis chess open on Sunday."),
    ("Why was the Ostry bridge closed?", "The Ostry bridge was closed because cracks were found in a pier."),
    ("When will the Bellmoor library reopen?", "The Bellmoor library will reopen in September after repairs."),
    ("What did the mayor of Quell call the plan?", 'The mayor of Quell called the plan "a costly mistake".'),
]
FILLER = [
    "Residents gathered in the square on Saturday.",
    "The council meets again next month.",
    "Weather forecasters expect rain later in the week.",
    "Local shops reported a busy weekend.",
]


def smoke_lists() -> list[RankingList]:
    """Each question with its answer among four filler sentences, the answer at a different place each time."""
    lists = []
    for n, (question, answer) in enumerate(FACTS):
        sentences = list(FILLER)
        sentences.insert(n % 5, answer)
        lists.append(RankingList(question, tuple(sentences), frozenset({n % 5})))
    return lists


@pytest.fixture(scope="module")
def trained() -> Reranker:
    # Two tuned layers keep the smoke run short; the shipped reranker tunes all six.
    return train_reranker(smoke_lists(), epochs=4, list_size=5, seed=0, tuned_layers=2)


def test_a_short_training_run_puts_the_answers_first(trained: Reranker) -> None:
    ranks = rank_of_first_answer(trained, smoke_lists())
    assert sum(r == 0 for r in ranks) >= 5, ranks


def test_an_unanswerable_list_teaches_every_sentence_below_none() -> None:
    unanswerable = RankingList("What is the recipe for Quell soup?", tuple(FILLER), frozenset())
    lists = smoke_lists() + [unanswerable] * 3
    reranker = train_reranker(lists, epochs=4, list_size=5, seed=0, tuned_layers=2)
    assert (reranker.score(unanswerable.question, FILLER) < 0).all()


def test_weights_round_trip_and_hold_only_the_tuned_layers(trained: Reranker, tmp_path: Path) -> None:
    trained.module.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"tuned_layers": 2}
    from safetensors import safe_open

    with safe_open(str(tmp_path / WEIGHTS_FILE), framework="pt") as f:
        names = set(f.keys())
    assert names and all(n.startswith(("head.", "encoder.layer.4.", "encoder.layer.5.")) for n in names)
    again = Reranker(weights_dir=tmp_path)
    question, sentences = FACTS[0][0], [FACTS[0][1], *FILLER]
    # fp16 weights: the scores move a little, the order does not
    before, after = trained.score(question, sentences), again.score(question, sentences)
    assert np.allclose(before, after, atol=0.05)
    assert list(np.argsort(before)) == list(np.argsort(after))


def test_the_shipped_reranker_finds_the_seed_answers_it_was_not_trained_on(dev_set: list[dict]) -> None:
    from ingest.loader import load_article

    body = load_article(SEED_ARTICLE, SEED_ARTICLE.parent, max_bytes=10**7).body
    spans = sentence_spans(body)
    lists = []
    for item in (i for i in dev_set if i["answerable"]):
        at = body.index(item["support"])
        answers = frozenset(n for n, (s, e) in enumerate(spans) if s < at + len(item["support"]) and at < e)
        lists.append(RankingList(item["question"], tuple(body[s:e] for s, e in spans), answers))
    assert len(lists) == 10
    ranks = rank_of_first_answer(get_reranker(), lists)
    # Measured: see the closing figures in bench/results/reranker.json; a random order of the
    # article's sentences would put an answer in the first three for about one question in five.
    assert sum(r < 3 for r in ranks) / len(ranks) >= 0.7, ranks
