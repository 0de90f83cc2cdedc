"""newsrag as LangChain components: a retriever and an answer chain to compose in LCEL pipelines.

from rag.langchain import NewsRetriever, NewsAnswerChain

docs = NewsRetriever(k=4).invoke("Krause resignation")       # list[Document]
docs = NewsRetriever(since="2026-03-01", outlets=["Harbour Gazette"]).invoke("ferry strike")
result = NewsAnswerChain().invoke("Why did Krause resign?")   # the checked Answer
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict

from rag.api import answer, answer_stream, search
from rag.config import Settings
from rag.models import Answer, SourcePassage

__all__ = ["NewsAnswerChain", "NewsRetriever", "passage_document"]


def passage_document(passage: SourcePassage) -> Document:
    """A retrieved passage as a LangChain Document: the verbatim text, and where it comes from."""
    metadata: dict[str, Any] = {
        "source": passage.source,
        "title": passage.title,
        "start": passage.start,
        "end": passage.end,
        "score": round(passage.score, 4),
    }
    for key in ("outlet", "published", "url"):
        value = getattr(passage, key)
        if value:
            metadata[key] = value
    return Document(page_content=passage.text, metadata=metadata)


class NewsRetriever(BaseRetriever):
    """newsrag's hybrid retrieval (dense + BM25, fused, one copy of each story, diverse) over the index."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    k: int = 4
    """Passages to return."""
    settings: Settings | None = None
    """Where the index is; None reads the environment, as `rag` does."""
    since: str | None = None
    """Only articles published on or after this day (YYYY-MM-DD)."""
    until: str | None = None
    """Only articles published on or before this day (YYYY-MM-DD)."""
    outlets: list[str] | None = None
    """Only articles of these outlets."""

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        found = search(
            query, k=self.k, settings=self.settings, since=self.since, until=self.until, outlets=self.outlets
        )
        return [passage_document(p) for p in found]


def _question_and_history(value: Any) -> tuple[str, Any]:
    """A question string, or a mapping with "question" (and optional "history")."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict) and isinstance(value.get("question"), str):
        return value["question"], value.get("history")
    raise TypeError('NewsAnswerChain takes a question string or {"question": str, "history": [...]}')


class NewsAnswerChain(Runnable[Any, Any]):
    """The answer chain: a question in, the checked `Answer` (or its dict, with `as_dict=True`) out.

    `stream()` yields the answer's text as it is produced (str pieces), then the checked `Answer`,
    which may differ from the pieces (unsupported sentences flagged, or the extractive fallback).
    `batch()` and `ainvoke()` come from `Runnable`; answers run in threads.
    """

    def __init__(self, settings: Settings | None = None, *, k: int | None = None, as_dict: bool = False) -> None:
        self.settings = settings
        self.k = k
        self.as_dict = as_dict

    def _output(self, result: Answer) -> Answer | dict[str, Any]:
        return result.to_dict() if self.as_dict else result

    def _answer(self, value: Any) -> Answer | dict[str, Any]:
        question, history = _question_and_history(value)
        return self._output(answer(question, history=history, settings=self.settings, k=self.k))

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call_with_config(self._answer, input, config)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        question, history = _question_and_history(input)
        for item in answer_stream(question, history=history, settings=self.settings, k=self.k):
            yield self._output(item) if isinstance(item, Answer) else item
