"""The corpus panel at archive scale: pages of articles read from the records, search, sort,
totals, one article's view, delete; the page stays small with thousands of articles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.synth import fill_records
from ingest.indexer import delete_article, ingest
from rag import answer
from rag.config import Settings
from rag.errors import CorpusPathError
from rag.store import open_store
from tests.conftest import SEED_ARTICLE, new_settings
from tests.screenshots import save_screenshots
from tests.servers import free_port
from ui.app import DEFAULT_EXAMPLES, examples_for
from ui.corpus import PAGE_SIZE, page_of

SYNTHETIC = 3000


@pytest.mark.both_backends
def test_pages_search_and_sorting_come_from_the_records(settings: Settings) -> None:
    records = open_store(settings).records
    fill_records(records, 120)
    first = records.article_page("", "title", 0, PAGE_SIZE)
    assert first.matching == 120 and len(first.rows) == PAGE_SIZE
    assert [r.title for r in first.rows] == sorted(r.title for r in first.rows)
    last = records.article_page("", "title", 100, PAGE_SIZE)
    assert len(last.rows) == 20
    found = records.article_page("STORY NUMBER 0007", "title", 0, PAGE_SIZE)  # any case
    assert found.matching == 10 and all("story number 0007" in r.title for r in found.rows)
    by_outlet = records.article_page("island", "file", 0, PAGE_SIZE)
    assert by_outlet.matching == 60 and all(r.outlet == "Island Times" for r in by_outlet.rows)
    assert records.article_page("100%_", "title", 0, PAGE_SIZE).matching == 0  # % and _ are literal
    newest = records.article_page("", "newest", 0, 5).rows
    assert [r.published for r in newest] == sorted((r.published for r in newest), reverse=True)
    table, label, page = page_of(records, "", "Title", 99)
    assert page == 2 and label == "Page 3 of 3 · 120 matching" and table.count("<tr>") == 21


@pytest.mark.both_backends
def test_deleting_an_article_removes_its_file_records_and_vectors_at_once(settings: Settings) -> None:
    for name, text in {
        "ferry.md": "The ferry workers accepted a pay rise of 6.5 percent, ending a nine-day strike.",
        "choir.md": "The Harbour Singers choir won the regional choral award in Galway on Saturday.",
    }.items():
        (settings.corpus_dir / name).write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
    ingest(settings)
    store = open_store(settings)
    vectors = len(store.vector_ids())
    delete_article(settings, "choir.md", store=store)
    assert not (settings.corpus_dir / "choir.md").exists()
    assert store.records.article("choir.md") is None and store.records.counts()[0] == 1
    assert len(store.vector_ids()) < vectors and store.verify().ok
    result = answer("Who won the regional choral award?", settings=settings, store=store)
    assert all(c.source != "choir.md" for c in result.citations)
    with pytest.raises(CorpusPathError, match="not an indexed article"):
        delete_article(settings, "choir.md", store=store)
    with pytest.raises(CorpusPathError, match="not a file of the corpus dir"):
        delete_article(settings, "../outside.md", store=store)


def test_example_questions_fit_what_is_indexed(tmp_path: Path) -> None:
    seeded = new_settings(tmp_path / "seed")
    (seeded.corpus_dir / SEED_ARTICLE.name).write_text(SEED_ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    ingest(seeded)
    assert examples_for(seeded) == DEFAULT_EXAMPLES
    other = new_settings(tmp_path / "other")
    (other.corpus_dir / "choir.md").write_text("# Choir\n\nThe choir won an award on Saturday.\n", encoding="utf-8")
    ingest(other)
    assert examples_for(other) == ()
    (other.data_dir / "examples.txt").write_text("Who won the award?\n\nWhen?\n", encoding="utf-8")
    assert examples_for(other) == ("Who won the award?", "When?")
    assert examples_for(other.with_overrides(examples=("A?", "B?"))) == ("A?", "B?")


@dataclass
class Served:
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def archive_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from ui.app import build_app, launch

    settings = new_settings(tmp_path_factory.mktemp("panel"), ui_port=free_port())
    fill_records(open_store(settings).records, SYNTHETIC)
    app = build_app(settings, examples=())
    launch(app, settings, block=False)
    try:
        yield Served(f"http://127.0.0.1:{settings.ui_port}/", settings)
    finally:
        app.close()


def test_the_panel_with_thousands_of_articles_opens_small_with_its_actions_first(archive_page: Served, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.goto(archive_page.url)
    page.click("#corpus >> text=Corpus")
    page.wait_for_function("document.querySelectorAll('#corpus-table tbody tr').length > 0", timeout=60_000)
    assert page.locator("#corpus-table tbody tr").count() == PAGE_SIZE
    assert f"Page 1 of {-(-SYNTHETIC // PAGE_SIZE)}" in page.inner_text("#corpus-page")
    assert f"{SYNTHETIC} articles" in page.inner_text("#corpus-totals")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 5000, height
    panel_top = page.locator("#corpus").bounding_box()["y"]  # type: ignore[index]
    upload = page.locator("#upload").bounding_box()
    assert upload is not None and upload["y"] + upload["height"] - panel_top < 950  # within the panel's first screen
    save_screenshots(page, "corpus-panel.png", "corpus-panel.png", element="#corpus")  # the docs show it

    page.fill("#corpus-search textarea, #corpus-search input", "Glazer")
    page.press("#corpus-search textarea, #corpus-search input", "Enter")
    page.wait_for_function("document.querySelectorAll('#corpus-table tbody tr').length === 1", timeout=30_000)
    assert "Glazer takes control of Manchester United" in page.inner_text("#corpus-table")

    page.fill("#corpus-search textarea, #corpus-search input", "")
    page.press("#corpus-search textarea, #corpus-search input", "Enter")
    page.wait_for_function("document.querySelectorAll('#corpus-table tbody tr').length === 50", timeout=30_000)
    page.click("#corpus-next")
    page.wait_for_function("document.querySelector('#corpus-page').innerText.includes('Page 2 of')", timeout=30_000)
    page.fill("#article-source textarea, #article-source input", "synthetic/01234.md")
    page.click("#article-show")
    page.wait_for_function("document.querySelector('#article-view').innerText.includes('Glazer')", timeout=30_000)
    assert "1 chunks" in page.inner_text("#article-view")
    page.close()
