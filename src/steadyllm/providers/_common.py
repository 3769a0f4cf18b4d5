"""Helpers every codec uses to turn a bad or unexpected body into a clear error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import _json
from .._errors import InvalidResponseError, LLMError
from .._headers import retry_after_seconds, should_retry
from .._redact import redact

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
