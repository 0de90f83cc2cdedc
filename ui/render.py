"""HTML and Markdown for the chat page. All article text is escaped here, in one place."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.answering.citations import UNSUPPORTED_TAG
from rag.documents import Article
from rag.models import Answer, Citation, SourcePassage
from rag.records import ArticleSummary

if TYPE_CHECKING:
    from ingest.feeds import FeedState

_MARKER = re.compile(r"\\\[(\d+)\\\]")
NOT_ANSWERED_LABEL = "Not answered"
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-!|~>])")


def escape_markdown(text: str) -> str:
    """Make article text inert: HTML escaped, Markdown syntax backslash-escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))


def answer_markdown(text: str, refused: bool = False, notes: Sequence[str] = ()) -> str:
    """The chat message for an answer: escaped text, `[n]` markers as superscript badges."""
    body = _MARKER.sub(r"<sup>[\1]</sup>", escape_markdown(text))
    body = body.replace(UNSUPPORTED_TAG, f"<small><i>{UNSUPPORTED_TAG}</i></small>")
    if refused:
        body = f"*{body}*"  # no glyph: an emoji font is not everywhere
        if _MARKER.search(escape_markdown(text)):
            # A refusal that quotes what the articles say on the story: labelled, so that its
            # quotes are never read as the answer.
            body = f'<span class="not-answered">{NOT_ANSWERED_LABEL}</span>\n\n{body}'
    for note in notes:
        body += f"\n\n<small>Note: {escape_markdown(note)}</small>"
    return body


def sources_html(answer: Answer | None) -> str:
    """The sources panel: one card per cited article, its cited sentences highlighted in the passages
    that hold them and numbered as in the answer."""
    if answer is None:
        return '<div class="sources-empty">Sources of the latest answer appear here.</div>'
    if not answer.citations:
        return '<div class="sources-empty">No sources: the answer cites nothing.</div>'
    by_article: dict[str, list[Citation]] = {}
    for c in answer.citations:
        by_article.setdefault(c.source, []).append(c)
    cards = "\n".join(_article_card(cited, answer.passages) for cited in by_article.values())
    return f'<div class="sources-scroll">{cards}</div>'


def _excerpts(cited: Sequence[Citation], passages: Sequence[SourcePassage]) -> list[tuple[int, str]]:
    """Disjoint runs of article text (start offset, text) that hold the cited sentences: the shown
    passages that contain a citation, merged where they overlap; a quote from outside every shown
    passage stands on its own."""
    pieces: list[tuple[int, str]] = []
    for c in cited:
        holders = [p for p in passages if p.source == c.source and p.start <= c.start and c.end <= p.end]
        if holders:
            pieces.extend((p.start, p.text) for p in holders)
        else:
            pieces.append((c.start, c.quote))
    merged: list[tuple[int, str]] = []
    for start, text in sorted(set(pieces)):
        if merged and start <= merged[-1][0] + len(merged[-1][1]):
            first, sofar = merged[-1]
            overlap = first + len(sofar) - start
            merged[-1] = (first, sofar + text[overlap:]) if overlap < len(text) else (first, sofar)
        else:
            merged.append((start, text))
    return merged


def _highlighted(start: int, text: str, cited: Sequence[Citation]) -> str:
    """Escaped text with each citation inside it marked and numbered."""
    out, at = [], 0
    for c in sorted(cited, key=lambda c: c.start):
        lo, hi = c.start - start, c.end - start
        if lo < at or hi > len(text):
            continue
        out.append(html.escape(text[at:lo]))
        out.append(f'<mark>{html.escape(text[lo:hi])}</mark><sup class="cite-number">[{c.number}]</sup>')
        at = hi
    out.append(html.escape(text[at:]))
    return "".join(out)


def _article_card(cited: Sequence[Citation], passages: Sequence[SourcePassage]) -> str:
    first = cited[0]
    passage = next((p for p in passages if p.source == first.source), None)
    details = [html.escape(first.source)]
    if passage is not None and passage.outlet:
        details.append(html.escape(passage.outlet))
    published = first.published or (passage.published if passage is not None else None)
    if published:
        details.append(html.escape(published))
    pages = sorted({c.page for c in cited if c.page is not None})
    if pages:
        details.append("page " + ", ".join(map(str, pages)))
    details.append("score " + ", ".join(f"{c.score:.2f}" for c in cited))
    excerpts = ' <span class="gap">[...]</span> '.join(
        _highlighted(start, text, cited) for start, text in _excerpts(cited, passages)
    )
    title = html.escape(first.title)
    if passage is not None and passage.url and passage.url.startswith(("http://", "https://")):
        title = f'<a href="{html.escape(passage.url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
    badges = " ".join(f'<span class="cite-badge">[{c.number}]</span>' for c in cited)
    numbers = ",".join(str(c.number) for c in cited)
    copies = ""
    if first.also_in:
        copies = f'<div class="source-copies">Also in: {html.escape(", ".join(first.also_in))}</div>'
    return (
        f'<div class="source-card" data-citations="{numbers}">'
        f'<div class="source-head">{badges} <b>{title}</b></div>'
        f'<div class="source-meta">{" · ".join(details)}</div>'
        f'<div class="source-text">{excerpts}</div>{copies}</div>'
    )


def _table(css_class: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table with every cell escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def corpus_html(articles: Sequence[ArticleSummary]) -> str:
    """One page of the indexed articles as a table."""
    if not articles:
        return '<p class="corpus-empty">No articles match.</p>'
    rows = [(a.title, a.outlet or "", a.published or "", a.source, a.chunk_count) for a in articles]
    return _table("corpus-table", ("Title", "Outlet", "Date", "File", "Chunks"), rows)


def totals_markdown(articles: int, chunks: int, groups: int, undated: int, not_utf8: int) -> str:
    return (
        f"**{articles}** articles · **{chunks}** chunks · **{groups}** groups of near-duplicates · "
        f"**{undated}** undated · **{not_utf8}** not UTF-8"
    )


def article_html(article: Article, copies: Sequence[str], chunks: Sequence[tuple[int, int, str]]) -> str:
    """One article's view: its fields, its near-copies and its chunks (start, end, text)."""
    fields = [("File", article.source), ("Outlet", article.outlet), ("Date", article.published), ("URL", article.url)]
    rows = "".join(f"<tr><th>{name}</th><td>{html.escape(value)}</td></tr>" for name, value in fields if value)
    if copies:
        rows += f"<tr><th>Near-copies</th><td>{html.escape(', '.join(copies))}</td></tr>"
    items = "".join(
        f'<li><span class="chunk-span">{start}-{end}</span> {html.escape(text[:200])}'
        f"{'...' if len(text) > 200 else ''}</li>"
        for start, end, text in chunks
    )
    return (
        f'<div class="article-view"><h4>{html.escape(article.title)}</h4><table>{rows}</table>'
        f'<p>{len(chunks)} chunks:</p><ol class="chunk-list">{items}</ol></div>'
    )


def feeds_html(feeds: Sequence[FeedState]) -> str:
    """The saved feeds as a table: entries taken, last poll and the last poll's error."""
    if not feeds:
        return '<p class="feeds-empty">No saved feeds.</p>'
    rows = [(f.title or "", f.url, len(f.taken), f.last_poll or "never", f.error or "") for f in feeds]
    return _table("feeds-table", ("Feed", "URL", "Entries taken", "Last poll", "Error"), rows)


def footer_markdown(backend: str, articles: int, chunks: int) -> str:
    return f"Answer backend: **{backend}** · Index: **{articles}** articles, **{chunks}** chunks"
