"""newsrag: question answering over news articles, with verbatim citations."""

from rag.api import answer, answer_stream, search
from rag.models import Answer, Citation, SourcePassage

__all__ = ["Answer", "Citation", "SourcePassage", "answer", "answer_stream", "search"]
