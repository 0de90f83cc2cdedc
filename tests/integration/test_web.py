"""Web pages and PDFs: a local HTTP server serves realistic news pages; the test makes its own PDF."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.indexer import ingest
from ingest.web import FetchError, fetch_article
from rag import answer
from rag.cli import app
from rag.config import Settings
from rag.store import open_store
from tests.conftest import new_settings
from tests.news_site import BOILERPLATE, STORY, Site


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return new_settings(tmp_path, fetch_timeout=1.0, max_file_bytes=200_000)


def test_page_is_saved_without_boilerplate_and_with_metadata(site: str, web_settings: Settings) -> None:
    Site.years = "eleven"
    saved = fetch_article(f"{site}/story", web_settings)
    assert saved.parent == web_settings.corpus_dir / "web"
    text = saved.read_text(encoding="utf-8")
    assert "named deputy director Mara Quintero as interim harbor commissioner" in text
    assert "search committee would interview candidates in June" in text
    for junk in BOILERPLATE:
        assert junk not in text, junk
    ingest(web_settings)
    [article] = open_store(web_settings).records.articles()
    assert article.title == "Harbor board names interim chief"
    assert article.outlet == "The Ellery Ledger"
    assert article.published == "2026-04-02"
    assert article.url == "https://ledger.example/harbor/interim-chief"


def test_question_about_the_page_is_answered_with_a_valid_citation(site: str, web_settings: Settings) -> None:
    fetch_article(f"{site}/moved", web_settings)  # a redirect is followed
    ingest(web_settings)
    result = answer("Who was named interim harbor commissioner?", settings=web_settings)
    assert not result.refused and "Mara Quintero" in result.text
    c = result.citations[0]
    assert c.source.startswith("web/") and c.page is None
    body = open_store(web_settings).records.body(c.source)
    assert body is not None and body[c.start : c.end] == c.quote
    assert result.passages[0].url == "https://ledger.example/harbor/interim-chief"


def test_fetching_the_same_url_again_updates_instead_of_duplicating(site: str, web_settings: Settings) -> None:
    Site.years = "eleven"
    first = fetch_article(f"{site}/story", web_settings)
    ingest(web_settings)
    Site.years = "twelve"
    try:
        again = fetch_article(f"{site}/story", web_settings)
    finally:
        Site.years = "eleven"
    assert again == first
    report = ingest(web_settings)
    assert report.updated == [first.relative_to(web_settings.corpus_dir).as_posix()] and not report.added
    store = open_store(web_settings)
    assert store.records.counts()[0] == 1
    assert "twelve years" in (store.records.body(report.updated[0]) or "")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing", "HTTP 404"),
        ("/slow", "timed out"),
        ("/data.json", "not an HTML page (application/json)"),
        ("/huge", "larger than"),
        ("/empty", "no article text"),
    ],
)
def test_bad_urls_give_a_clear_error_and_index_nothing(
    site: str, web_settings: Settings, path: str, message: str
) -> None:
    with pytest.raises(FetchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fetch_article(f"{site}{path}", web_settings)
    assert not (web_settings.corpus_dir / "web").exists() or not any((web_settings.corpus_dir / "web").iterdir())


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/story", "file:///etc/passwd", "javascript:alert(1)//x"])
def test_non_http_schemes_are_refused(web_settings: Settings, url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        fetch_article(url, web_settings)


def test_cli_ingest_url(site: str, web_settings: Settings) -> None:
    env = {
        "RAG_CORPUS_DIR": str(web_settings.corpus_dir),
        "RAG_DATA_DIR": str(web_settings.data_dir),
        "RAG_COLLECTION": web_settings.collection,
        "RAG_FETCH_TIMEOUT": "1",
    }
    ok = CliRunner().invoke(app, ["ingest", f"{site}/story"], env=env)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip().startswith("1 added")
    bad = CliRunner().invoke(app, ["ingest", f"{site}/missing"], env=env)
    assert bad.exit_code == 1
    assert bad.stderr.strip() == f"error: {site}/missing: the server answered HTTP 404"


def test_saved_html_file_in_the_corpus_is_indexed(web_settings: Settings) -> None:
    (web_settings.corpus_dir / "saved-page.html").write_text(STORY.replace("{years}", "nine"), encoding="utf-8")
    report = ingest(web_settings)
    assert report.added == ["saved-page.html"]
    result = answer("How long has Quintero worked at the port authority?", settings=web_settings)
    assert "nine years" in result.text
    assert result.passages[0].outlet == "The Ellery Ledger"


def make_pdf(pages: list[list[str]], title: str) -> bytes:
    """A small, valid PDF with one text line per entry, in Helvetica."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        content = "BT /F1 11 Tf 72 740 Td 14 TL " + " ".join(f"({esc(line)}) Tj T*" for line in lines) + " ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            f" /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream".encode())
    objects.append(f"<< /Title ({esc(title)}) /CreationDate (D:20260304093000Z) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_pdf_is_indexed_with_page_numbers_in_citations(web_settings: Settings) -> None:
    pdf = make_pdf(
        [
            ["City budget report 2026.", "The council reviewed spending on parks and roads."],
            [
                "The council approved a new bridge over the Lark River.",
                "Construction of the bridge will cost 42 million.",
            ],
        ],
        title="Lark City budget report",
    )
    (web_settings.corpus_dir / "budget.pdf").write_bytes(pdf)
    (web_settings.corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    report = ingest(web_settings)
    assert report.added == ["budget.pdf"]
    assert [s.source for s in report.skipped] == ["broken.pdf"]
    result = answer("How much will the Lark River bridge cost?", settings=web_settings)
    assert not result.refused and "42 million" in result.text
    [c] = [c for c in result.citations if "42 million" in c.quote]
    assert c.page == 2 and c.to_dict()["page"] == 2
    assert c.title == "Lark City budget report"
    assert c.published == "2026-03-04"  # the PDF's creation date
    body = open_store(web_settings).records.body("budget.pdf")
    assert body is not None and body[c.start : c.end] == c.quote
