"""Embeddings as the emulator serves them: OpenAI's ``/v1/embeddings`` (and
Azure's and every vendor's route), the Gemini API's ``:batchEmbedContents`` and
Vertex AI's ``:predict``, with the input rules the real APIs enforce (no empty
input, at most 2,048 inputs for OpenAI, 100 for Gemini, 250 for Vertex and one
for ``gemini-embedding-001`` there; ``dimensions`` only where a model can
shorten its vectors). Each input's vector is ``fake_vector`` of its text: the
same text gives the same vector, as a real model does, and scripted faults,
latency and rate limits apply as for chat.
"""

from __future__ import annotations

import uuid
from array import array
from typing import TYPE_CHECKING, Any

from .._core.embeddings import vector_to_base64
from ..providers.fake import fake_vector
from ._behavior import Behavior
from ._gemini import GeminiHandler
from ._reply import Reply
from ._server import Handler

if TYPE_CHECKING:
    from aiohttp import web

    from ._state import EmulatorState

#: The full size of the embedding models the emulator knows; others get 256.
SIZES = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "text-embedding-004": 768,
    "text-embedding-005": 768,
}
#: Models that cannot shorten their vectors (``dimensions`` is refused).
FIXED = ("text-embedding-ada-002",)


def _tokens(text: str) -> int:
    return -(-len(text) // 4)


def _vectors(texts: list[str], model: str, dimensions: Any) -> list[list[float]]:
    size = dimensions if isinstance(dimensions, int) else SIZES.get(model, 256)
    return [fake_vector(text, size).tolist() for text in texts]


def embedding_reply(texts: list[str], model: str, dimensions: Any) -> Reply:
    tokens = [_tokens(t) for t in texts]
    return Reply(
        text="",
        tool_calls=[],
        finish="stop",
        prompt_tokens=sum(tokens),
        completion_tokens=0,
        cached_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=0,
        model=model,
        id=uuid.uuid4().hex[:22],
        embeddings=_vectors(texts, model, dimensions),
        input_tokens=tokens,
    )


def embeddings_body(api: str, reply: Reply) -> dict[str, Any]:
    """The reply body of each API."""
    if api == "gemini":
        return {"embeddings": [{"values": v} for v in reply.embeddings]}
    if api == "vertex":
        predictions = [
            {"embeddings": {"values": v, "statistics": {"token_count": n, "truncated": False}}}
            for v, n in zip(reply.embeddings, reply.input_tokens, strict=True)
        ]
        return {"predictions": predictions, "metadata": {"billableCharacterCount": 0}}
    data = [
        {"object": "embedding", "index": i, "embedding": _encoded(v, reply.base64)}
        for i, v in enumerate(reply.embeddings)
    ]
    usage = {"prompt_tokens": reply.prompt_tokens, "total_tokens": reply.prompt_tokens}
    return {"object": "list", "data": data, "model": reply.model, "usage": usage}


def _encoded(vector: list[float], as_base64: bool) -> Any:
    return vector_to_base64(array("f", vector)) if as_base64 else vector


def _openai_inputs(body: dict[str, Any]) -> list[str] | str:
    """The inputs of an OpenAI embeddings body, or what is wrong with them."""
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        return "'input' is a required property and must be a string or a non-empty array"
    if len(texts) > 2048:
        return f"'input' must have at most 2048 items, got {len(texts)}"
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text:
            return f"'$.input' is invalid: item {i} must be a non-empty string"
    return texts


class OpenAIEmbeddings(Handler):
    """``POST /v1/embeddings`` for OpenAI, Azure (both routes) and the vendors."""

    def payload(self, reply: Reply) -> Any:
        return embeddings_body(self.api, reply)

    def streaming(self, request: web.Request, body: dict[str, Any]) -> bool:
        return False

    def body_problem(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        texts = _openai_inputs(body)
        if isinstance(texts, str):
            return self.error(400, None, texts)
        model = self.model_of(request, body)
        if "dimensions" in body and model.startswith(FIXED):
            return self.error(400, None, "This model does not support specifying dimensions.")
        if body.get("encoding_format", "float") not in ("float", "base64"):
            return self.error(400, None, "'encoding_format' must be 'float' or 'base64'")
        return None

    def reply(self, body: dict[str, Any], behavior: Behavior, model: str = "") -> Reply:
        texts = _openai_inputs(body)
        assert isinstance(texts, list)  # checked in body_problem
        reply = embedding_reply(texts, str(body.get("model") or model), body.get("dimensions"))
        reply.base64 = body.get("encoding_format") == "base64"
        return reply


def _google_texts(items: list[Any], api: str) -> list[str] | str:
    texts = []
    for i, item in enumerate(items):
        if api == "vertex":
            text = item.get("content") if isinstance(item, dict) else None
        else:
            parts = (
                ((item.get("content") or {}).get("parts") or []) if isinstance(item, dict) else []
            )
            text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        if not isinstance(text, str) or not text:
            where = "instances" if api == "vertex" else "requests"
            return f"* {where}[{i}]: the text content is empty."
        texts.append(text)
    return texts if texts else "no inputs"


class GoogleEmbeddings(GeminiHandler):
    """``:batchEmbedContents`` (Gemini API) and ``:predict`` (Vertex AI)."""

    def __init__(self, api: str, state: EmulatorState) -> None:
        super().__init__(api, state)
        self.methods = (":predict",) if api == "vertex" else (":batchEmbedContents",)

    def payload(self, reply: Reply) -> Any:
        return embeddings_body(self.api, reply)

    def streaming(self, request: web.Request, body: dict[str, Any]) -> bool:
        return False

    def _items(self, body: dict[str, Any]) -> list[Any]:
        items = body.get("instances" if self.api == "vertex" else "requests")
        return items if isinstance(items, list) else []

    def body_problem(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        items, model = self._items(body), self.model_of(request, body)
        limit = 100 if self.api == "gemini" else (1 if model.startswith("gemini-") else 250)
        if not items:
            return self.error(400, None, "* requests: the list of inputs is empty.")
        if len(items) > limit:
            return self.error(
                400, None, f"* at most {limit} inputs can be in one request, got {len(items)}."
            )
        if self.api == "gemini":
            for i, item in enumerate(items):
                if isinstance(item, dict) and item.get("model") != f"models/{model}":
                    return self.error(
                        400, None, f"* requests[{i}].model must match the model of the batch."
                    )
        texts = _google_texts(items, self.api)
        return self.error(400, None, texts) if isinstance(texts, str) else None

    def reply(self, body: dict[str, Any], behavior: Behavior, model: str = "") -> Reply:
        items = self._items(body)
        texts = _google_texts(items, self.api)
        assert isinstance(texts, list)  # checked in body_problem
        if self.api == "vertex":
            size = (body.get("parameters") or {}).get("outputDimensionality")
        else:
            size = items[0].get("outputDimensionality")
        return embedding_reply(texts, model, size)
