"""Embeddings on the OpenAI wire (``POST /embeddings``): OpenAI, Azure and every
compatible server. Pure.

OpenAI and Azure are asked for ``encoding_format: base64`` (the official SDK's
default too): each vector arrives as its float32 bytes and goes straight into an
``array('f')``. Compatible servers get the plain form (not all of them take
base64); both forms are read. Up to 2,048 inputs per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core.embeddings import vector_from_base64, vector_from_list
from ..._core.errors import InvalidRequestError
from ..._core.types import Request, Response, Usage
from .._common import embedding_items, token_count
from .dialect import Dialect

MAX_BATCH = 2048


def inputs_of(request: Request) -> list[str]:
    return [m.text for m in request.messages]


def encode_embeddings(request: Request, dialect: Dialect) -> dict[str, Any]:
    if request.task is not None:
        raise InvalidRequestError(
            f"task={request.task!r} is a Gemini and Vertex AI option; {dialect.provider} "
            "embedding models take no task, so leave it out",
            provider=dialect.provider,
            model=request.model,
        )
    body: dict[str, Any] = {"input": inputs_of(request)}
    if dialect.send_model:
        body["model"] = request.model
    if dialect.provider in ("openai", "azure", "openai-responses", "azure-responses"):
        body["encoding_format"] = "base64"
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    body.update(request.extra)
    return body


def decode_embeddings(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> Response:
    where = {"provider": dialect.provider, "model": request.model}
    data, items = embedding_items(
        body, "data", inputs=len(request.messages), status=status, **where
    )
    ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
    vectors = tuple(
        vector_from_base64(e, **where) if isinstance(e, str) else vector_from_list(e, **where)
        for e in (item.get("embedding") for item in ordered)
    )
    found = data.get("usage")
    usage: dict[str, Any] = found if isinstance(found, dict) else {}
    prompt = token_count(usage, "prompt_tokens", **where)
    return Response(
        usage=Usage(
            prompt_tokens=prompt, total_tokens=token_count(usage, "total_tokens", **where) or prompt
        ),
        model=str(data.get("model") or request.model),
        provider=dialect.provider,
        request_id=headers.get("x-request-id"),
        embeddings=vectors,
    )
