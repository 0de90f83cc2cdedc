"""Running `rag serve` in production: health and readiness, Prometheus metrics, one JSON log line
per request with a request id, and a per-client rate limit."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

access_log = logging.getLogger("newsrag.access")

REQUEST_ID_HEADER = "X-Request-ID"


@dataclass
class Metrics:
    """The counters `rag serve` exports at /metrics; one registry per app, so tests can read them."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.questions = Counter("newsrag_questions", "Questions answered", ["endpoint"], registry=r)
        self.refusals = Counter("newsrag_refusals", "Questions refused (not covered, filtered out)", registry=r)
        self.latency = Histogram(
            "newsrag_answer_seconds",
            "Time to answer a question",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.errors = Counter("newsrag_errors", "Requests that ended in an error, by kind", ["kind"], registry=r)
        self.requests = Counter(
            "newsrag_http_requests", "HTTP requests by path and status", ["path", "status"], registry=r
        )
        self.articles = Gauge("newsrag_index_articles", "Articles in the index", registry=r)
        self.chunks = Gauge("newsrag_index_chunks", "Chunks in the index", registry=r)
        self.ingest_runs = Gauge("newsrag_ingest_runs", "Ingest runs recorded in the index's records", registry=r)
        self.chunks_embedded = Gauge(
            "newsrag_chunks_embedded", "Chunks embedded by all ingest runs, as the records count them", registry=r
        )


def log_request(request_id: str, method: str, path: str, status: int, seconds: float, client: str | None) -> None:
    """One JSON line per request (the request id is also in the response's X-Request-ID header)."""
    access_log.info(
        json.dumps(
            {
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                "ms": round(seconds * 1000, 1),
                "client": client,
            }
        )
    )


def request_id(given: str | None) -> str:
    """The client's request id when it sent a sensible one, else a new one."""
    if given and len(given) <= 128 and given.isprintable():
        return given
    return uuid.uuid4().hex


class RateLimiter:
    """A token bucket per client: `per_minute` requests a minute on average, bursts of as many."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 when the request may go ahead (and it is counted), else the seconds to wait."""
        if self.per_minute <= 0:
            return 0
        rate = self.per_minute / 60.0
        now = self.clock()
        with self.lock:
            tokens, then = self.buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - then) * rate)
            if tokens >= 1:
                self.buckets[client] = (tokens - 1, now)
                return 0
            self.buckets[client] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / rate))
