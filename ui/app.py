"""The chat page: `build_app()` assembles it without side effects; `main()` launches it."""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ingest.feeds import add_feed, poll_feed, remove_feed, saved_feeds
from ingest.indexer import IngestReport, ingest
from ingest.loader import ARTICLE_SUFFIXES
from ingest.web import fetch_article
from rag.answering.llm import parse_llm
from rag.api import answer, answer_stream
from rag.config import Settings
from rag.errors import RagError
from rag.models import Answer
from rag.store import open_store
from ui.corpus import corpus_browser
from ui.render import answer_markdown, feeds_html, footer_markdown, sources_html
from ui.uploads import save_upload

log = logging.getLogger(__name__)

AnswerFn = Callable[..., Answer]
StreamFn = Callable[..., Iterator[str | Answer]]
IngestFn = Callable[..., IngestReport]
Turns = list[tuple[str, str]]

UNEXPECTED = "Something went wrong while answering; please ask again (the server log has the details)."

DEFAULT_EXAMPLES = (
    "Why did Krause resign?",
    "What IRS data would ICE be able to cross-reference?",
    "Which lawmakers expressed outrage over the agreement?",
)
"""Questions about the seed article: shown only while it is indexed (see `examples_for`)."""
SEED_SOURCE = "000_a4b3e2646b848259.md"
EXAMPLES_FILE = "examples.txt"


def examples_for(settings: Settings) -> tuple[str, ...]:
    """The example questions to show: RAG_EXAMPLES, else the data dir's examples.txt (one per
    line), else the seed article's when it is indexed, else none (not questions about absent articles)."""
    if settings.examples:
        return settings.examples
    path = settings.data_dir / EXAMPLES_FILE
    if path.is_file():
        return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    try:
        seeded = open_store(settings).records.article(SEED_SOURCE) is not None
    except RagError:
        return ()
    return DEFAULT_EXAMPLES if seeded else ()


# Local font stacks only: the default theme fonts would be fetched from the internet.
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])

CSS = """
.sources-scroll { max-height: 600px; overflow-y: auto; padding-right: 4px; }
.source-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  margin-bottom: 10px; background: var(--background-fill-secondary); }
.source-head { font-size: 0.95em; margin-bottom: 2px; }
.source-meta { font-size: 0.8em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.source-text { font-size: 0.88em; line-height: 1.45; white-space: pre-wrap; }
.source-text mark { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; }
.cite-badge { display: inline-block; min-width: 1.6em; text-align: center; border-radius: 6px;
  background: #2563eb; color: white; font-size: 0.8em; font-weight: 600; padding: 0 4px; }
.source-text .cite-number { color: #2563eb; font-weight: 600; }
.source-text .gap { color: var(--body-text-color-subdued); }
.source-copies { font-size: 0.8em; color: var(--body-text-color-subdued); margin-top: 6px; }
.sources-empty { color: var(--body-text-color-subdued); font-style: italic; padding: 8px; }
#chat sup { color: #2563eb; font-weight: 600; }
#chat .not-answered { display: inline-block; border-radius: 6px; background: #b45309; color: white;
  font-size: 0.8em; font-weight: 600; padding: 1px 8px; }
.corpus-table { width: 100%; font-size: 0.9em; }
#footer { text-align: center; font-size: 0.85em; color: var(--body-text-color-subdued); }
"""


def build_app(
    settings: Settings | None = None,
    *,
    answer_fn: AnswerFn = answer,
    stream_fn: StreamFn = answer_stream,
    ingest_fn: IngestFn = ingest,
    examples: Sequence[str] = DEFAULT_EXAMPLES,
    refresh_every: float | None = None,
) -> gr.Blocks:
    """Assemble the chat page; nothing is loaded or indexed until a request comes in.

    `refresh_every` (seconds) re-reads the corpus panel and footer periodically, for a watched corpus.
    """
    settings = settings or Settings.from_env()
    spec = parse_llm(settings.llm)
    backend = "extractive" if spec is None else spec.label

    def respond(
        question: str,
        turns: Turns,
        chat: list[dict[str, Any]],
        since: str = "",
        until: str = "",
        outlets: list[str] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        question = question or ""
        given = {"since": (since or "").strip(), "until": (until or "").strip(), "outlets": outlets or []}
        filters = {k: v for k, v in given.items() if v}
        chat = [*chat, {"role": "user", "content": html.escape(question)}]
        yield "", turns, chat, gr.skip()
        chat.append({"role": "assistant", "content": ""})
        streamed = ""
        result: Answer | None = None
        try:
            # Deltas as they come (sentences from the extractive answerer, tokens from an LLM), then the
            # checked answer, which replaces them.
            for item in stream_fn(question, history=turns, settings=settings, **filters):
                if isinstance(item, Answer):
                    result = item
                else:
                    streamed += item
                    chat[-1] = {"role": "assistant", "content": answer_markdown(streamed)}
                    yield "", turns, chat, gr.skip()
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": f"**Error:** {html.escape(str(exc))}"}
            yield "", turns, chat, gr.skip()
            return
        except Exception:  # a bug or a broken store: a line for the reader, the traceback for the log
            log.exception("answering %r failed", question[:200])
            chat[-1] = {"role": "assistant", "content": f"**Error:** {UNEXPECTED}"}
            yield "", turns, chat, gr.skip()
            return
        assert result is not None
        chat[-1] = {"role": "assistant", "content": answer_markdown(result.text, result.refused, result.notes)}
        yield "", [*turns, (question, result.text)], chat, sources_html(result)

    def refresh() -> tuple[Any, ...]:
        try:
            records = open_store(settings).records
            articles, chunks = records.counts()
            return (
                feeds_html(saved_feeds(records)),
                footer_markdown(backend, articles, chunks),
                gr.update(choices=records.article_dates().outlet_names()),
            )
        except RagError as exc:
            return f"<p>Error: {html.escape(str(exc))}</p>", footer_markdown(backend, 0, 0), gr.skip()

    def follow_feed(url: str, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> str:  # noqa: B008
        """Save a feed, take its entries now and index them; the watcher polls it from then on."""
        url = (url or "").strip()
        if not url:
            return ""
        try:
            records = open_store(settings).records
            state = add_feed(records, url)
            report = poll_feed(state.url, settings, records)
        except RagError as exc:
            return html.escape(f"Error: {exc}")
        lines = [f"skipped entry: {e}" for e in report.entry_errors] + [report.summary()]
        if report.error:
            lines[-1] = f"Error: {report.summary()}"
        if report.saved:
            lines.append(_run_ingest(lambda: ingest_fn(settings, report.saved, progress=True)))
        return html.escape("\n\n".join(lines))

    def unfollow_feed(url: str) -> str:
        url = (url or "").strip()
        try:
            removed = remove_feed(open_store(settings).records, url)
        except RagError as exc:
            return html.escape(f"Error: {exc}")
        if not removed:
            return html.escape(f"Error: {url} is not a saved feed")
        return html.escape(f"removed feed {url}; its articles stay in the corpus")

    def add_files(files: list[str] | None, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> str:  # noqa: B008
        if not files:
            return ""
        messages, saved = [], []
        for name in files:
            path = Path(name)
            try:
                upload = save_upload(path, path.name, settings.corpus_dir, max_bytes=settings.max_file_bytes)
            except RagError as exc:
                messages.append(f"Error: {exc}")
                continue
            saved.append(upload.path)
            messages.append(upload.message)
        if saved:
            messages.append(_run_ingest(lambda: ingest_fn(settings, saved, progress=True)))
        return "\n\n".join(html.escape(m) for m in messages)

    def add_url(url: str, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> str:  # noqa: B008
        """Fetch a web page, save its article into the corpus and index it."""
        url = (url or "").strip()
        if not url:
            return ""
        try:
            saved = fetch_article(url, settings)
        except RagError as exc:
            return html.escape(f"Error: {exc}")
        message = _run_ingest(lambda: ingest_fn(settings, [saved], progress=True))
        return html.escape(f"saved {saved.name}\n\n{message}")

    def reindex(progress: gr.Progress = gr.Progress(track_tqdm=True)) -> str:  # noqa: B008
        return html.escape(_run_ingest(lambda: ingest_fn(settings, progress=True)))

    def ask(question: str) -> dict[str, Any]:
        """Answer a question from the indexed articles; the same JSON as `rag ask --json`."""
        try:
            return answer_fn(question, settings=settings).to_dict()
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        except Exception:
            log.exception("answering %r failed", (question or "")[:200])
            raise gr.Error(UNEXPECTED) from None

    with gr.Blocks(title="newsrag") as app:
        gr.Markdown("# newsrag\nAsk questions about the news articles; every answer quotes its sources.")
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    elem_id="chat",
                    height=560,
                    examples=[{"text": q} for q in examples],
                    placeholder="Ask about the indexed articles, or pick an example.",
                    feedback_options=None,
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask a question and press Enter",
                        show_label=False,
                        scale=6,
                        elem_id="question",
                        autofocus=True,
                        max_length=20_000,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Accordion("Filters", open=False, elem_id="filters"), gr.Row():
                    since_box = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", elem_id="since")
                    until_box = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", elem_id="until")
                    outlet_box = gr.Dropdown(
                        label="Outlets", choices=[], multiselect=True, allow_custom_value=True, elem_id="outlets"
                    )
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html(None), elem_id="sources")
        with gr.Accordion("Corpus", open=False, elem_id="corpus"):
            # The actions first, then the articles: the list can be as long as the archive.
            with gr.Row():
                upload = gr.File(
                    label="Add articles (.md, .txt, .html, .pdf; up to 5 MB)",
                    file_count="multiple",
                    file_types=sorted(ARTICLE_SUFFIXES),
                    elem_id="upload",
                    height=120,
                )
                with gr.Column():
                    url_box = gr.Textbox(label="Add a web page", placeholder="https://...", elem_id="url")
                    url_button = gr.Button("Fetch and index", elem_id="fetch")
                with gr.Column():
                    feed_box = gr.Textbox(
                        label="RSS or Atom feed", placeholder="https://.../rss.xml", elem_id="feed-url"
                    )
                    with gr.Row():
                        feed_add = gr.Button("Follow feed", size="sm", elem_id="feed-add")
                        feed_remove = gr.Button("Stop following", size="sm", elem_id="feed-remove")
                reindex_button = gr.Button("Re-index corpus", elem_id="reindex")
            corpus_status = gr.Markdown(elem_id="corpus-status")
            feeds_table = gr.HTML(elem_id="feeds")
            browser = corpus_browser(settings, ingest_fn, corpus_status)
        footer = gr.Markdown(elem_id="footer")

        chat_io = ([box, turns, chatbot, since_box, until_box, outlet_box], [box, turns, chatbot, sources])
        panel = [feeds_table, footer, outlet_box]

        def refreshed(event: Any) -> None:
            """After an event: the panel, then the article browser, re-read."""
            event.then(refresh, None, panel, api_visibility="private").then(
                browser.refresh, browser.inputs, browser.outputs, api_visibility="private"
            )

        box.submit(respond, *chat_io, api_visibility="private")
        send.click(respond, *chat_io, api_visibility="private")
        chatbot.example_select(_example_text, None, box, api_visibility="private").then(
            respond, *chat_io, api_visibility="private"
        )
        chatbot.clear(lambda: ([], sources_html(None)), None, [turns, sources], api_visibility="private")
        refreshed(upload.upload(add_files, upload, corpus_status, api_name="add_articles"))
        refreshed(url_button.click(add_url, url_box, corpus_status, api_name="add_url"))
        refreshed(url_box.submit(add_url, url_box, corpus_status, api_visibility="private"))
        refreshed(reindex_button.click(reindex, None, corpus_status, api_name="reindex"))
        refreshed(feed_add.click(follow_feed, feed_box, corpus_status, api_name="follow_feed"))
        refreshed(feed_remove.click(unfollow_feed, feed_box, corpus_status, api_name="unfollow_feed"))
        reread = (browser.refresh, browser.inputs, browser.outputs)
        app.load(refresh, None, panel, api_visibility="private").then(*reread, api_visibility="private")
        if refresh_every:
            timer = gr.Timer(refresh_every)
            timer.tick(refresh, None, panel, api_visibility="private").then(*reread, api_visibility="private")
        gr.api(ask, api_name="ask")
    # One question at a time per core: more would only share the cores the encoders already use.
    app.queue(default_concurrency_limit=os.cpu_count() or 1)
    return app


def _example_text(event: gr.SelectData) -> str:
    value = event.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value)


def _run_ingest(work: Callable[[], IngestReport]) -> str:
    try:
        report = work()
    except RagError as exc:
        return f"Error: {exc}"
    return "Indexed: " + report.summary()


def launch(app: gr.Blocks, settings: Settings, *, block: bool = True, **kwargs: Any) -> None:
    """Serve the page on the configured host and port, with login when RAG_UI_AUTH is set."""
    auth = None
    if settings.ui_auth:
        user, _, password = settings.ui_auth.partition(":")
        auth = (user, password)
    app.launch(
        server_name=settings.ui_host,
        server_port=settings.ui_port,
        auth=auth,
        css=CSS,
        theme=THEME,
        footer_links=[],
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=settings.max_file_bytes,
        **kwargs,
    )
    add_health_routes(app, settings)
    if block:
        app.block_thread()


def add_health_routes(app: gr.Blocks, settings: Settings) -> None:
    """/healthz (the process is up) and /readyz (the index is open and not empty, the embedder
    loaded), ahead of the page's own routes, without login: for a supervisor or a load balancer."""
    from fastapi.responses import JSONResponse

    from rag.embeddings import get_embedder

    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def readyz() -> JSONResponse:
        try:
            empty = open_store(settings).records.counts()[1] == 0
        except RagError as exc:
            return JSONResponse({"status": "not ready", "reason": str(exc)}, status_code=503)
        if empty:
            return JSONResponse({"status": "not ready", "reason": "nothing is indexed; run `rag ingest`"}, 503)
        if not get_embedder().loaded:
            return JSONResponse({"status": "not ready", "reason": "the embedder is still loading"}, 503)
        return JSONResponse({"status": "ready"})

    server = app.app
    for path, endpoint in (("/healthz", healthz), ("/readyz", readyz)):
        server.add_api_route(path, endpoint, methods=["GET"])
        server.router.routes.insert(0, server.router.routes.pop())  # before the page's catch-all routes


WATCH_REFRESH_SECONDS = 5.0


def main(settings: Settings | None = None, *, watch: bool = False) -> None:
    """Load the model, then serve the chat until interrupted; with `watch`, re-index corpus changes
    and poll the saved feeds."""
    from rag.answering.reranker import get_reranker
    from rag.embeddings import get_embedder

    settings = settings or Settings.from_env()
    get_embedder().load()  # load before the first question, not during it
    get_reranker().load()  # likewise
    if watch:
        from ingest.feeds import start_polling
        from ingest.watch import start_watching

        store = open_store(settings)
        start_watching(settings, store=store)
        start_polling(settings, store.records)
    log.info("newsrag chat on http://%s:%d", settings.ui_host, settings.ui_port)
    app = build_app(settings, examples=examples_for(settings), refresh_every=WATCH_REFRESH_SECONDS if watch else None)
    launch(app, settings)
