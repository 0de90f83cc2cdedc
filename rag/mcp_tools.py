"""MCP tools over the index, for agents and IDEs: `ask` (an answer with citations) and `search` (passages).

Served by `rag serve --mcp` at /mcp/ (streamable HTTP), beside the OpenAI-compatible API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from rag.api import answer
from rag.api import search as find_passages
from rag.config import Settings
from rag.errors import ConfigError

if TYPE_CHECKING:
    from mcp.server.fastmcp import FastMCP

MAX_SEARCH_RESULTS = 20


def news_tools(settings: Settings) -> FastMCP:
    """A FastMCP server with the two tools; its streamable-HTTP app answers at its root path."""
    try:
        from mcp.server.fastmcp import FastMCP
    except ImportError:
        raise ConfigError("MCP tools need the mcp package: pip install 'newsrag[mcp]'") from None

    server = FastMCP(
        "newsrag",
        instructions=(
            "Answers questions from a local archive of news articles, quoting the articles verbatim. "
            "Use `ask` for a direct answer with citations and `search` to read the passages yourself."
        ),
        host=settings.ui_host,
        streamable_http_path="/",
        stateless_http=True,
        json_response=True,
    )

    @server.tool()
    async def ask(question: str) -> dict[str, Any]:
        """Answer a question from the indexed news articles, citing them verbatim.

        Args:
            question: A question in plain English, e.g. "Why did Krause resign?".

        Returns the answer text, in which [n] refers to citations[n-1]; each citation has the quoted
        sentence, the article's file (source), title and the quote's character offsets. When the
        articles do not answer the question, `refused` is true and the text says so: do not guess an
        answer then. Such a refusal may still quote, with citations, what the articles report on the
        story; those quotes do not answer the question. `passages` are the retrieved passages the
        answer drew on.
        """
        result = await anyio.to_thread.run_sync(lambda: answer(question, settings=settings))
        return result.to_dict()

    @server.tool()
    async def search(query: str, k: int = 5) -> dict[str, Any]:
        """Find the passages of the indexed news articles most relevant to a query.

        Args:
            query: Words or a question, e.g. "IRS ICE data-sharing".
            k: How many passages to return (1-20, default 5).

        Returns `passages`, best first: each has the verbatim text, the article's file (source),
        title, the text's character offsets in the article and a similarity score. One copy of each
        story is returned when the archive holds near-duplicates.
        """
        k = max(1, min(MAX_SEARCH_RESULTS, k))
        found = await anyio.to_thread.run_sync(lambda: find_passages(query, k=k, settings=settings))
        return {"passages": [p.to_dict() for p in found]}

    return server
