"""HTML and Markdown for the chat page. All article text is escaped here, in one place."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from rag.answering.citations import UNSUPPORTED_TAG
from rag.models import Answer, Citation, SourcePassage
from rag.records import ArticleSummary

_MARKER = re.compile(r"\\\[(\d+)\\\]")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-!|~>])")


def escape_markdown(text: str) -> str:
    """Make article text inert: HTML escaped, Markdown syntax backslash-escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))


def answer_markdown(text: str, refused: bool = False, notes: Sequence[str] = ()) -> str:
    """The chat message for an answer: escaped text, `[n]` markers as superscript badges."""
    body = _MARKER.sub(r"<sup>[\1]</sup>", escape_markdown(text))
    body = body.replace(UNSUPPORTED_TAG, f"<small><i>{UNSUPPORTED_TAG}</i></small>")
    if refused:
        body = f"ⓘ *{body}*"
    for note in notes:
        body += f"\n\n<small>Note: {escape_markdown(note)}</small>"
    return body


def sources_html(answer: Answer | None) -> str:
    """The sources panel: each citation's passage with the quoted sentence highlighted."""
    if answer is None:
        return '<div class="sources-empty">Sources of the latest answer appear here.</div>'
    if not answer.citations:
        return '<div class="sources-empty">No sources: the answer cites nothing.</div>'
    cards = "\n".join(_citation_card(c, _passage_of(c, answer.passages)) for c in answer.citations)
    return f'<div class="sources-scroll">{cards}</div>'


def _passage_of(citation: Citation, passages: Sequence[SourcePassage]) -> SourcePassage | None:
    for p in passages:
        if p.source == citation.source and p.start <= citation.start and citation.end <= p.end:
            return p
    return None


def _citation_card(c: Citation, passage: SourcePassage | None) -> str:
    details = [html.escape(c.source)]
    if passage is not None and passage.outlet:
        details.append(html.escape(passage.outlet))
    if passage is not None and passage.published:
        details.append(html.escape(passage.published))
    if c.page is not None:
        details.append(f"page {c.page}")
    details.append(f"score {c.score:.2f}")
    if passage is not None:
        before = passage.text[: c.start - passage.start]
        after = passage.text[c.end - passage.start :]
        text = f"{html.escape(before)}<mark>{html.escape(c.quote)}</mark>{html.escape(after)}"
    else:
        text = f"<mark>{html.escape(c.quote)}</mark>"
    title = html.escape(c.title)
    if passage is not None and passage.url and passage.url.startswith(("http://", "https://")):
        title = f'<a href="{html.escape(passage.url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
    return (
        f'<div class="source-card" data-citation="{c.number}">'
        f'<div class="source-head"><span class="cite-badge">[{c.number}]</span> <b>{title}</b></div>'
        f'<div class="source-meta">{" · ".join(details)}</div>'
        f'<div class="source-text">{text}</div></div>'
    )


def corpus_html(articles: Sequence[ArticleSummary]) -> str:
    """The indexed articles as a table."""
    if not articles:
        return "<p>No articles indexed yet.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(a.title)}</td><td>{html.escape(a.published or '')}</td>"
        f"<td>{html.escape(a.source)}</td><td>{a.chunk_count}</td></tr>"
        for a in articles
    )
    return (
        '<table class="corpus-table"><thead><tr><th>Title</th><th>Date</th><th>File</th><th>Chunks</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def footer_markdown(backend: str, articles: int, chunks: int) -> str:
    return f"Answer backend: **{backend}** · Index: **{articles}** articles, **{chunks}** chunks"
