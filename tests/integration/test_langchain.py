"""The LangChain retriever and answer chain, composed with other runnables in real LCEL pipelines."""

from __future__ import annotations

import asyncio

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough

from rag.langchain import NewsAnswerChain, NewsRetriever
from rag.models import Answer
from tests.conftest import SEED_ARTICLE, DevIndex


def test_retriever_returns_verbatim_passages_with_their_provenance(dev_index: DevIndex) -> None:
    docs = NewsRetriever(k=3, settings=dev_index.settings).invoke("Why did Krause resign?")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    assert docs[0].metadata["source"] == SEED_ARTICLE.name
    for d in docs:
        m = d.metadata
        assert dev_index.bodies[m["source"]][m["start"] : m["end"]] == d.page_content
        assert m["title"] and isinstance(m["score"], float)
    assert NewsRetriever(settings=dev_index.settings).invoke("   ") == []


def test_retriever_in_an_lcel_pipeline(dev_index: DevIndex) -> None:
    def format_docs(docs: list[Document]) -> str:
        return "\n\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in docs)

    pipeline = RunnableParallel(
        context=NewsRetriever(k=2, settings=dev_index.settings) | RunnableLambda(format_docs),
        question=RunnablePassthrough(),
    ) | RunnableLambda(lambda x: f"Context:\n{x['context']}\n\nQuestion: {x['question']}")
    prompt = pipeline.invoke("Why did Krause resign?")
    assert prompt.startswith(f"Context:\n[{SEED_ARTICLE.name}]")
    assert prompt.endswith("Question: Why did Krause resign?")


def test_answer_chain_invoke_batch_ainvoke_and_composition(dev_index: DevIndex) -> None:
    chain = NewsAnswerChain(dev_index.settings)
    result = chain.invoke("Why did Krause resign?")
    assert isinstance(result, Answer) and not result.refused
    assert "stepping down" in result.text and result.citations

    quotes = (
        RunnableLambda(lambda q: {"question": q.strip()})
        | chain
        | RunnableLambda(lambda a: [c.quote for c in a.citations])
    )
    assert quotes.invoke("  Why did Krause resign?  ") == [c.quote for c in result.citations]

    batch = chain.batch(["Why did Krause resign?", "What is the recipe for pancakes?"])
    assert [a.refused for a in batch] == [False, True]
    again = asyncio.run(chain.ainvoke("Why did Krause resign?"))
    assert again.text == result.text

    as_dict = NewsAnswerChain(dev_index.settings, as_dict=True).invoke("Why did Krause resign?")
    assert as_dict["answer"] == result.text and as_dict["citations"][0]["quote"] == result.citations[0].quote


def test_answer_chain_streams_text_then_the_checked_answer(dev_index: DevIndex) -> None:
    pieces = list(NewsAnswerChain(dev_index.settings).stream("Why did Krause resign?"))
    *text, final = pieces
    assert text and all(isinstance(p, str) for p in text)
    assert isinstance(final, Answer)
    assert "".join(text).strip() == final.text


def test_answer_chain_takes_history_for_a_follow_up(dev_index: DevIndex) -> None:
    chain = NewsAnswerChain(dev_index.settings)
    first = chain.invoke("Why did Krause resign?")
    follow = chain.invoke({"question": "Who criticized it?", "history": [("Why did Krause resign?", first.text)]})
    assert not follow.refused and follow.citations
