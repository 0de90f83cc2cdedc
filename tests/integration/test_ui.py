"""The chat page served for real on 127.0.0.1: gradio_client calls and a headless browser."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.indexer import ingest
from rag.config import Settings
from tests.conftest import SEED_ARTICLE, new_settings
from tests.screenshots import save_screenshots
from tests.servers import free_port


@dataclass
class Served:
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[Served]:
    from ui.app import build_app, launch

    settings = new_settings(tmp_path_factory.mktemp("ui"), ui_port=free_port())
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    for path in (shared_dir / "articles").glob("*.md"):
        shutil.copy(path, settings.corpus_dir)
    ingest(settings)
    app = build_app(settings)
    launch(app, settings, block=False)
    try:
        yield Served(f"http://127.0.0.1:{settings.ui_port}/", settings)
    finally:
        app.close()


@pytest.fixture(scope="module")
def client(served: Served):
    from gradio_client import Client

    return Client(served.url, verbose=False)


def body_of(settings: Settings, source: str) -> str:
    from rag.store import open_store

    article = open_store(settings).records.article(source)
    assert article is not None
    return article.body


def test_ask_endpoint_returns_a_cited_answer(served: Served, client) -> None:
    data = client.predict("Why did Krause resign?", api_name="/ask")
    assert set(data) == {"question", "answer", "refused", "backend", "notes", "citations", "passages"}
    assert not data["refused"]
    assert "[1]" in data["answer"]
    for c in data["citations"]:
        assert body_of(served.settings, c["source"])[c["start"] : c["end"]] == c["quote"]


def test_ask_endpoint_reports_an_empty_question_as_a_message(client) -> None:
    data = client.predict("   ", api_name="/ask")
    assert data["refused"] and "type a question" in data["answer"]


def test_uploaded_article_is_indexed_and_answerable(served: Served, client, tmp_path: Path) -> None:
    from gradio_client import handle_file

    article = tmp_path / "Harlow ferry (draft).md"
    article.write_text(
        "---\ntitle: Harlow gets a ferry terminal\n---\n"
        "The Harlow ferry terminal will open in June 2027, the port authority said.",
        encoding="utf-8",
    )
    before = client.predict("When will the Harlow ferry terminal open?", api_name="/ask")
    assert before["refused"]
    status = client.predict([handle_file(str(article))], api_name="/add_articles")
    assert "saved Harlow-ferry-draft.md" in status
    assert "1 added" in status
    assert (served.settings.corpus_dir / "Harlow-ferry-draft.md").is_file()
    after = client.predict("When will the Harlow ferry terminal open?", api_name="/ask")
    assert not after["refused"]
    assert "June 2027" in after["answer"]
    assert after["citations"][0]["source"] == "Harlow-ferry-draft.md"


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [("notes.exe", 2, "Invalid file type"), ("huge.md", 6 * 1024 * 1024, "maximum file size")],
)
def test_upload_of_another_format_or_size_is_refused(
    served: Served, client, tmp_path: Path, name: str, size: int, message: str
) -> None:
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / name
    bad.write_bytes(b"a" * size)
    with pytest.raises((AppError, ValueError), match=message):
        client.predict([handle_file(str(bad))], api_name="/add_articles")
    assert not (served.settings.corpus_dir / name).exists()


def test_server_refuses_oversized_uploads_from_any_client(served: Served) -> None:
    import httpx

    files = {"files": ("huge.md", b"a" * (6 * 1024 * 1024), "text/markdown")}
    response = httpx.post(served.url + "gradio_api/upload", files=files, timeout=60)
    assert response.status_code in (400, 413)


def test_ten_concurrent_clients_all_get_answers(served: Served) -> None:
    from gradio_client import Client

    questions = [
        "Why did Krause resign?",
        # "Who is Melanie Krause?" stood here: the train-fitted refusal now refuses it (see test_answer.py)
        "What IRS information would ICE be able to cross-reference?",
        "Which law did the administration try to invoke?",
        "Who chairs the Harbor Board in Port Ellery?",
        "What is the recipe for pancakes?",
    ] * 2
    results: list[dict] = []
    errors: list[BaseException] = []

    def one(question: str) -> None:
        try:
            results.append(Client(served.url, verbose=False).predict(question, api_name="/ask"))
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    assert len(results) == 10
    assert sum(not r["refused"] for r in results) == 8


def test_browser_question_shows_cited_answer_and_highlighted_source(served: Served, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.goto(served.url)
    page.fill("#question textarea", "Why did Krause resign?")
    page.press("#question textarea", "Enter")
    page.wait_for_selector("#sources mark", timeout=60_000)
    answer_text = page.inner_text("#chat .message-row:last-child, #chat [data-testid='bot']")
    assert "[1]" in answer_text
    assert "stepping down following tensions" in answer_text
    marked = page.inner_text("#sources mark >> nth=0")
    assert "stepping down following tensions with the Trump administration" in marked
    assert "Answer backend: extractive" in page.inner_text("#footer")
    # One card per cited article, carrying the numbers of every sentence cited from it.
    cards = page.locator("#sources .source-card")
    numbers = [n for i in range(cards.count()) for n in cards.nth(i).get_attribute("data-citations").split(",")]
    assert sorted(numbers) == sorted(set(re.findall(r"\[(\d+)\]", answer_text)))
    titles = [cards.nth(i).locator(".source-head b").inner_text() for i in range(cards.count())]
    assert len(titles) == len(set(titles))
    assert page.locator("#sources mark").count() == len(numbers)
    save_screenshots(page, "chat-answer.png", "chat.png")  # the docs show it: docs/images/chat.png
    page.close()


def test_browser_shows_article_html_literally_and_runs_none_of_it(served: Served, browser) -> None:
    evil = served.settings.corpus_dir / "evil.md"
    evil.write_text(
        "---\ntitle: Zanzibar <b>clove</b> harvest\n---\n"
        "The Zanzibar clove harvest <script>window.pwned = 1</script> doubled this year "
        '<img src=x onerror="window.pwned = 2"> according to growers.',
        encoding="utf-8",
    )
    ingest(served.settings, [evil])
    page = browser.new_page()
    page.goto(served.url)
    page.fill("#question textarea", "What happened to the Zanzibar clove harvest?")
    page.press("#question textarea", "Enter")
    page.wait_for_selector("#sources mark", timeout=60_000)
    page.wait_for_timeout(500)
    assert page.evaluate("window.pwned === undefined")
    sources = page.inner_text("#sources")
    assert "<script>window.pwned = 1</script>" in sources
    assert '<img src=x onerror="window.pwned = 2">' in sources
    assert "Zanzibar <b>clove</b> harvest" in sources
    assert "<script>" in page.inner_text("#chat")
    page.close()


def test_binds_loopback_by_default_and_login_guards_the_api(
    served: Served, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from gradio_client import Client

    from ui.app import build_app, launch

    assert Settings.from_env({}).ui_host == "127.0.0.1"
    secret = "s3cret-pa55word"
    settings = Settings.from_env({"RAG_UI_AUTH": f"reader:{secret}"}).with_overrides(
        corpus_dir=served.settings.corpus_dir,
        data_dir=served.settings.data_dir,
        collection=served.settings.collection,
        ui_port=free_port(),
    )
    assert secret not in repr(settings)
    page = build_app(settings)
    launch(page, settings, block=False)
    try:
        assert page.server_name == "127.0.0.1"
        url = f"http://127.0.0.1:{settings.ui_port}/"
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do; the point is no answer
            Client(url, verbose=False).predict("Why did Krause resign?", api_name="/ask")
        with pytest.raises(Exception):  # noqa: B017
            Client(url, auth=("reader", "wrong"), verbose=False)
        data = Client(url, auth=("reader", secret), verbose=False).predict("Why did Krause resign?", api_name="/ask")
        assert data["citations"]
    finally:
        page.close()
    out, err = capfd.readouterr()
    assert secret not in out + err + caplog.text


def test_url_from_the_corpus_panel_is_fetched_indexed_and_linked(served: Served, client, site: str) -> None:
    status = client.predict(f"{site}/story", api_name="/add_url")
    assert "saved 127-0-0-1" in status and "1 added" in status
    data = client.predict("Who was named interim harbor commissioner?", api_name="/ask")
    assert "Mara Quintero" in data["answer"]
    bad = client.predict(f"{site}/missing", api_name="/add_url")
    assert bad.startswith("Error:") and "HTTP 404" in bad


def test_sources_panel_links_the_original_url(served: Served) -> None:
    from rag.api import answer
    from ui.render import sources_html

    result = answer("Who was named interim harbor commissioner?", settings=served.settings)
    assert 'href="https://ledger.example/harbor/interim-chief"' in sources_html(result)


def test_an_unexpected_failure_is_one_line_for_the_user_and_a_traceback_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug while answering must not reach the user as a bare "Error" or a traceback."""
    from gradio_client import Client

    from ui.app import UNEXPECTED, build_app, launch

    def broken_answer(question: str, **_: object):
        raise RuntimeError("internal detail the user must not see")

    def broken_stream(question: str, **_: object):
        raise RuntimeError("internal detail the user must not see")
        yield  # a generator, like answer_stream

    settings = new_settings(tmp_path, ui_port=free_port())
    app = build_app(settings, answer_fn=broken_answer, stream_fn=broken_stream)
    launch(app, settings, block=False)
    try:
        client = Client(f"http://127.0.0.1:{settings.ui_port}/", verbose=False)
        with pytest.raises(Exception) as raised:
            client.predict("Why did Krause resign?", api_name="/ask")
        assert UNEXPECTED in str(raised.value)
        assert "internal detail" not in str(raised.value)
    finally:
        app.close()
    assert any(r.exc_info and "internal detail" in str(r.exc_info[1]) for r in caplog.records)


def test_browser_date_filter_restricts_the_answer(served: Served, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.goto(served.url)
    page.click("#filters button:has-text('Filters'), #filters >> text=Filters")
    page.fill("#since input, #since textarea", "2027-01-01")
    page.fill("#question textarea", "Why did Krause resign?")
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('No indexed article matches the filter')", timeout=60_000
    )
    assert "published since 2027-01-01" in page.inner_text("#chat")
    page.fill("#since input, #since textarea", "soon")
    page.fill("#question textarea", "Why did Krause resign?")
    page.press("#question textarea", "Enter")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('is not a date')", timeout=60_000)
    page.close()


def test_the_chat_answers_health_and_readiness_checks(served: Served) -> None:
    import httpx

    root = served.url.rstrip("/")
    assert httpx.get(f"{root}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{root}/readyz").json() == {"status": "ready"}
