"""A LangChain chat model over a GGUF file, run in-process by llama-cpp-python."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from rag.errors import ConfigError

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LlamaCppChat(BaseChatModel):
    """Chat completions from a local GGUF model; one model instance, one generation at a time."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    client: Any
    max_tokens: int = 256
    lock: Any = None

    @classmethod
    def load(cls, path: str, *, max_tokens: int) -> LlamaCppChat:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError("a GGUF answerer needs llama-cpp-python: pip install 'newsrag[local]'") from None
        client = Llama(model_path=path, n_ctx=4096, n_threads=2, verbose=False, seed=0)
        return cls(client=client, max_tokens=max_tokens, lock=threading.Lock())

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _messages(self, messages: list[BaseMessage]) -> list[dict[str, str]]:
        return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self.lock:
            out = self.client.create_chat_completion(
                messages=self._messages(messages), max_tokens=self.max_tokens, temperature=0, stop=stop
            )
        text = out["choices"][0]["message"]["content"] or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self.lock:
            for part in self.client.create_chat_completion(
                messages=self._messages(messages), max_tokens=self.max_tokens, temperature=0, stop=stop, stream=True
            ):
                delta = part["choices"][0]["delta"].get("content") or ""
                if delta:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk
