"""What the response cache stores, and under which key.

The key is a SHA-256 of the normalised request: provider, model, messages,
tools and every parameter that changes the output, serialised canonically
(sorted keys, numbers as floats, text parts joined), so equal requests written
differently share an entry; ``user`` and ``stream`` are left out (a stream is
served from a cached complete response as a replayed stream). Only complete,
successful responses are stored: never errors, cut streams, or filtered
output. An entry that does not decode (corrupt, or from another format
version) is a miss, never an exception.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .._core.embeddings import vector_from_base64, vector_to_base64
from .._core.errors import InvalidResponseError
from .._core.parts import part_dict, part_from_dict
from .._core.types import Request, Response, TextPart, ToolCall, Usage, Vector

FORMAT = 1

_STORABLE = frozenset({"stop", "tool_calls", "length"})


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def cache_key(request: Request) -> str:
    """SHA-256 of the request's output-relevant content, written canonically."""
    messages = []
    for m in request.messages:
        text_only = all(isinstance(p, TextPart) and not p.citations for p in m.content)
        content: Any = m.text if text_only else m.to_dict()["content"]
        messages.append(
            {
                "role": m.role,
                "content": content,
                "tool_calls": [c.to_dict() for c in m.tool_calls],
                "tool_call_id": m.tool_call_id,
                "name": m.name,
                "is_error": m.is_error,
            }
        )
    body = {
        "provider": request.provider,
        "model": request.model,
        "messages": messages,
        "tools": [t.to_dict() for t in request.tools],
        "tool_choice": request.tool_choice,
        "temperature": _number(request.temperature),
        "top_p": _number(request.top_p),
        "max_tokens": request.max_tokens,
        "stop": request.stop,
        "seed": request.seed,
        "response_format": request.response_format,
        "extra": request.extra,
        # Left out when unset, so entries written before these options existed still hit.
        **({"reasoning_effort": request.reasoning_effort} if request.reasoning_effort else {}),
        **(
            {"server_tools": [t.to_dict() for t in request.server_tools]}
            if request.server_tools
            else {}
        ),
        **({"thinking_budget": request.thinking_budget} if request.thinking_budget else {}),
        **({"reasoning_summary": request.reasoning_summary} if request.reasoning_summary else {}),
        **(
            {"embed": True, "dimensions": request.dimensions, "task": request.task}
            if request.embed
            else {}
        ),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def storable(response: Response) -> bool:
    return response.finish_reason in _STORABLE and not response.cached


def encode(response: Response) -> bytes:
    usage = response.usage.to_dict()
    return json.dumps(
        {
            "format": FORMAT,
            "text": response.text,
            "finish_reason": response.finish_reason,
            "tool_calls": [c.to_dict() for c in response.tool_calls],
            "usage": usage,
            "model": response.model,
            "provider": response.provider,
            "request_id": response.request_id,
            "reasoning": response.reasoning,
            "parts": [part_dict(p) for p in response.parts],
            "refusal": response.refusal,
            "stop_sequence": response.stop_sequence,
            **(
                {"embeddings": [vector_to_base64(v) for v in response.embeddings]}
                if response.embeddings
                else {}
            ),
        },
        separators=(",", ":"),
    ).encode()


def decode(data: bytes) -> Response | None:
    """The cached Response, or None if the entry is corrupt or of another format."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            return None
        if not isinstance(raw.get("text"), str):  # a null or missing text is corrupt
            return None
        return Response(
            text=raw["text"],
            finish_reason=raw["finish_reason"],
            tool_calls=[ToolCall(**c) for c in raw["tool_calls"]],
            usage=Usage(**raw["usage"]),
            model=str(raw["model"]),
            provider=str(raw["provider"]),
            request_id=raw.get("request_id"),
            reasoning=str(raw.get("reasoning") or ""),
            cached=True,
            # Entries written before parts were kept have none: the message is then
            # built from the text, as it was.
            parts=tuple(part_from_dict(p) for p in raw.get("parts") or ()),
            refusal=str(raw.get("refusal") or ""),
            stop_sequence=raw.get("stop_sequence"),
            embeddings=tuple(_vector(v) for v in raw.get("embeddings") or ()),
        )
    except (ValueError, TypeError, KeyError):
        return None


def _vector(data: str) -> Vector:
    """A stored vector; a damaged one makes the entry a miss (ValueError)."""
    try:
        return vector_from_base64(data, provider="the cache", model="")
    except InvalidResponseError as exc:
        raise ValueError(exc.message) from None
