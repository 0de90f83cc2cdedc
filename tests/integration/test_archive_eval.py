"""Answer quality on a real news archive: the BBC dev set, cross-validated, must meet its bars.

The archive (2,225 BBC articles plus the seed) is indexed once per session. Cross-validation fits
the sentence selector on half of the questions and answers the other half with it, both ways, so
the figures are those of questions the selector has not seen.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.common import archive_corpus
from rag.answering.training import Example, collect_examples, cross_validate, fit_selector, folds
from rag.api import answer
from rag.config import Settings
from rag.embeddings import get_embedder
from rag.evaluation import EvalItem, EvalReport, evaluate, load_eval_set
from rag.store import open_store
from tests.conftest import DevIndex, new_settings


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Settings:
    from ingest.indexer import ingest

    root = tmp_path_factory.mktemp("archive")
    settings = new_settings(root).with_overrides(corpus_dir=archive_corpus(root, shared_dir))
    report = ingest(settings)
    assert not report.skipped, report.skipped  # every article of the archive indexes, cp1252 included
    return settings


@pytest.fixture(scope="session")
def archive_items(shared_dir: Path) -> list[EvalItem]:
    return load_eval_set(shared_dir / "eval" / "bbc_dev.jsonl")


@pytest.fixture(scope="session")
def archive_examples(archive: Settings, archive_items: list[EvalItem]) -> list[Example]:
    """Every BBC dev question retrieved and featurised once."""
    return collect_examples(archive_items, archive, open_store(archive), get_embedder())


@pytest.fixture(scope="session")
def cross_validated(archive: Settings, archive_items: list[EvalItem], archive_examples: list[Example]) -> EvalReport:
    return cross_validate(archive_items, archive, open_store(archive), get_embedder(), examples=archive_examples)


# The bars of the answer-quality work, on cross-validated figures. Measured (bench/results/
# answer_quality.json): facts 0.88, support 0.86, hit@4 0.96, near-topic 6/7, off-topic 3/3, false
# refusals 0/50. An index rebuilt here retrieves almost the same passages (HNSW is approximate), and
# with 25 answerable questions per fold a selector can move by a question with it; each bar is
# met with about a question to spare.
BARS = {"fact_accuracy": 0.85, "support": 0.85, "hit_at_4": 0.95, "citation_validity": 1.0}


def test_cross_validated_answers_meet_the_bars(cross_validated: EvalReport) -> None:
    overall = cross_validated.overall()
    summary = json.dumps(overall)
    for key, bar in BARS.items():
        assert overall[key] >= bar, (key, summary)
    near_refused, near = map(int, overall["refused_near_topic"].split("/"))
    off_refused, off = map(int, overall["refused_off_topic"].split("/"))
    false_refusals, answerable = map(int, overall["false_refusals"].split("/"))
    assert (near, off, answerable) == (7, 3, 50)
    assert near_refused >= 5, summary
    assert off_refused == 3, summary
    assert false_refusals <= 2, summary
    assert overall["latency_p50_ms"] is not None


def test_cross_validation_folds_split_every_kind_of_question(archive_items: list[EvalItem]) -> None:
    """The folds are disjoint and cover the set, each with every kind of question."""
    halves = folds(archive_items, 2)
    ids = [{i.id for i in half} for half in halves]
    assert not ids[0] & ids[1]
    assert ids[0] | ids[1] == {i.id for i in archive_items}
    for half in halves:  # each half holds answerable, near-topic and off-topic questions
        assert {(i.answerable, i.near) for i in half} == {(True, None), (False, True), (False, False)}


def test_shipped_selector_answers_the_seed_dev_set_fully(dev_index: DevIndex, shared_dir: Path) -> None:
    report = evaluate(
        load_eval_set(shared_dir / "eval" / "dev_set.jsonl"),
        lambda q: answer(q, settings=dev_index.settings),
        open_store(dev_index.settings).records,
    )
    overall = report.overall()
    for key in ("fact_accuracy", "support", "citation_validity", "refusal_precision", "refusal_recall", "hit_at_4"):
        assert overall[key] == 1.0, (key, overall)


def test_a_selector_fitted_only_on_the_archive_answers_the_seed_dev_set(
    archive_examples: list[Example], dev_index: DevIndex, shared_dir: Path
) -> None:
    """Held out in the strongest sense: another corpus, questions the selector never saw."""
    model = fit_selector(archive_examples)
    store = open_store(dev_index.settings)
    report = evaluate(
        load_eval_set(shared_dir / "eval" / "dev_set.jsonl"),
        lambda q: answer(q, settings=dev_index.settings, store=store, selector=model),
        store.records,
    )
    overall = report.overall()
    # Measured 0.9: the one miss (d04) answers in the sentence that carries on the third pick.
    assert overall["fact_accuracy"] >= 0.8, overall
    assert overall["refusal_recall"] == 1.0, overall


def test_wire_copies_in_the_archive_are_grouped(archive: Settings) -> None:
    """Known copies of one story under two file names are found; articles that only share a topic are not."""
    groups = open_store(archive).records.copy_groups()
    for pair in (
        ["bbc/business/007.txt", "bbc/business/253.txt"],
        ["bbc/entertainment/046.txt", "bbc/entertainment/338.txt"],
        ["bbc/politics/005.txt", "bbc/politics/359.txt"],
        ["bbc/tech/062.txt", "bbc/tech/318.txt"],
    ):
        assert pair in groups
    # The archive has about 150 such pairs; a loose threshold would merge whole topics into big groups.
    assert 100 <= len(groups) <= 250 and max(map(len, groups)) <= 4


def test_an_answer_from_a_copied_story_cites_one_copy_and_lists_the_other(archive: Settings) -> None:
    question = "How much did Howl's Moving Castle take at the box office in Japan?"
    result = answer(question, settings=archive, store=open_store(archive))
    sources = [c.source for c in result.citations]
    quotes = [c.quote for c in result.citations]
    assert len(quotes) == len(set(quotes)), quotes
    copied = [c for c in result.citations if c.also_in]
    pair = {"bbc/entertainment/046.txt", "bbc/entertainment/338.txt"}
    assert any({c.source, *c.also_in} == pair for c in copied), sources
    for c in copied:
        assert not set(c.also_in) & set(sources)  # never both copies of one story
    shown = {p.source for p in result.passages}
    groups = open_store(archive).records.group_of(shown)
    assert len(set(groups.values())) == len(groups), groups  # one copy of each story among the passages
