"""Loading real files: front matter, encodings, title fallbacks, and bad files skipped by name."""

import logging
from pathlib import Path

import pytest

from ingest.loader import decode_text, iter_article_files, load_articles
from rag.config import Settings


def load(settings: Settings, max_bytes: int = 5 << 20):
    return load_articles(iter_article_files(settings.corpus_dir), settings.corpus_dir, max_bytes=max_bytes)


def test_front_matter_fields(settings: Settings, write_article) -> None:
    write_article(
        "a.md", "Body text here.", title="A title", outlet="The Ledger", url="https://x.test/a", published="2026-03-14"
    )
    [article], skipped = load(settings)
    assert skipped == []
    assert (article.title, article.outlet, article.url, article.published) == (
        "A title",
        "The Ledger",
        "https://x.test/a",
        "2026-03-14",
    )
    assert article.body == "Body text here."
    assert article.source == "a.md"


def test_unquoted_yaml_date_is_kept_as_iso_text(settings: Settings) -> None:
    (settings.corpus_dir / "d.md").write_text("---\ntitle: T\npublished: 2026-05-02\n---\nText.", encoding="utf-8")
    [article], _ = load(settings)
    assert article.published == "2026-05-02"


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("# Markdown headline\nFirst sentence.", "Markdown headline"),
        ("Plain headline\nFirst sentence of the story.", "Plain headline"),
        ("Only one sentence, which is not a headline.", "story name"),
    ],
)
def test_title_fallbacks(settings: Settings, content: str, title: str) -> None:
    (settings.corpus_dir / "story_name.txt").write_text(content, encoding="utf-8")
    [article], _ = load(settings)
    assert article.title == title


def test_utf8_bom_is_stripped(settings: Settings) -> None:
    (settings.corpus_dir / "bom.txt").write_bytes("\ufeffTitle line\nCafé owners protest.".encode())
    [article], _ = load(settings)
    assert article.title == "Title line"
    assert article.body.startswith("Title line")


def test_nested_folders_use_relative_sources(settings: Settings, write_article) -> None:
    write_article("2026/may/x.md", "Body.", title="X")
    [article], _ = load(settings)
    assert article.source == "2026/may/x.md"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"  \n\t\n", "empty"),
        ("only-front.md", b"---\ntitle: T\n---\n", "empty"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        ("bad-yaml.md", b"---\ntitle: [unclosed\n---\nBody.", "front matter"),
        ("list-yaml.md", b"---\n- a\n- b\n---\nBody.", "front matter"),
        ("image.png", b"\x89PNG", "unsupported file type"),
        ("huge.txt", b"word " * 300, "larger than"),
    ],
)
def test_bad_files_are_skipped_with_a_warning_naming_them(
    settings: Settings, write_article, caplog: pytest.LogCaptureFixture, name: str, content: bytes, reason: str
) -> None:
    write_article("good.md", "A good article.", title="Good")
    (settings.corpus_dir / name).write_bytes(content)
    with caplog.at_level(logging.WARNING):
        articles, skipped = load(settings, max_bytes=1000)
    assert [a.source for a in articles] == ["good.md"]
    assert [s.source for s in skipped] == [name]
    assert reason in skipped[0].reason
    assert any(name in r.getMessage() and reason in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("cp1252", b""), ("latin-1", b""), ("utf-16", b""), ("utf-8", b"\xef\xbb\xbf")],
)
def test_text_in_other_encodings_is_decoded(settings: Settings, encoding: str, prefix: bytes) -> None:
    text = "Price rise\n\nThe caf\u00e9 in M\u00fcnster raised its price to \u00a34.50 for a cr\u00e8me."
    if encoding == "cp1252":
        text += " \u201cIt\u2019s fair,\u201d the owner said \u2013 customers disagreed."
    (settings.corpus_dir / "story.txt").write_bytes(prefix + text.encode(encoding))
    [article], skipped = load(settings)
    assert not skipped
    assert article.body == text
    assert article.title == "Price rise"
    assert (article.encoding is None) == (encoding == "utf-8")


def test_hidden_files_are_ignored(settings: Settings, write_article) -> None:
    write_article(".draft.md", "Secret.")
    write_article(".git/x.md", "Secret.")
    assert load(settings) == ([], [])


def test_seed_article_in_corpus_has_a_title_and_the_verbatim_text(shared_dir: Path) -> None:
    from tests.conftest import SEED_ARTICLE

    [article], skipped = load_articles([SEED_ARTICLE], SEED_ARTICLE.parent, max_bytes=5 << 20)
    assert not skipped
    assert "Krause" in article.title
    seed = (shared_dir / "seed" / "000_a4b3e2646b848259.txt").read_text(encoding="utf-8")
    assert article.body == seed.strip()


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        # One non-ASCII byte in a long English story: a statistical detector alone reads it as Shift-JIS.
        ("Chelsea sacked the striker. " * 20 + "The club paid a \u00a315.8m transfer fee for him.", "cp1252"),
        ("\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430? " * 5, "cp1251"),
    ],
)
def test_few_non_ascii_bytes_are_read_in_the_likeliest_encoding(text: str, encoding: str) -> None:
    decoded, used = decode_text(text.encode(encoding), "story.txt")
    assert decoded == text
    assert used == encoding
