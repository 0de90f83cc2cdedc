"""A local site that serves RSS and Atom feeds and the article pages they link to, for the feed tests.

Each test builds its own `FeedSite`: what it serves (`routes`, `redirects`) can change between two
polls, and `requests` records every request so a test can tell what was fetched.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Route:
    body: bytes
    kind: str = "text/html; charset=utf-8"
    status: int = 200
    conditional: bool = True
    """Send an ETag and Last-Modified, and answer 304 to a matching If-None-Match."""


@dataclass
class FeedSite:
    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(path, status) of every request, in order."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, path: str, title: str, paragraphs: list[str]) -> str:
        """Serve an article page at `path`; return its URL."""
        html = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        self.routes[path] = Route(
            f"""<!doctype html><html><head><title>{escape(title)}</title>
<meta property="og:title" content="{escape(title)}">
<meta property="article:published_time" content="2026-03-01T08:00:00Z"></head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport pages</a></nav>
<article><h1>{escape(title)}</h1>{html}</article>
<footer>Subscribe to the Harbour Gazette newsletter today!</footer></body></html>""".encode()
        )
        return f"{self.base}{path}"

    def paths_requested(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def statuses(self, path: str) -> list[str]:
        with self.lock:
            return [status for p, status in self.requests if p == path]


def rss(title: str, items: list[dict[str, str]]) -> bytes:
    """An RSS 2.0 document; an item's `content` becomes content:encoded."""
    parts = []
    for item in items:
        content = f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>" if "content" in item else ""
        guid = f'<guid isPermaLink="false">{escape(item["guid"])}</guid>' if "guid" in item else ""
        parts.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(item.get('link', ''))}</link>{guid}"
            f"<pubDate>{item.get('date', 'Tue, 03 Mar 2026 09:00:00 GMT')}</pubDate>"
            f"<author>{escape(item.get('author', 'desk@gazette.example (News desk)'))}</author>"
            f"<description>{escape(item.get('summary', 'Read more.'))}</description>{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>https://gazette.example/</link><description>News</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def atom(title: str, entries: list[dict[str, str]]) -> bytes:
    """An Atom 1.0 document; an entry's `content` is HTML content."""
    parts = []
    for entry in entries:
        content = f'<content type="html">{escape(entry["content"])}</content>' if "content" in entry else ""
        parts.append(
            f'<entry><title>{escape(entry["title"])}</title><link href="{escape(entry.get("link", ""))}"/>'
            f"<id>{escape(entry['id'])}</id><updated>{entry.get('date', '2026-03-04T10:00:00Z')}</updated>"
            f"<author><name>{escape(entry.get('author', 'Ada Byline'))}</name></author>"
            f"<summary>{escape(entry.get('summary', 'Read more.'))}</summary>{content}</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:feed:{escape(title)}</id><updated>2026-03-04T10:00:00Z</updated>"
        + "".join(parts)
        + "</feed>"
    ).encode()


RSS_KIND = "application/rss+xml"
ATOM_KIND = "application/atom+xml"
_MODIFIED = format_datetime(datetime(2026, 3, 4, 10, 0, tzinfo=UTC), usegmt=True)


def _handler(site: FeedSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _log(self, status: int) -> None:
            with site.lock:
                site.requests.append((self.path, str(status)))

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path in site.redirects:
                self._log(302)
                self.send_response(302)
                self.send_header("Location", site.redirects[self.path])
                self.end_headers()
                return
            route = site.routes.get(self.path) or Route(b"<html><body>Not found</body></html>", status=404)
            etag = f'"{hashlib.sha256(route.body).hexdigest()[:16]}"'
            if route.conditional and route.status == 200 and self.headers.get("If-None-Match") == etag:
                self._log(304)
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self._log(route.status)
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", route.kind)
                self.send_header("Content-Length", str(len(route.body)))
                if route.conditional:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", _MODIFIED)
                self.end_headers()
                self.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (an over-size page): expected

    return Handler


@contextmanager
def serve_feed_site() -> Iterator[FeedSite]:
    """Serve a new, empty FeedSite on 127.0.0.1 on a free port."""
    site = FeedSite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
