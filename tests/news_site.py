"""A local news site for tests: a realistic article page with boilerplate, and failure cases."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STORY = """<!doctype html><html><head>
<title>Harbor board names interim chief | The Ellery Ledger</title>
<meta property="og:title" content="Harbor board names interim chief">
<meta property="og:site_name" content="The Ellery Ledger">
<meta property="article:published_time" content="2026-04-02T09:00:00Z">
<link rel="canonical" href="https://ledger.example/harbor/interim-chief">
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
 "headline":"Harbor board names interim chief","datePublished":"2026-04-02",
 "publisher":{"@type":"Organization","name":"The Ellery Ledger"}}</script>
<script>window.trackingPixel = "adnetwork";</script>
</head><body>
<nav><a href="/">Home</a> <a href="/sports">Sports desk</a> <a href="/weather">Weather centre</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<div class="ad">Advertisement: Buy discount ferry tickets now</div>
<article><h1>Harbor board names interim chief</h1>
<p>The Port Ellery Harbor Board named deputy director Mara Quintero as interim harbor commissioner on Thursday.</p>
<p>Quintero, who has worked at the port authority for {years} years, will serve until a permanent commissioner is
chosen in the autumn.</p>
<p>Board chair Luis Ferreira said the search committee would interview candidates in June.</p>
</article>
<aside><h3>Related stories</h3><ul><li><a href="/a">Ferry fares rise again</a></li>
<li><a href="/b">Tide tables for April</a></li></ul></aside>
<footer>Copyright 2026 The Ellery Ledger. Subscribe now for unlimited access!</footer>
</body></html>"""
BOILERPLATE = [
    "cookies",
    "Related stories",
    "Sports desk",
    "Subscribe",
    "Advertisement",
    "trackingPixel",
    "Tide tables",
]


class Site:
    """What the test server serves; tests change `years` to publish an update."""

    years = "eleven"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def send(self, status: int, kind: str, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test): expected

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/story":
            self.send(200, "text/html; charset=utf-8", STORY.replace("{years}", Site.years).encode())
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/story")
            self.end_headers()
        elif self.path == "/slow":
            time.sleep(3)
            self.send(200, "text/html", b"<html><body><p>late</p></body></html>")
        elif self.path == "/data.json":
            self.send(200, "application/json", b'{"not": "html"}')
        elif self.path == "/huge":
            self.send(200, "text/html", b"<html><body>" + b"<p>words words words</p>" * 20_000 + b"</body></html>")
        elif self.path == "/empty":
            self.send(200, "text/html", b"<html><body><nav>Home</nav></body></html>")
        else:
            self.send(404, "text/html", b"<html><body>Not found</body></html>")


@contextmanager
def serve_news_site() -> Iterator[str]:
    """Serve the site on 127.0.0.1 on a free port; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
