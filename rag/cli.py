"""The `rag` command: ingest, ask, status, copy-index, eval, chat."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from rag.config import Settings
from rag.errors import RagError
from rag.models import Answer

if TYPE_CHECKING:
    from ingest.feeds import PollReport
    from ingest.indexer import IngestReport
    from rag.records import Records

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ask questions about a folder of news articles; answers cite the articles verbatim.",
)

T = TypeVar("T")


def _run(work: Callable[[], T]) -> T:
    """Run a command body; a user error becomes one line on stderr and exit code 1."""
    try:
        return work()
    except RagError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")


@app.command()
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Files or folders inside the corpus dir, or http(s) URLs; default: the whole corpus."),
    ] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option("--feed", help="Take the new entries of this RSS or Atom feed (repeatable)."),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and build it anew.")] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Then keep watching the corpus and re-index every change, polling the saved feeds every "
            "RAG_FEED_INTERVAL minutes (Ctrl-C stops).",
        ),
    ] = False,
) -> None:
    """Index new and changed articles (removing deleted ones); fetch and index web pages given as URLs
    and new entries of feeds. With no argument, the saved feeds are polled and the whole corpus indexed."""
    from ingest.feeds import poll_feeds, saved_feeds
    from ingest.indexer import ingest as run_ingest
    from ingest.web import fetch_article, is_url
    from rag.store import open_store

    settings = _run(Settings.from_env)
    store = _run(lambda: open_store(settings, check=not rebuild))
    asked = bool(paths or feed)
    targets: list[Path] = []
    for item in paths or []:
        if is_url(item):
            saved = _run(lambda url=item: fetch_article(url, settings))  # type: ignore[misc]
            typer.echo(f"fetched {item} -> {saved}", err=True)
            targets.append(saved)
        else:
            targets.append(Path(item))
    feeds = feed or ([] if asked else [s.url for s in saved_feeds(store.records)])
    reports = _run(lambda: poll_feeds(feeds, settings, store.records, on_report=_print_poll))
    failed = [r for r in reports if r.error]
    targets += [path for r in reports for path in r.saved]
    if asked and not targets:
        # Only feeds were asked for and none brought anything: the index is left as it is.
        if not failed:
            typer.echo("nothing new to index", err=True)
        raise typer.Exit(1 if failed else 0)
    only = targets if asked else None
    report = _run(lambda: run_ingest(settings, only, rebuild=rebuild, progress=sys.stderr.isatty(), store=store))
    _print_report(report)
    if watch:
        from ingest.feeds import start_polling
        from ingest.watch import watch_corpus

        typer.echo(f"watching {settings.corpus_dir} and the saved feeds (Ctrl-C stops)", err=True)
        start_polling(settings, store.records, on_report=_print_poll)
        _run(lambda: watch_corpus(settings, store=store, on_ingest=_print_report))
    if feed and failed:
        raise typer.Exit(1)


def _print_poll(report: PollReport) -> None:
    for line in report.entry_errors:
        typer.echo(f"skipped entry: {line}", err=True)
    typer.echo(f"error: {report.summary()}" if report.error else report.summary(), err=True)


def _print_report(report: IngestReport) -> None:
    for skipped in report.skipped:
        typer.echo(f"skipped {skipped.source}: {skipped.reason}", err=True)
    typer.echo(report.summary())


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    k: Annotated[int | None, typer.Option("-k", min=1, max=50, help="Passages to retrieve.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only articles published on or after this day (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only articles published on or before this day (YYYY-MM-DD).")
    ] = None,
    outlet: Annotated[
        list[str] | None, typer.Option("--outlet", help="Only articles of this outlet (repeatable).")
    ] = None,
) -> None:
    """Answer a question with cited passages."""
    from rag.api import answer
    from rag.embeddings import get_embedder
    from rag.store import open_store

    if not question.strip():
        typer.echo("error: the question is empty; ask something about the articles", err=True)
        raise typer.Exit(1)
    settings = _run(Settings.from_env)
    store = _run(lambda: open_store(settings))
    result = _run(
        lambda: answer(question, settings=settings, k=k, since=since, until=until, outlets=outlet, store=store)
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_answer(result))
    # What `rag status` says when the index was embedded by another backend than this process's.
    note = store.backend_note(get_embedder().backend_label)
    if note:  # on stderr: the answer on stdout stays what scripts read
        typer.echo(f"note: {note}", err=True)


def format_answer(result: Answer) -> str:
    """The answer followed by its numbered sources, for a terminal."""
    lines = [result.text]
    lines += [f"({note})" for note in result.notes]
    if result.citations:
        lines.append("")
        lines.append("Sources:")
        for c in result.citations:
            page = f", page {c.page}" if c.page is not None else ""
            day = f", {c.published}" if c.published else ""
            lines.append(f"[{c.number}] {c.title} ({c.source}{day}{page}, characters {c.start}-{c.end})")
            lines.append(f"    \u201c{c.quote}\u201d")
            if c.also_in:
                lines.append(f"    also in: {', '.join(c.also_in)}")
    return "\n".join(lines)


@app.command()
def status(
    verify: Annotated[
        bool, typer.Option("--verify", help="Check that records, Chroma and keyword index agree.")
    ] = False,
) -> None:
    """Show what is indexed and where."""
    from rag.embeddings import get_embedder
    from rag.store import open_store

    settings = _run(Settings.from_env)
    store = _run(lambda: open_store(settings))
    articles, chunks = store.records.counts()
    typer.echo(f"data dir:    {settings.data_dir.resolve()}")
    typer.echo(f"vector store: {settings.chroma_url or 'embedded Chroma'} (collection {settings.collection})")
    typer.echo(f"records:     {store.records.location}")
    typer.echo(f"corpus dir:  {settings.corpus_dir.resolve()}")
    typer.echo(f"articles:    {articles}")
    typer.echo(f"chunks:      {chunks}")
    embedder = get_embedder()
    typer.echo(f"embedder:    {embedder.name} on {embedder.backend_label}")
    backend_note = store.backend_note(embedder.backend_label)
    if backend_note:
        typer.echo(f"note:        {backend_note}")
    typer.echo(f"last ingest: {store.records.get_meta('last_ingest') or 'never'}")
    undated = store.records.article_dates().undated
    typer.echo(f"undated:     {undated} articles without a published date (date filters leave them out)")
    _print_feeds(store.records)
    groups = store.records.copy_groups()
    typer.echo(f"duplicates:  {len(groups)} groups of near-duplicate articles ({sum(map(len, groups))} articles)")
    decoded = [a for a in store.records.articles() if a.encoding]
    if decoded:
        shown = ", ".join(f"{a.source} ({a.encoding})" for a in decoded[:10])
        more = f" and {len(decoded) - 10} more" if len(decoded) > 10 else ""
        typer.echo(f"not UTF-8:   {len(decoded)} decoded: {shown}{more}")
    if verify:
        drift = _run(store.verify)
        if drift.ok:
            typer.echo("verify:      records, Chroma and keyword index agree")
        else:
            typer.echo(f"error: index drift: {drift.summary()}; run `rag ingest` to repair it", err=True)
            raise typer.Exit(1)


feeds_app = typer.Typer(no_args_is_help=True, help="The saved RSS and Atom feeds that `rag ingest` polls.")
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("add")
def feeds_add(url: Annotated[str, typer.Argument(help="The feed's http(s) URL.")]) -> None:
    """Save a feed: `rag ingest` (and --watch) takes its new entries from now on."""
    from ingest.feeds import add_feed
    from rag.records import open_records

    settings = _run(Settings.from_env)
    state = _run(lambda: add_feed(open_records(settings), url))
    typer.echo(f"saved feed {state.url}; run `rag ingest` to take its entries")


@feeds_app.command("remove")
def feeds_remove(url: Annotated[str, typer.Argument(help="The feed's URL, as `rag feeds list` shows it.")]) -> None:
    """Stop polling a feed; the articles already taken stay in the corpus."""
    from ingest.feeds import remove_feed
    from rag.records import open_records

    settings = _run(Settings.from_env)
    if not _run(lambda: remove_feed(open_records(settings), url)):
        typer.echo(f"error: {url} is not a saved feed; `rag feeds list` shows them", err=True)
        raise typer.Exit(1)
    typer.echo(f"removed feed {url}; its articles stay in the corpus")


@feeds_app.command("list")
def feeds_list() -> None:
    """The saved feeds, with entries taken, last poll and last error."""
    from rag.records import open_records

    settings = _run(Settings.from_env)
    if not _print_feeds(_run(lambda: open_records(settings))):
        typer.echo("no saved feeds; add one with `rag feeds add URL`")


def _print_feeds(records: Records) -> bool:
    from ingest.feeds import saved_feeds

    feeds = saved_feeds(records)
    for state in feeds:
        title = f" ({state.title})" if state.title else ""
        error = f", error: {state.error}" if state.error else ""
        typer.echo(
            f"feed:        {state.url}{title}: {len(state.taken)} entries taken, "
            f"last poll {state.last_poll or 'never'}{error}"
        )
    return bool(feeds)


@app.command(name="copy-index")
def copy_index(
    to_database_url: Annotated[
        str | None, typer.Option("--to-database-url", help="PostgreSQL URL for the target's records.")
    ] = None,
    to_chroma_url: Annotated[
        str | None, typer.Option("--to-chroma-url", help="Chroma server URL for the target's vectors.")
    ] = None,
    to_data_dir: Annotated[
        Path | None, typer.Option("--to-data-dir", help="Data dir for the target's embedded store and records.")
    ] = None,
    to_collection: Annotated[str | None, typer.Option("--to-collection", help="The target's collection.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a target index that is not empty.")] = False,
) -> None:
    """Copy the index (as RAG_* configure it) elsewhere without re-embedding, e.g. to PostgreSQL and a
    Chroma server; options not given keep the source's value."""
    from ingest.copy import copy_index as run_copy

    source = _run(Settings.from_env)
    given = dict(database_url=to_database_url, chroma_url=to_chroma_url, data_dir=to_data_dir, collection=to_collection)
    target = source.with_overrides(**{k: v for k, v in given.items() if v is not None})
    report = _run(lambda: run_copy(source, target, replace=replace))
    typer.echo(report.summary())


@app.command(name="eval")
def evaluate(
    file: Annotated[Path, typer.Argument(help="JSONL with question, answerable, facts, support.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    cross_validate: Annotated[
        bool,
        typer.Option(
            "--cross-validate",
            help="Also answer each half of the set with a selector fitted on the other half, and show both.",
        ),
    ] = False,
    fit: Annotated[
        Path | None,
        typer.Option(
            "--fit",
            help="Also answer the set with a selector fitted on this other JSONL set (train on one, test on another).",
        ),
    ] = None,
) -> None:
    """Score answers on an evaluation set: facts, support, citations, refusals, hit@k, latency."""
    from rag.api import answer, ensure_index
    from rag.evaluation import evaluate as run_eval
    from rag.evaluation import load_eval_set
    from rag.store import open_store

    settings = _run(Settings.from_env)
    items = _run(lambda: load_eval_set(file))
    store = _run(lambda: open_store(settings))
    _run(lambda: ensure_index(settings, store))
    shipped = lambda q, **kw: answer(q, settings=settings, store=store, **kw)  # noqa: E731
    report = _run(lambda: run_eval(items, shipped, store.records))
    reports = {"shipped": report}
    if cross_validate:
        from rag.answering.training import cross_validate as run_cv
        from rag.embeddings import get_embedder

        reports["cross-validated"] = _run(lambda: run_cv(items, settings, store, get_embedder()))
    if fit is not None:
        from rag.answering.training import fit_on

        train = _run(lambda: load_eval_set(fit))
        selector = _run(lambda: fit_on(train, settings, store))
        ask = lambda q, **kw: answer(q, settings=settings, store=store, selector=selector, **kw)  # noqa: E731
        reports["fitted on --fit"] = _run(lambda: run_eval(items, ask, store.records))
    if as_json:
        data = report.to_dict()
        if "cross-validated" in reports:
            data["cross_validated"] = reports["cross-validated"].to_dict()
        if "fitted on --fit" in reports:
            data["fitted_on_other_set"] = reports["fitted on --fit"].to_dict()
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    shown = reports.get("fitted on --fit") or reports.get("cross-validated") or report
    for r in shown.items:
        marks = " ".join(
            f"{name}={_mark(value)}"
            for name, value in (
                ("facts", r.facts_ok),
                ("support", r.support_ok),
                ("verbatim", r.verbatim_ok),
                ("hit", r.hit),
            )
        )
        outcome = "refused" if r.refused else "answered"
        flagged = f" unsupported={r.unsupported}" if r.unsupported else ""
        typer.echo(f"{r.id:>5}  {outcome:<8} {marks}{flagged}  {r.latency_ms:7.1f} ms  [{r.backend}]  {r.question}")
    typer.echo("")
    overall = {name: r.overall() for name, r in reports.items()}
    typer.echo(f"{'':<30}" + "".join(f"{name:>18}" for name in overall))
    for key in overall["shipped"]:
        values = "".join(f"{_cell(o[key]):>18}" for o in overall.values())
        typer.echo(f"{key:<30}{values}")
    for name, figures in report.sections().items():
        typer.echo(f"\nsection {name!r} (shipped):")
        for key, value in figures.items():
            typer.echo(f"{key:<30}{_cell(value):>18}")


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    return str(value)


def _mark(value: bool | None) -> str:
    return "-" if value is None else ("ok" if value else "FAIL")


@app.command()
def chat(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1, RAG_UI_HOST).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 7860, RAG_UI_PORT).")] = None,
    terminal: Annotated[bool, typer.Option("--terminal", help="Chat in the terminal instead of the browser.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Re-index the corpus whenever its files change.")] = False,
) -> None:
    """Open the chat page (or a terminal chat)."""
    settings = _run(Settings.from_env)
    if watch and terminal:
        from ingest.feeds import start_polling
        from ingest.watch import start_watching
        from rag.store import open_store

        store = _run(lambda: open_store(settings))
        start_watching(settings, store=store)
        start_polling(settings, store.records)
    if terminal:
        _terminal_chat(settings)
        return
    from ui.app import main as serve

    overrides = {k: v for k, v in {"ui_host": host, "ui_port": port}.items() if v is not None}
    settings = settings.with_overrides(**overrides)
    typer.echo(f"newsrag chat on http://{settings.ui_host}:{settings.ui_port} (Ctrl-C stops it)")
    _run(lambda: serve(settings, watch=watch))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1, RAG_UI_HOST).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 8000, RAG_API_PORT).")] = None,
    mcp: Annotated[
        bool, typer.Option("--mcp", help="Also serve the MCP tools ask and search at /mcp/ (RAG_MCP=1).")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes sharing the port and the index (each loads the models).")
    ] = 1,
) -> None:
    """Serve the OpenAI-compatible chat API (/v1/chat/completions, /v1/models), and MCP tools with --mcp."""
    from rag.openai_api import MCP_PATH, MODEL_ID
    from rag.openai_api import serve as serve_api

    settings = _run(Settings.from_env)
    if mcp:
        settings = settings.with_overrides(mcp=True)
    root = f"http://{host or settings.ui_host}:{port or settings.api_port}"
    key = "a key (RAG_API_KEY)" if settings.api_key else "no key"
    processes = f", {workers} worker processes" if workers > 1 else ""
    typer.echo(f"newsrag OpenAI-compatible API at {root}/v1, model {MODEL_ID!r}, {key}{processes} (Ctrl-C stops it)")
    if settings.mcp:
        typer.echo(f"MCP tools ask and search at {root}{MCP_PATH}/")
    _run(lambda: serve_api(settings, host=host, port=port, workers=workers))


def _terminal_chat(settings: Settings) -> None:
    from rag.api import answer

    history: list[tuple[str, str]] = []
    typer.echo("Ask about the articles; an empty line quits.")
    while True:
        try:
            question = input("> ")
        except EOFError:
            break
        if not question.strip():
            break
        result = _run(lambda q=question: answer(q, history=history, settings=settings))  # type: ignore[misc]
        typer.echo(format_answer(result) + "\n")
        history.append((question, result.text))


def run() -> None:
    """Console-script entry point."""
    app()
