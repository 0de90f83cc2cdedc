"""An OpenAI-compatible chat API over `answer()`: `POST /v1/chat/completions` and `GET /v1/models`.

Chat front-ends and scripts that speak OpenAI's chat API (the `openai` client, any "custom OpenAI
endpoint" setting) can ask newsrag. The last user message is the question, earlier turns the
history. The reply text carries the `[n]` markers; citations travel in the extra top-level field
`citations` (and `newsrag`: refused, backend, notes, passages), and, for clients that show only
text, as a "Sources:" footer that `"sources_footer": false` in the request turns off.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.api import answer, split_after_markers
from rag.config import Settings
from rag.errors import RagError
from rag.filters import FilterError
from rag.models import Answer
from rag.operations import REQUEST_ID_HEADER, Metrics, RateLimiter, log_request, request_id
from rag.records.base import CHUNKS_EMBEDDED_KEY, INGEST_RUNS_KEY

log = logging.getLogger(__name__)

MODEL_ID = "newsrag"
MCP_PATH = "/mcp"
"""Where `rag serve --mcp` serves the MCP tools (streamable HTTP; clients use /mcp/)."""
MAX_BODY_BYTES = 1 << 20
"""Larger request bodies get 413: a chat request is a few kilobytes."""
AnswerFn = Callable[..., Answer]


class ApiError(Exception):
    """An error for the client, in OpenAI's error shape."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text; text parts of a multi-part content joined."""
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class RequestFilters(BaseModel):
    """The extra request field `filters`: answer from these articles only (see `answer()`)."""

    model_config = ConfigDict(extra="forbid")

    since: str | None = None
    until: str | None = None
    outlets: list[str] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ...: accepted, not used

    model: str
    messages: list[Message]
    stream: bool = False
    sources_footer: bool = True
    filters: RequestFilters | None = None


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def sources_footer(result: Answer) -> str:
    """The citations as plain text, for clients that show only the message text."""
    if not result.citations:
        return ""
    lines = [f"[{c.number}] {c.title} ({c.source})" for c in result.citations]
    return "\n\nSources:\n" + "\n".join(lines)


def _extras(result: Answer) -> dict[str, Any]:
    return {
        "citations": [c.to_dict() for c in result.citations],
        "newsrag": {
            "refused": result.refused,
            "backend": result.backend,
            "notes": list(result.notes),
            "passages": [p.to_dict() for p in result.passages],
        },
    }


def build_api(settings: Settings | None = None, *, answer_fn: AnswerFn = answer) -> FastAPI:
    """The API app; nothing is loaded until a request comes in."""
    settings = settings or Settings.from_env()
    tools = None
    if settings.mcp:
        from rag.mcp_tools import news_tools

        tools = news_tools(settings)
        tools_app = tools.streamable_http_app()  # creates the session manager the lifespan runs

    metrics = Metrics()
    limiter = RateLimiter(settings.rate_limit)
    warm = threading.Event()

    def warm_up() -> None:
        """Load the models before the first question rather than during it; /readyz waits for this."""
        try:
            from rag.answering.reranker import get_reranker
            from rag.embeddings import get_embedder

            get_embedder().load()
            get_reranker().load()
            warm.set()
        except Exception:
            log.exception("loading the models failed")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
        if tools is None:
            yield
            return
        async with tools.session_manager.run():
            yield

    app = FastAPI(
        title="newsrag OpenAI-compatible API", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    if tools is not None:
        app.mount(MCP_PATH, tools_app)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        metrics.errors.labels(exc.code or exc.kind).inc()
        return _error(exc.status, exc.message, exc.kind, exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else None
        return _error(exc.status_code, str(exc.detail), code=code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        metrics.errors.labels("internal").inc()
        log.exception("unexpected error in the chat API")
        return _error(500, "unexpected error; see the server log", kind="server_error")

    @app.middleware("http")
    async def check_key(request: Request, call_next: Any) -> Any:
        protected = request.url.path.startswith(("/v1/", MCP_PATH))
        given = request.headers.get("authorization", "")
        if settings.api_key and protected:
            expected = f"Bearer {settings.api_key}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                metrics.errors.labels("invalid_api_key").inc()
                return _error(
                    401, "missing or wrong API key; send Authorization: Bearer <RAG_API_KEY>", code="invalid_api_key"
                )
        if protected:
            # Per key when there is one, else per client address.
            client = given or (request.client.host if request.client else "unknown")
            wait = limiter.retry_after(client)
            if wait:
                metrics.errors.labels("rate_limit_exceeded").inc()
                response = _error(
                    429,
                    f"rate limit of {settings.rate_limit} requests a minute reached; retry in {wait} s",
                    kind="rate_limit_error",
                    code="rate_limit_exceeded",
                )
                response.headers["Retry-After"] = str(wait)
                return response
        return await call_next(request)

    @app.middleware("http")
    async def trace(request: Request, call_next: Any) -> Any:
        """Outermost: a request id on every response, one JSON log line and a count per request."""
        rid = request_id(request.headers.get(REQUEST_ID_HEADER))
        started = time.perf_counter()
        response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = rid
        path = request.url.path if request.url.path in _KNOWN_PATHS else "other"
        metrics.requests.labels(path, str(response.status_code)).inc()
        client = request.client.host if request.client else None
        log_request(rid, request.method, request.url.path, response.status_code, time.perf_counter() - started, client)
        return response

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        problem = await run_in_threadpool(_not_ready, settings, warm)
        if problem:
            return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics_page() -> Response:
        await run_in_threadpool(_index_figures, settings, metrics)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card()]}

    @app.get("/v1/models/{model}")
    async def model(model: str) -> dict[str, Any]:
        if model != MODEL_ID:
            raise ApiError(404, f"the model {model!r} does not exist; use {MODEL_ID!r}", code="model_not_found")
        return _model_card()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        chat = await _read_request(request)
        question, history = _question_and_history(chat.messages)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())

        given = chat.filters.model_dump(exclude_none=True) if chat.filters else {}

        def run() -> Answer:
            started = time.perf_counter()
            result = answer_fn(question, history=history, settings=settings, **given)
            metrics.questions.labels("chat_completions").inc()
            metrics.latency.observe(time.perf_counter() - started)
            if result.refused:
                metrics.refusals.inc()
            return result

        if not chat.stream:
            result = await run_in_threadpool(_answered, run)
            text = result.text + (sources_footer(result) if chat.sources_footer else "")
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": MODEL_ID,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                **_extras(result),
            }

        def events() -> Iterator[str]:
            def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
                body = {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": MODEL_ID,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                    **extra,
                }
                return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

            yield chunk({"role": "assistant", "content": ""})
            try:
                result = _answered(run)
            except ApiError as exc:
                error = {"error": {"message": exc.message, "type": exc.kind, "param": None, "code": exc.code}}
                yield f"data: {json.dumps(error)}\n\n"
                return
            # The checked answer is what is streamed, piece by piece: an LLM's raw tokens could hold
            # sentences the check later flags, and a stream cannot take text back.
            pieces = split_after_markers(result.text)
            for n, piece in enumerate(pieces):
                yield chunk({"content": piece if n == 0 else " " + piece})
            if chat.sources_footer and result.citations:
                yield chunk({"content": sources_footer(result)})
            yield chunk({}, "stop", **_extras(result))
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


_KNOWN_PATHS = frozenset({"/v1/chat/completions", "/v1/models", "/healthz", "/readyz", "/metrics"})
"""Paths counted by name in the request metrics; any other counts as "other" (ids would explode the labels)."""


def _not_ready(settings: Settings, warm: threading.Event) -> str | None:
    """Why the server cannot answer yet, or None."""
    from rag.store import open_store

    try:
        if open_store(settings).records.counts()[1] == 0:
            return "nothing is indexed; run `rag ingest`"
    except RagError as exc:
        return str(exc)
    if not warm.is_set():
        return "the models are still loading"
    return None


def _index_figures(settings: Settings, metrics: Metrics) -> None:
    """Read the index's size and ingest counters from the records (another process may ingest)."""
    from rag.records import open_records

    try:
        records = open_records(settings)
        articles, chunks = records.counts()
        metrics.articles.set(articles)
        metrics.chunks.set(chunks)
        metrics.ingest_runs.set(int(records.get_meta(INGEST_RUNS_KEY) or 0))
        metrics.chunks_embedded.set(int(records.get_meta(CHUNKS_EMBEDDED_KEY) or 0))
    except RagError as exc:
        log.warning("reading the index figures for /metrics failed: %s", exc)


def _message(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def _model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "newsrag"}


def _answered(run: Callable[[], Answer]) -> Answer:
    """Run the answerer; a user-fixable problem (no index, a bad setting) becomes a 503 with its message."""
    try:
        return run()
    except FilterError as exc:
        raise ApiError(400, str(exc), code="invalid_filters") from None
    except RagError as exc:
        raise ApiError(503, str(exc), kind="server_error", code="unavailable") from None


async def _read_request(request: Request) -> ChatRequest:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes", code="request_too_large")
    raw = bytearray()
    async for part in request.stream():
        raw += part
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes", code="request_too_large")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        chat = ChatRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ApiError(422, f"invalid request: {where}: {first['msg']}") from None
    if chat.model != MODEL_ID:
        raise ApiError(404, f"the model {chat.model!r} does not exist; use {MODEL_ID!r}", code="model_not_found")
    return chat


def _question_and_history(messages: list[Message]) -> tuple[str, list[dict[str, str]]]:
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise ApiError(400, "the last message must be the user's question")
    question = turns[-1].text()
    if not question.strip():
        raise ApiError(400, "the question (the last user message) is empty")
    return question, [{"role": m.role, "content": m.text()} for m in turns[:-1]]


def serve(settings: Settings, *, host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Serve the API with uvicorn until interrupted; with `workers` > 1, that many processes share
    the port and the index, each with its own models and its share of the cores."""
    import uvicorn

    options: dict[str, Any] = {
        "host": host or settings.ui_host,
        "port": port or settings.api_port,
        "log_level": "warning",
        # SIGTERM or Ctrl-C: stop taking requests, let answers in flight finish (up to this long).
        "timeout_graceful_shutdown": int(settings.llm_timeout) + 5,
    }
    if workers <= 1:
        uvicorn.run(_with_access_log(build_api(settings)), **options)
        return
    # Worker processes build their app from the environment: hand them this process's settings there.
    os.environ["RAG_MCP"] = "1" if settings.mcp else ""
    if not settings.threads:
        os.environ["RAG_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    uvicorn.run("rag.openai_api:app_from_env", factory=True, workers=workers, **options)


def app_from_env() -> FastAPI:
    """The API app of one `rag serve --workers N` process, configured from the environment."""
    return _with_access_log(build_api(Settings.from_env()))


def _with_access_log(app: FastAPI) -> FastAPI:
    """One JSON line per request on stderr (the `newsrag.access` logger)."""
    access = logging.getLogger("newsrag.access")
    access.setLevel(logging.INFO)
    if not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.propagate = False
    return app
