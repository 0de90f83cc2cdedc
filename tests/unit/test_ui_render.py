from rag.api import split_after_markers
from rag.models import Answer, Citation, SourcePassage
from rag.records import ArticleSummary
from ui.render import NOT_ANSWERED_LABEL, answer_markdown, corpus_html, escape_markdown, sources_html

EVIL = '<script>alert(1)</script> <img src=x onerror="alert(2)">'


def test_markers_become_badges_and_text_is_escaped() -> None:
    md = answer_markdown(f"{EVIL} said *he*. [1] Then [2]")
    assert "<script>" not in md and "<img" not in md
    assert "&lt;script&gt;" in md
    assert md.count("<sup>") == 2 and "<sup>[1]</sup>" in md
    assert r"\*he\*" in md


def test_refusal_looks_different_and_notes_are_shown() -> None:
    md = answer_markdown("Not covered.", refused=True, notes=["question truncated"])
    assert md.startswith("*Not covered.*")
    assert "Note: question truncated" in md
    # Nothing that needs an emoji or symbol font (it would show as an empty box without one).
    assert all(ord(ch) < 0x2000 for ch in md)


def test_a_refusal_that_quotes_the_story_is_labelled_not_answered() -> None:
    text = "The indexed articles do not answer this question. What they report: She resigned. [1]"
    md = answer_markdown(text, refused=True)
    assert md.startswith(f'<span class="not-answered">{NOT_ANSWERED_LABEL}</span>')
    assert "<sup>[1]</sup>" in md
    answered = answer_markdown("She resigned. [1]")
    assert NOT_ANSWERED_LABEL not in answered  # an answer is never labelled so
    assert NOT_ANSWERED_LABEL not in answer_markdown("Not covered.", refused=True)  # nothing quoted


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
    assert '&quot;&gt; <mark>quote here.</mark><sup class="cite-number">[1]</sup> After.' in html
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


def _body_passages() -> tuple[str, list[SourcePassage]]:
    body = "Alpha one. Beta two. Gamma three. Delta four. Epsilon five."
    # Two overlapping chunks of one article, as the retriever may return them.
    first = SourcePassage("a.md", "A", body[:33], 0, 33, 0.6)
    second = SourcePassage("a.md", "A", body[21:], 21, len(body), 0.5)
    return body, [first, second]


def test_one_card_per_article_with_every_cited_sentence_numbered() -> None:
    body, passages = _body_passages()

    def cite(n: int, sentence: str, source: str = "a.md") -> Citation:
        start = body.index(sentence)
        return Citation(n, source, "A", sentence, start, start + len(sentence), 0.5)

    other = SourcePassage("b.md", "B", "Other text.", 0, 11, 0.4)
    citations = [cite(1, "Beta two."), cite(2, "Epsilon five."), Citation(3, "b.md", "B", "Other text.", 0, 11, 0.4)]
    html = sources_html(Answer("q", "x [1] y [2] z [3]", citations, passages=[*passages, other]))
    assert html.count('class="source-card"') == 2
    assert 'data-citations="1,2"' in html and 'data-citations="3"' in html
    # The overlapping chunks are merged: every sentence of the article is shown once.
    assert html.count("Gamma three.") == 1
    assert '<mark>Beta two.</mark><sup class="cite-number">[1]</sup>' in html
    assert '<mark>Epsilon five.</mark><sup class="cite-number">[2]</sup>' in html


def test_card_shows_a_quote_outside_the_shown_passages_and_lists_copies() -> None:
    body, passages = _body_passages()
    far = Citation(1, "a.md", "A", "Far away.", 500, 509, 0.3, also_in=("copy/a.md",))
    html = sources_html(Answer("q", "Far away. [1]", [far], passages=passages[:1]))
    assert html.count('class="source-card"') == 1
    assert "<mark>Far away.</mark>" in html and "Alpha one." not in html
    assert "Also in: copy/a.md" in html
