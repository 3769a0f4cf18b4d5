"""Helpers every codec uses to turn a bad or unexpected body into a clear error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._core import fastjson as _json
from .._core.errors import InvalidResponseError, LLMError
from .._core.redact import redact
from .._http.headers import retry_after_seconds, should_retry

_TAGS = re.compile(r"<[^>]*>")


def snippet(body: bytes, limit: int = 160) -> str:
    """A short, single-line, tag-free, redacted excerpt of a body for error messages."""
    text = " ".join(_TAGS.sub(" ", body.decode("utf-8", "replace")).split())
    if not text:
        return "(empty body)"
    return redact(text[:limit] + ("…" if len(text) > limit else ""))


def parse_json(body: bytes, *, provider: str, model: str, status: int) -> Any:
    try:
        return _json.loads(body)
    except ValueError:
        raise InvalidResponseError(
            f"{provider} sent a body that is not JSON (status {status}): {snippet(body)}",
            provider=provider,
            model=model,
            status=status,
        ) from None


def obey_should_retry(error: LLMError, headers: Mapping[str, str]) -> LLMError:
    """``x-should-retry`` overrides the status rule; exhausted quota is never retried."""
    verdict = should_retry(headers)
    if verdict is not None and error.kind != "quota_exceeded":
        error.retryable = verdict
    return error


def unparsed_error(
    cls: type[LLMError],
    *,
    provider: str,
    model: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    request_id_header: str,
) -> LLMError:
    """An error status whose body is not the provider's JSON (a proxy's HTML page, say)."""
    return obey_should_retry(
        cls(
            f"{provider} returned {status} with a non-JSON body (often a proxy or gateway): "
            f"{snippet(body)}",
            status=status,
            provider=provider,
            model=model,
            request_id=headers.get(request_id_header),
            retry_after=retry_after_seconds(headers),
        ),
        headers,
    )


#: More tokens than any model's context window and output together: a count beyond
#: this is a broken or hostile server, not a bill.
MAX_TOKENS_PER_CALL = 100_000_000


def token_count(data: Mapping[str, Any], key: str, *, provider: str, model: str) -> int:
    """A usage count from untrusted JSON: absent or null is 0; anything but a whole
    number from 0 to ``MAX_TOKENS_PER_CALL`` is an ``InvalidResponseError`` (a negative
    count must never credit a budget)."""
    value = data.get(key)
    if type(value) is int and 0 <= value <= MAX_TOKENS_PER_CALL:  # the usual case, at once
        return value
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidResponseError(
            f"{provider} reported usage {key}={value!r:.40}, which is not a whole number",
            provider=provider,
            model=model,
        )
    if not 0 <= value <= MAX_TOKENS_PER_CALL:
        raise InvalidResponseError(
            f"{provider} reported usage {key}={value}, outside 0..{MAX_TOKENS_PER_CALL:,}; "
            "the call is not booked at a count that cannot be true",
            provider=provider,
            model=model,
        )
    return value


def split_thinking(value: Any, *, provider: str, model: str) -> tuple[Any, str]:
    """Content that is a list of parts may carry the model's thinking as parts of its
    own (Mistral's Magistral: ``{"type": "thinking", "thinking": [{"type": "text",
    "text": ...}]}``): the content without them, and their text."""
    if not isinstance(value, list):
        return value, ""
    thoughts = [p for p in value if isinstance(p, dict) and p.get("type") == "thinking"]
    if not thoughts:
        return value, ""
    rest = [p for p in value if not (isinstance(p, dict) and p.get("type") == "thinking")]
    text = "".join(
        text_of(p.get("thinking"), "a thinking part", provider=provider, model=model)
        for p in thoughts
    )
    return rest, text


def text_of(value: Any, what: str, *, provider: str, model: str) -> str:
    """Text from untrusted JSON: a string, null, or a list of text parts (as some
    compatible servers send ``content``); any other shape is an ``InvalidResponseError``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        pieces = []
        for part in value:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                pieces.append(part["text"])
            elif isinstance(part, dict) and part.get("text") is None:
                continue  # a non-text part (an image, say): nothing to read
            else:
                break
        else:
            return "".join(pieces)
    raise InvalidResponseError(
        f"{provider} sent {what} as {type(value).__name__} where text was expected: "
        f"{snippet(repr(value).encode())}",
        provider=provider,
        model=model,
    )


def embedding_items(
    body: bytes, key: str, *, inputs: int, provider: str, model: str, status: int
) -> tuple[dict[str, Any], list[Any]]:
    """An embeddings reply parsed, and its list under ``key`` (one item per input), or
    an ``InvalidResponseError`` that says how many came for how many were sent."""
    data = parse_json(body, provider=provider, model=model, status=status)
    items = data.get(key) if isinstance(data, dict) else None
    if isinstance(items, list) and len(items) == inputs:
        return data, items
    got = len(items) if isinstance(items, list) else "no"
    raise InvalidResponseError(
        f"{provider} sent {got} embeddings for {inputs} inputs",
        provider=provider,
        model=model,
        status=status,
    )
