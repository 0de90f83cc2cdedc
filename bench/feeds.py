"""Feed intake: 200 entries of an RSS feed served on 127.0.0.1, taken and indexed, beside `rag ingest`
of the same 200 pages saved as HTML files; then a second poll with nothing new.

Usage: python -m bench.feeds [--entries 200]
"""

from __future__ import annotations

import argparse
import html
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import DATA_DIR, write_result
from bench.synth import generate


def _page(title: str, body: str) -> bytes:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip())
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{html.escape(title)}</h1>{paragraphs}</article>"
        f"<footer>Subscribe today</footer></body></html>"
    ).encode()


def _serve(routes: dict[str, tuple[bytes, str]]) -> tuple[ThreadingHTTPServer, str]:
    """Serve `routes` (path -> body, content type) on 127.0.0.1; the feed answers 304 to its ETag.
    `routes` is read per request, so it can be filled once the address is known."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path not in routes:
                self.send_response(404)
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.end_headers()
                return
            body, kind = routes[self.path]
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", '"v1"')
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main(count: int) -> None:
    from ingest.feeds import poll_feed
    from ingest.indexer import ingest
    from rag.config import Settings
    from rag.embeddings import get_embedder
    from rag.records import open_records

    get_embedder().load()  # loaded before any timing
    root = DATA_DIR / "feeds"
    shutil.rmtree(root, ignore_errors=True)
    files_corpus = root / "files-corpus"
    files_corpus.mkdir(parents=True)
    routes: dict[str, tuple[bytes, str]] = {}
    server, base = _serve(routes)
    items = []
    for n, a in enumerate(generate(count, seed=11)):
        _, front, body = a.text.split("---\n", 2)
        title = front.split("title: ", 1)[1].split("\n", 1)[0]
        page = _page(title, body)
        routes[f"/story/{n}"] = (page, "text/html; charset=utf-8")
        (files_corpus / f"story-{n}.html").write_bytes(page)
        items.append(f"<item><title>{html.escape(title)}</title><link>{base}/story/{n}</link><guid>s{n}</guid></item>")
    feed = (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Bench Gazette</title>{''.join(items)}</channel></rss>"
    )
    routes["/feed.xml"] = (feed.encode(), "application/rss+xml")
    feed_url = f"{base}/feed.xml"
    try:
        feed_settings = Settings(
            corpus_dir=root / "feed-corpus", data_dir=root / "feed-data", collection="bench", feed_pause=0.0
        )
        feed_settings.corpus_dir.mkdir(parents=True)
        records = open_records(feed_settings)
        started = time.perf_counter()
        poll = poll_feed(feed_url, feed_settings, records)
        fetched = time.perf_counter() - started
        report = ingest(feed_settings)
        feed_total = time.perf_counter() - started

        started = time.perf_counter()
        again = poll_feed(feed_url, feed_settings, records)
        second_poll = time.perf_counter() - started

        files_settings = Settings(corpus_dir=files_corpus, data_dir=root / "files-data", collection="bench")
        started = time.perf_counter()
        files_report = ingest(files_settings)
        files_total = time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()
    write_result(
        "feeds",
        {
            "entries": count,
            "entries_saved": len(poll.saved),
            "entry_errors": len(poll.entry_errors),
            "feed_fetch_and_save_s": round(fetched, 2),
            "feed_total_s": round(feed_total, 2),
            "feed_chunks_embedded": report.chunks_embedded,
            "files_ingest_s": round(files_total, 2),
            "files_chunks_embedded": files_report.chunks_embedded,
            "ratio_feed_over_files": round(feed_total / files_total, 3),
            "second_poll_s": round(second_poll, 3),
            "second_poll_not_modified": again.not_modified,
            "second_poll_saved": len(again.saved),
            "note": "pages served on 127.0.0.1 with no pause between requests (RAG_FEED_PAUSE=0); with the "
            "default 1 s pause, taking entries from one host costs about one second each",
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200)
    main(parser.parse_args().entries)
