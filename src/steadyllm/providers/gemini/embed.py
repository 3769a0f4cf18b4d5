"""Embeddings on Google's wires. Pure.

The Gemini API takes ``POST .../models/{MODEL}:batchEmbedContents`` with one
``EmbedContentRequest`` per input (at most 100) and answers ``{"embeddings":
[{"values": [...]}]}`` with no token counts, so the call is booked at an
estimate of its input. Vertex AI takes ``:predict`` with ``instances`` (at most
250; ``gemini-embedding-001`` takes one per request) and reports each input's
``statistics.token_count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core.embeddings import vector_from_list
from ..._core.types import Request, Response, Usage
from .._common import embedding_items, token_count
from .dialect import Dialect

GEMINI_MAX_BATCH = 100
VERTEX_MAX_BATCH = 250


def max_batch(provider: str, model: str) -> int:
    """The most inputs one request may carry for ``model``."""
    if provider != "vertex":
        return GEMINI_MAX_BATCH
    return 1 if model.startswith("gemini-embedding") else VERTEX_MAX_BATCH


def encode_embeddings(request: Request, dialect: Dialect) -> dict[str, Any]:
    texts = [m.text for m in request.messages]
    task = request.task.upper() if request.task else None
    if dialect.provider == "vertex":
        instance = {"task_type": task} if task else {}
        body: dict[str, Any] = {"instances": [{"content": t, **instance} for t in texts]}
        if request.dimensions is not None:
            body["parameters"] = {"outputDimensionality": request.dimensions}
    else:
        model = "models/" + request.model.removeprefix("models/")
        each: dict[str, Any] = {"model": model}
        if request.dimensions is not None:
            each["outputDimensionality"] = request.dimensions
        if task:
            each["taskType"] = task
        body = {"requests": [{"content": {"parts": [{"text": t}]}, **each} for t in texts]}
    body.update(request.extra)
    return body


def decode_embeddings(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> Response:
    where = {"provider": dialect.provider, "model": request.model}
    vertex = dialect.provider == "vertex"
    key = "predictions" if vertex else "embeddings"
    _, items = embedding_items(body, key, inputs=len(request.messages), status=status, **where)
    prompt = 0
    vectors = []
    for item in items:
        embedding = item["embeddings"] if vertex else item
        vectors.append(vector_from_list(embedding.get("values"), **where))
        if vertex:
            prompt += token_count(embedding.get("statistics") or {}, "token_count", **where)
    return Response(
        usage=Usage(prompt_tokens=prompt),
        model=request.model,
        provider=dialect.provider,
        embeddings=tuple(vectors),
    )
