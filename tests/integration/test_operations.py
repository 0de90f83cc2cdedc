"""`rag serve` operated: health and readiness, Prometheus metrics that move, a request id on every
response and in a JSON log line, a per-client rate limit, and answers in flight finished at shutdown.
Servers run on 127.0.0.1, called with the official OpenAI client and httpx."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from ingest.indexer import ingest
from rag.config import Settings
from rag.models import Answer
from rag.operations import RateLimiter
from tests.conftest import SEED_ARTICLE, new_settings
from tests.integration.test_openai_api import _start

QUESTION = [{"role": "user", "content": "Why did Krause resign?"}]


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples in Prometheus text (labels ignored)."""
    return sum(float(v) for v in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE))


def _stop(server: object, thread: threading.Thread) -> None:
    server.should_exit = True  # type: ignore[attr-defined]
    thread.join(timeout=30)


@pytest.fixture
def seeded(tmp_path: Path) -> Settings:
    settings = new_settings(tmp_path)
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    return settings


def test_health_readiness_metrics_and_request_ids(seeded: Settings, caplog: pytest.LogCaptureFixture) -> None:
    url, server, thread = _start(seeded)
    root = url.removesuffix("/v1")
    try:
        assert httpx.get(f"{root}/healthz").json() == {"status": "ok"}
        not_ready = httpx.get(f"{root}/readyz")
        assert not_ready.status_code == 503 and "run `rag ingest`" in not_ready.json()["reason"]
        ingest(seeded)
        deadline = time.monotonic() + 60
        while httpx.get(f"{root}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready within 60 s of indexing"
            time.sleep(0.2)
        before = httpx.get(f"{root}/metrics").text
        assert metric(before, "newsrag_index_chunks") > 0 and metric(before, "newsrag_ingest_runs") == 1
        embedded = metric(before, "newsrag_chunks_embedded")
        assert embedded > 0

        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        caplog.set_level(logging.INFO, logger="newsrag.access")
        raw = client.chat.completions.with_raw_response.create(
            model="newsrag", messages=QUESTION, extra_headers={"X-Request-ID": "trace-42"}
        )
        assert raw.headers["x-request-id"] == "trace-42"
        client.chat.completions.create(model="newsrag", messages=[{"role": "user", "content": "Pancake recipe?"}])
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="gpt-nothing", messages=QUESTION)
        assert re.fullmatch(r"[0-9a-f]{32}", httpx.get(f"{root}/healthz").headers["x-request-id"])
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "newsrag.access"]
        traced = [line for line in lines if line["request_id"] == "trace-42"]
        assert traced and traced[0]["path"] == "/v1/chat/completions" and traced[0]["status"] == 200

        (seeded.corpus_dir / "choir.md").write_text("# Choir\n\nThe Harbour Singers won the award.\n", encoding="utf-8")
        ingest(seeded)
        after = httpx.get(f"{root}/metrics").text
        assert metric(after, "newsrag_questions_total") == metric(before, "newsrag_questions_total") + 2
        assert metric(after, "newsrag_refusals_total") == metric(before, "newsrag_refusals_total") + 1
        assert metric(after, "newsrag_answer_seconds_count") == 2
        assert 'newsrag_errors_total{kind="model_not_found"} 1.0' in after
        assert metric(after, "newsrag_ingest_runs") == 2 and metric(after, "newsrag_chunks_embedded") > embedded
        assert metric(after, "newsrag_index_articles") == 2
    finally:
        _stop(server, thread)


def test_the_rate_limit_answers_429_with_retry_after_per_key(seeded: Settings) -> None:
    settings = seeded.with_overrides(rate_limit=3)
    ingest(settings)
    url, server, thread = _start(settings)
    try:
        headers = {"Authorization": "Bearer key-a"}
        codes = [httpx.get(f"{url}/models", headers=headers).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = httpx.get(f"{url}/models", headers=headers)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert httpx.get(f"{url}/models", headers={"Authorization": "Bearer key-b"}).status_code == 200
        assert httpx.get(url.removesuffix("/v1") + "/healthz").status_code == 200  # never limited
    finally:
        _stop(server, thread)


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(limiter.retry_after("a") == 0 for _ in range(60))
    assert limiter.retry_after("a") == 1
    now[0] += 1.0
    assert limiter.retry_after("a") == 0 and limiter.retry_after("a") == 1
    assert RateLimiter(0).retry_after("a") == 0  # 0: no limit


def test_answers_in_flight_finish_when_the_server_stops(tmp_path: Path) -> None:
    import uvicorn

    from rag.openai_api import build_api
    from tests.servers import free_port

    started = threading.Event()

    def slow_answer(question: str, **_: object) -> Answer:
        started.set()
        time.sleep(2)
        return Answer(question=question, text="Late but whole.")

    port = free_port()
    config = uvicorn.Config(
        build_api(new_settings(tmp_path), answer_fn=slow_answer),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    replies: list[httpx.Response] = []
    asker = threading.Thread(
        target=lambda: replies.append(
            httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json={"model": "newsrag", "messages": QUESTION},
                timeout=30,
            )
        )
    )
    asker.start()
    assert started.wait(10)
    server.should_exit = True  # what SIGTERM and Ctrl-C do
    asker.join(30)
    thread.join(30)
    assert replies and replies[0].status_code == 200
    assert replies[0].json()["choices"][0]["message"]["content"].startswith("Late but whole.")


def test_serve_with_two_workers_answers_concurrent_clients(seeded: Settings) -> None:
    """`rag serve --workers 2`: two processes share the port and the index, every answer is whole,
    and SIGTERM stops both."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.servers import free_port, wait_for_http

    ingest(seeded)
    port = free_port()
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(seeded.corpus_dir),
        "RAG_DATA_DIR": str(seeded.data_dir),
        "RAG_COLLECTION": seeded.collection,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port), "--workers", "2"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", proc, "rag serve --workers 2")
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=120)
        replies: list[str] = []
        errors: list[Exception] = []

        def ask() -> None:
            try:
                reply = client.chat.completions.create(model="newsrag", messages=QUESTION)
                replies.append(reply.choices[0].message.content or "")
            except Exception as exc:  # counted below: no request may fail
                errors.append(exc)

        askers = [threading.Thread(target=ask) for _ in range(8)]
        for t in askers:
            t.start()
        for t in askers:
            t.join(180)
        assert not errors, errors
        assert len(replies) == 8 and all("Krause" in r and "[1]" in r for r in replies), replies
        assert len(_workers(proc.pid)) == 2  # the supervisor runs two serving processes
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"2 worker processes" in out


def _workers(pid: int) -> list[int]:
    """Live worker processes that `pid` spawned (from /proc; helper processes left out)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found
