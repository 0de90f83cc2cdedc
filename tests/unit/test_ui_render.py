from rag.api import split_after_markers
from rag.models import Answer, Citation, SourcePassage
from rag.records import ArticleSummary
from ui.render import answer_markdown, corpus_html, escape_markdown, sources_html

EVIL = '<script>alert(1)</script> <img src=x onerror="alert(2)">'


def test_markers_become_badges_and_text_is_escaped() -> None:
    md = answer_markdown(f"{EVIL} said *he*. [1] Then [2]")
    assert "<script>" not in md and "<img" not in md
    assert "&lt;script&gt;" in md
    assert md.count("<sup>") == 2 and "<sup>[1]</sup>" in md
    assert r"\*he\*" in md


def test_refusal_looks_different_and_notes_are_shown() -> None:
    md = answer_markdown("Not covered.", refused=True, notes=["question truncated"])
    assert md.startswith("ⓘ *")
    assert "Note: question truncated" in md


def test_answer_pieces_split_after_markers() -> None:
    assert split_after_markers("One thing. [1] Two things. [2] Tail") == ["One thing. [1]", "Two things. [2]", "Tail"]
    assert split_after_markers("No markers at all.") == ["No markers at all."]


def test_sources_highlight_quote_inside_escaped_passage() -> None:
    text = f"Before. {EVIL} quote here. After."
    passage = SourcePassage(
        "a.md",
        "T<i>",
        text,
        100,
        100 + len(text),
        0.5,
        outlet="Ledger",
        published="2026-01-02",
        url="javascript:alert(3)",
    )
    start = 100 + passage.text.index("quote here.")
    citation = Citation(1, "a.md", "T<b>", "quote here.", start, start + len("quote here."), 0.42)
    html = sources_html(Answer("q", "quote here. [1]", [citation], passages=[passage]))
    assert "&quot;&gt; <mark>quote here.</mark> After." in html
    assert "<script>" not in html and "<img" not in html and "<i>" not in html
    assert "&lt;img src=x onerror=" in html
    assert "javascript:" not in html  # only http(s) links are linked
    assert "Ledger" in html and "2026-01-02" in html and "score 0.42" in html


def test_sources_link_http_urls() -> None:
    passage = SourcePassage("a.md", "T", "Quote.", 0, 6, 0.5, url="https://example.org/a?b=1&c=2")
    cited = Answer("q", "Quote. [1]", [Citation(1, "a.md", "T", "Quote.", 0, 6, 0.5)], passages=[passage])
    html = sources_html(cited)
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html


def test_empty_states() -> None:
    assert "appear here" in sources_html(None)
    assert "No articles" in corpus_html([])
    row = corpus_html([ArticleSummary("x.md", "<i>T</i>", None, "2026", None, 3, "now")])
    assert "&lt;i&gt;T&lt;/i&gt;" in row and "<td>3</td>" in row


def test_escape_markdown_leaves_plain_text_readable() -> None:
    assert escape_markdown("Plain words, 18 percent.") == "Plain words, 18 percent."
