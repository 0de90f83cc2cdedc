"""The OpenAI-compatible chat API, served on 127.0.0.1 and called with the official `openai` client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from rag.config import Settings
from tests.conftest import SEED_ARTICLE, DevIndex, skip_or_fail
from tests.servers import free_port

KEY = "test-key-123"


@dataclass
class Api:
    base_url: str
    settings: Settings


def _start(settings: Settings) -> tuple[str, object, threading.Thread]:
    import uvicorn

    from rag.openai_api import build_api

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_api(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            skip_or_fail("the chat API server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/v1", server, thread


@pytest.fixture(scope="module")
def api(dev_index: DevIndex) -> Iterator[Api]:
    settings = dev_index.settings.with_overrides(api_key=KEY)
    url, server, thread = _start(settings)
    yield Api(url, settings)
    server.should_exit = True  # type: ignore[attr-defined]
    thread.join(timeout=10)


@pytest.fixture()
def client(api: Api) -> openai.OpenAI:
    return openai.OpenAI(base_url=api.base_url, api_key=KEY, max_retries=0)


def test_models_lists_newsrag(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["newsrag"]


def test_plain_completion_carries_markers_citations_and_a_footer(client: openai.OpenAI, dev_index: DevIndex) -> None:
    reply = client.chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": "Why did Krause resign?"}]
    )
    text = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop" and reply.object == "chat.completion"
    assert "[1]" in text and "stepping down" in text
    citations = reply.model_extra["citations"]
    assert citations and reply.model_extra["newsrag"]["refused"] is False
    for c in citations:
        assert dev_index.bodies[c["source"]][c["start"] : c["end"]] == c["quote"]
        assert f"[{c['number']}] {c['title']} ({c['source']})" in text
    assert "\n\nSources:\n[1] " in text
    bare = client.chat.completions.create(
        model="newsrag",
        messages=[{"role": "user", "content": "Why did Krause resign?"}],
        extra_body={"sources_footer": False},
    )
    assert "Sources:" not in bare.choices[0].message.content
    assert text.startswith(bare.choices[0].message.content)


def test_streamed_completion_sends_the_same_answer_in_chunks(client: openai.OpenAI) -> None:
    question = [{"role": "user", "content": "Why did Krause resign?"}]
    plain = client.chat.completions.create(model="newsrag", messages=question)
    stream = client.chat.completions.create(model="newsrag", messages=question, stream=True)
    chunks = list(stream)
    assert len(chunks) >= 3 and chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"] == plain.model_extra["citations"]


def test_history_makes_a_follow_up_answerable(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": "Why did Krause resign?"}]
    )
    follow = client.chat.completions.create(
        model="newsrag",
        messages=[
            {"role": "system", "content": "Answer from the articles."},
            {"role": "user", "content": "Why did Krause resign?"},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": [{"type": "text", "text": "Who criticized it?"}]},
        ],
    )
    assert follow.model_extra["newsrag"]["refused"] is False and follow.model_extra["citations"]


def test_refused_question_is_a_normal_reply(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": "What is the recipe for pancakes?"}]
    )
    assert reply.model_extra["newsrag"]["refused"] is True
    assert "do not cover" in reply.choices[0].message.content and "Sources:" not in reply.choices[0].message.content


def test_wrong_or_missing_key_is_401(api: Api) -> None:
    wrong = openai.OpenAI(base_url=api.base_url, api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.status_code == 401 and "API key" in caught.value.message
    assert httpx.get(f"{api.base_url}/models").status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"model": "newsrag", "messages": "hi"}', 422, "messages"),
        (b'{"model": "newsrag"}', 422, "messages"),
        (b'{"model": "newsrag", "messages": [{"role": "assistant", "content": "x"}]}', 400, "last message"),
        (b'{"model": "newsrag", "messages": [{"role": "user", "content": "  "}]}', 400, "empty"),
        (b'{"model": "gpt-9", "messages": [{"role": "user", "content": "Why?"}]}', 404, "does not exist"),
        (b"[1, 2]", 400, "JSON object"),
    ],
)
def test_bad_requests_get_openai_style_errors(api: Api, body: bytes, status: int, message: str) -> None:
    reply = httpx.post(
        f"{api.base_url}/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    assert reply.status_code == status
    error = reply.json()["error"]
    assert message in error["message"] and error["type"]
    assert "Traceback" not in reply.text


def test_oversized_body_is_413_and_unknown_route_404(api: Api) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    huge = b'{"model": "newsrag", "messages": [{"role": "user", "content": "' + b"x" * (2 << 20) + b'"}]}'
    reply = httpx.post(f"{api.base_url}/chat/completions", content=huge, headers=headers)
    assert reply.status_code == 413 and "larger than" in reply.json()["error"]["message"]
    missing = httpx.get(f"{api.base_url}/nothing-here", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_served_as_a_process_by_rag_serve(dev_index: DevIndex, tmp_path) -> None:
    """`rag serve` starts the API on the configured port; the seed question is answered over HTTP."""
    import os
    import subprocess
    import sys

    from tests.integration.test_cli import env_for
    from tests.servers import wait_for_http

    port = free_port()
    env = {**os.environ, **env_for(dev_index.settings), "RAG_API_PORT": str(port)}
    env.pop("RAG_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v1/models", proc, "rag serve")
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "newsrag", "messages": [{"role": "user", "content": "Why did Krause resign?"}]},
            timeout=120,
        )
        assert reply.status_code == 200
        assert reply.json()["citations"][0]["source"] == SEED_ARTICLE.name
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_mcp_tools_ask_and_search(dev_index: DevIndex) -> None:
    """With MCP on, an MCP client lists the two tools and calls both; the key guards them too."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    settings = dev_index.settings.with_overrides(api_key=KEY, mcp=True)
    base, server, thread = _start(settings)
    url = base.removesuffix("/v1") + "/mcp/"

    async def session_calls() -> tuple[list, dict, dict]:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with (
            httpx.AsyncClient(headers=headers, timeout=120) as http,
            streamable_http_client(url, http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = (await session.list_tools()).tools
            asked = await session.call_tool("ask", {"question": "Why did Krause resign?"})
            found = await session.call_tool("search", {"query": "IRS ICE data sharing", "k": 3})
            return tools, asked.structuredContent, found.structuredContent

    try:
        tools, asked, found = asyncio.run(session_calls())
        assert sorted(t.name for t in tools) == ["ask", "search"]
        described = {t.name: t.description for t in tools}
        assert "verbatim" in described["ask"] and "passages" in described["search"]
        assert asked["refused"] is False and "[1]" in asked["answer"]
        assert asked["citations"][0]["source"] == SEED_ARTICLE.name
        assert len(found["passages"]) == 3
        for p in found["passages"]:
            assert dev_index.bodies[p["source"]][p["start"] : p["end"]] == p["text"]
        assert httpx.post(url, json={}).status_code == 401
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=10)
