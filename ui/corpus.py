"""The corpus panel's article browser: search, sort and pages of rows read from the records on
demand, totals, and one article's view with delete and re-index. Nothing here holds the whole
article list, so the page weighs the same with ten articles as with a hundred thousand."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ingest.indexer import IngestReport, delete_article
from rag.config import Settings
from rag.errors import RagError
from rag.records import Records
from rag.store import open_store
from ui.render import article_html, corpus_html, totals_markdown

PAGE_SIZE = 50
SORTS = {"Title": "title", "Newest first": "newest", "Most chunks": "chunks", "File name": "file"}


def page_of(records: Records, search: str, sort: str, page: int) -> tuple[str, str, int]:
    """The table of one page (clamped to the pages there are), its label, and the page number."""
    order = SORTS.get(sort, "title")
    page = max(0, page)
    found = records.article_page(search, order, page * PAGE_SIZE, PAGE_SIZE)
    pages = max(1, -(-found.matching // PAGE_SIZE))
    if page >= pages:  # past the end (the list shrank, or "Next" on the last page): show the last page
        page = pages - 1
        found = records.article_page(search, order, page * PAGE_SIZE, PAGE_SIZE)
    label = f"Page {page + 1} of {pages} · {found.matching} matching"
    return corpus_html(found.rows), label, page


def totals(records: Records) -> str:
    articles, chunks = records.counts()
    undated = records.article_dates().undated
    return totals_markdown(articles, chunks, len(records.copy_groups()), undated, records.not_utf8_count())


def article_view(records: Records, source: str) -> str:
    article = records.article(source)
    if article is None:
        return f"<p>No indexed article {html.escape(source)}; copy a file name from the table.</p>"
    chunks = records.chunks_by_id(records.chunk_ids_of([source]))
    spans = sorted((c.start, c.end, c.text) for c in chunks.values())
    return article_html(article, records.copies_of(source), spans)


@dataclass
class CorpusBrowser:
    """The browser's components, and `refresh` for the panel's other events to chain."""

    table: gr.HTML
    totals: gr.Markdown
    refresh: Callable[..., tuple[Any, ...]]
    inputs: list[Any]
    outputs: list[Any]


def corpus_browser(settings: Settings, ingest_fn: Callable[..., IngestReport], status: gr.Markdown) -> CorpusBrowser:
    """Build the browser inside the current Blocks context and wire its events."""

    def records() -> Records:
        return open_store(settings).records

    def refresh(search: str, sort: str, page: int) -> tuple[Any, ...]:
        try:
            table, label, page = page_of(records(), search or "", sort, int(page or 0))
            return table, label, page, totals(records())
        except RagError as exc:
            return f"<p>Error: {html.escape(str(exc))}</p>", "", 0, ""

    def delete(source: str, confirmed: bool) -> tuple[str, bool]:
        source = (source or "").strip()
        if not confirmed:
            return "Tick the confirmation to delete the file of this article.", False
        try:
            delete_article(settings, source)
        except RagError as exc:
            return html.escape(f"Error: {exc}"), False
        return html.escape(f"deleted {source}: its file, records and vectors"), False

    def reindex_one(source: str) -> str:
        source = (source or "").strip()
        try:
            report = ingest_fn(settings, [settings.corpus_dir / source], progress=True)
        except RagError as exc:
            return html.escape(f"Error: {exc}")
        return html.escape("Indexed: " + report.summary())

    with gr.Row():
        search = gr.Textbox(placeholder="Search articles", show_label=False, scale=4, elem_id="corpus-search")
        sort = gr.Dropdown(list(SORTS), value="Title", show_label=False, scale=1, elem_id="corpus-sort")
    totals_box = gr.Markdown(elem_id="corpus-totals")
    table = gr.HTML(elem_id="corpus-table")
    page = gr.State(0)
    with gr.Row():
        previous = gr.Button("Previous page", size="sm", elem_id="corpus-previous")
        label = gr.Markdown(elem_id="corpus-page")
        following = gr.Button("Next page", size="sm", elem_id="corpus-next")
    with gr.Row():
        source = gr.Textbox(label="Article file", placeholder="a file name from the table", elem_id="article-source")
        show = gr.Button("Show article", size="sm", elem_id="article-show")
    view = gr.HTML(elem_id="article-view")
    with gr.Row():
        confirm = gr.Checkbox(label="Yes, delete this article's file", elem_id="article-confirm")
        delete_button = gr.Button("Delete article", variant="stop", size="sm", elem_id="article-delete")
        reindex_button = gr.Button("Re-index article", size="sm", elem_id="article-reindex")

    inputs = [search, sort, page]
    outputs = [table, label, page, totals_box]
    search.submit(lambda q, s: refresh(q, s, 0), [search, sort], outputs, api_visibility="private")
    search.change(lambda q, s: refresh(q, s, 0), [search, sort], outputs, api_visibility="private")
    sort.change(lambda q, s: refresh(q, s, 0), [search, sort], outputs, api_visibility="private")
    previous.click(lambda q, s, p: refresh(q, s, p - 1), inputs, outputs, api_visibility="private")
    following.click(lambda q, s, p: refresh(q, s, p + 1), inputs, outputs, api_visibility="private")
    show.click(lambda s: article_view(records(), (s or "").strip()), source, view, api_visibility="private")
    source.submit(lambda s: article_view(records(), (s or "").strip()), source, view, api_visibility="private")
    delete_button.click(delete, [source, confirm], [status, confirm], api_name="delete_article").then(
        refresh, inputs, outputs, api_visibility="private"
    )
    reindex_button.click(reindex_one, source, status, api_visibility="private").then(
        refresh, inputs, outputs, api_visibility="private"
    )
    return CorpusBrowser(table, totals_box, refresh, inputs, outputs)
