"""``generateContent`` replies and Google API errors -> Response and LLMError. Pure.

Candidate 0's parts, in order: text (adjacent pieces joined, as a stream sends
them), thought summaries (``thought: true``: a ``ThinkingPart`` whose ``item``
is the Gemini part, signature included, sent back verbatim), function calls
(client tool calls; a call without an id gets one of steadyllm's, never sent
back; its ``thoughtSignature`` rides on the ``ToolCall``), and the parts of
tools Gemini runs itself (``executableCode``, ``codeExecutionResult``) as
``ServerToolPart``s. Errors are Google's ``{"error": {"code", "status",
"details"}}``, classified by ``status`` and the ``details`` (``ErrorInfo``
reasons, ``RetryInfo.retryDelay`` as the retry hint).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._core import fastjson as _json
from ..._core.errors import (
    AuthenticationError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    InvalidResponseError,
    LLMError,
    LLMTimeoutError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from ..._core.parts import Part, ServerToolPart, TextPart, ThinkingPart
from ..._core.redact import redact
from ..._core.types import FinishReason, Request, Response, ToolCall, Usage
from ..._core.usage import ContentFilterResult
from ..._http.headers import retry_after_seconds
from .._common import obey_should_retry, parse_json, snippet, text_of, token_count, unparsed_error
from .dialect import Dialect
from .encode import LOCAL_ID

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
    "LANGUAGE": "error",
    "NO_IMAGE": "stop",
    "OTHER": "unknown",
    "FINISH_REASON_UNSPECIFIED": "unknown",
}
_STATUS: dict[str, type[LLMError]] = {
    "INVALID_ARGUMENT": InvalidRequestError,
    "FAILED_PRECONDITION": InvalidRequestError,
    "OUT_OF_RANGE": InvalidRequestError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "UNAVAILABLE": OverloadedError,
    "INTERNAL": ServerError,
    "UNKNOWN": ServerError,
    "ABORTED": ServerError,
    "CANCELLED": ServerError,
    "DEADLINE_EXCEEDED": LLMTimeoutError,
}
#: An error with no ``status`` word: by its HTTP status.
_BY_STATUS: dict[int | None, type[LLMError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    503: OverloadedError,
    504: LLMTimeoutError,
}
_HINTS = {
    "authentication": "check {key}",
    "permission": "this key or project has no access to the model",
    "not_found": "check the model name (see models.list)",
    "context_length": "shorten the prompt or lower max_tokens",
}


@dataclass(slots=True)
class Reading:
    """What candidate parts add up to, in order; fed part by part (a stream's
    chunks, or a whole reply)."""

    parts: list[Part] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)

    def add(self, raw: Any, where: Mapping[str, str]) -> list[Any]:
        """One Gemini part; returns what it added: ("text" | "thought", piece) or a call."""
        if not isinstance(raw, dict):
            raise TypeError(f"a content part is not an object: {raw!r:.60}")
        if "functionCall" in raw:
            call = self._call(raw)
            self.calls.append(call)
            return [call]
        if "text" in raw:
            piece = text_of(raw.get("text"), "a text part", **where)
            if raw.get("thought"):
                self._thought(piece, raw.get("thoughtSignature"))
                self.reasoning.append(piece)
                return [("thought", piece)]
            last = self.parts[-1] if self.parts else None
            if isinstance(last, TextPart):
                self.parts[-1] = TextPart(last.text + piece)
            elif piece:
                self.parts.append(TextPart(piece))
            self.text.append(piece)
            return [("text", piece)]
        kind = next(iter(raw), "")  # executableCode, codeExecutionResult, inlineData, ...
        self.parts.append(ServerToolPart(kind, "", None, dict(raw), "gemini"))
        return []

    def _call(self, raw: dict[str, Any]) -> ToolCall:
        function = raw["functionCall"]
        if not isinstance(function, dict):
            raise TypeError(f"a functionCall is not an object: {function!r:.60}")
        ident = function.get("id")
        args = function.get("args")
        return ToolCall(
            ident if isinstance(ident, str) and ident else f"{LOCAL_ID}{len(self.calls)}",
            str(function.get("name") or ""),
            json.dumps(args if isinstance(args, dict) else {}),
            raw.get("thoughtSignature") if isinstance(raw.get("thoughtSignature"), str) else None,
        )

    def _thought(self, piece: str, signature: Any) -> None:
        last = self.parts[-1] if self.parts else None
        if isinstance(last, ThinkingPart) and last.item and "gemini" in last.item:
            previous = last.item["gemini"]
            joined = {**previous, "text": previous.get("text", "") + piece}
            if isinstance(signature, str):
                joined["thoughtSignature"] = signature
            self.parts[-1] = ThinkingPart(last.text + piece, item={"gemini": joined})
            return
        raw: dict[str, Any] = {"text": piece, "thought": True}
        if isinstance(signature, str):
            raw["thoughtSignature"] = signature
        self.parts.append(ThinkingPart(piece, item={"gemini": raw}))

    def reply_parts(self) -> tuple[Part, ...]:
        """The parts to keep: none when the reply is plain text (the message is built
        from the text), else all of them in order."""
        if all(isinstance(p, TextPart) for p in self.parts):
            return ()
        return tuple(self.parts)


def finish_of(raw: Any, called: bool) -> FinishReason:
    finish = _FINISH.get(str(raw), "unknown") if raw is not None else "unknown"
    return "tool_calls" if finish == "stop" and called else finish


def ratings(raw: Any, source: Any) -> tuple[ContentFilterResult, ...]:
    """Safety ratings as content filter results (``blocked`` is what filtered)."""
    out = []
    for rating in raw or ():
        if isinstance(rating, dict) and isinstance(rating.get("category"), str):
            probability = rating.get("probability")
            out.append(
                ContentFilterResult(
                    source,
                    rating["category"],
                    bool(rating.get("blocked")),
                    probability.lower() if isinstance(probability, str) else None,
                )
            )
    return tuple(out)


def usage_from(data: Any, where: Mapping[str, str]) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt = token_count(data, "promptTokenCount", **where)
    prompt += token_count(data, "toolUsePromptTokenCount", **where)
    thoughts = token_count(data, "thoughtsTokenCount", **where)
    completion = token_count(data, "candidatesTokenCount", **where) + thoughts
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=token_count(data, "totalTokenCount", **where) or prompt + completion,
        cached_tokens=token_count(data, "cachedContentTokenCount", **where),
        reasoning_tokens=thoughts,
        audio_prompt_tokens=_modality(data, "promptTokensDetails", where),
        audio_completion_tokens=_modality(data, "candidatesTokensDetails", where),
        cached_audio_tokens=_modality(data, "cacheTokensDetails", where),
    )


def _modality(data: dict[str, Any], key: str, where: Mapping[str, str]) -> int:
    """The audio tokens of a ``[{"modality": "AUDIO", "tokenCount": N}, ...]`` list."""
    details = data.get(key)
    if not isinstance(details, list):
        return 0
    return sum(
        token_count(item, "tokenCount", **where)
        for item in details
        if isinstance(item, dict) and item.get("modality") == "AUDIO"
    )


def candidate_of(data: Any, dialect: Dialect, model: str) -> dict[str, Any] | None:
    """Candidate 0 of a reply (or a stream chunk); a blocked prompt is raised; an
    in-band error too. None when the chunk has no candidate (usage only)."""
    if not isinstance(data, dict):
        raise TypeError(f"a reply is not an object: {data!r:.60}")
    if isinstance(data.get("error"), dict):
        raise error_from(None, {}, data, dialect, model)
    candidates = data.get("candidates")
    if not candidates:
        feedback = data.get("promptFeedback")
        reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
        if reason:
            raise ContentFilterError(
                f"{dialect.provider} blocked the prompt ({reason})",
                provider=dialect.provider,
                model=model,
                body={"promptFeedback": feedback},
            )
        return None
    candidate = candidates[0]
    if not isinstance(candidate, dict):
        raise TypeError(f"a candidate is not an object: {candidate!r:.60}")
    return candidate


def decode_response(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> Response:
    data = parse_json(body, provider=dialect.provider, model=request.model, status=status)
    where = {"provider": dialect.provider, "model": request.model}
    candidate = candidate_of(data, dialect, request.model)
    if candidate is None:
        raise InvalidResponseError(
            f"{dialect.provider} sent a reply with no candidates: {snippet(body)}",
            status=status,
            provider=dialect.provider,
            model=request.model,
        )
    reading = Reading()
    content = candidate.get("content") or {}
    for raw in content.get("parts") or () if isinstance(content, dict) else ():
        reading.add(raw, where)
    feedback = data.get("promptFeedback") if isinstance(data.get("promptFeedback"), dict) else {}
    return Response(
        text="".join(reading.text),
        finish_reason=finish_of(candidate.get("finishReason"), bool(reading.calls)),
        tool_calls=reading.calls,
        usage=usage_from(data.get("usageMetadata"), where) or Usage(),
        model=str(data.get("modelVersion") or request.model),
        provider=dialect.provider,
        request_id=headers.get("x-request-id") or _text(data.get("responseId")),
        response_id=_text(data.get("responseId")),
        reasoning="".join(reading.reasoning),
        raw=data,
        parts=reading.reply_parts(),
        content_filter=ratings(feedback.get("safetyRatings"), "prompt")
        + ratings(candidate.get("safetyRatings"), "completion"),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _retry_delay(details: Any) -> float | None:
    for detail in details or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = str(detail.get("retryDelay") or "")
            try:
                return float(delay.rstrip("s")) if delay.endswith("s") else None
            except ValueError:
                return None
    return None


def _reasons(details: Any) -> set[str]:
    return {
        str(d.get("reason"))
        for d in details or ()
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("ErrorInfo")
    }


def _classify(status: int | None, code: str, reasons: set[str], message: str) -> type[LLMError]:
    lowered = message.lower()
    if "API_KEY_INVALID" in reasons or "api key not valid" in lowered:
        return AuthenticationError
    if "exceeds the maximum number of tokens" in lowered or "input token count" in lowered:
        return ContextLengthError
    if code in _STATUS:
        return _STATUS[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status is None or status >= 500 else InvalidRequestError


def error_from(
    status: int | None, headers: Mapping[str, str], data: Any, dialect: Dialect, model: str
) -> LLMError:
    """Classify a Google API error body (or an error inside a 200 stream)."""
    if isinstance(data, list) and data:  # streamed error bodies come as a JSON array
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    err = err if isinstance(err, dict) else {}
    message = str(err.get("message") or "no message")
    code = str(err.get("status") or "")
    carried = err.get("code")
    if status is None and isinstance(carried, int) and 400 <= carried < 600:
        status = carried
    details = err.get("details")
    cls = _classify(status, code, _reasons(details), message)
    hint = _HINTS.get(cls.kind, "").format(key=dialect.key_variable)
    where = f"{dialect.provider} returned {status}" if status else f"{dialect.provider} error"
    error = cls(
        redact(f"{where}: {message}" + (f" ({hint})" if hint else "")),
        status=status,
        provider=dialect.provider,
        model=model,
        request_id=headers.get("x-request-id"),
        retry_after=retry_after_seconds(headers) or _retry_delay(details),
        body={"error": {"status": code or None, "reasons": sorted(_reasons(details))}},
    )
    return obey_should_retry(error, headers)


def decode_error(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> LLMError:
    try:
        data = _json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict | list) or not data:
        return unparsed_error(
            _classify(status, "", set(), ""),
            provider=dialect.provider,
            model=request.model,
            status=status,
            headers=headers,
            body=body,
            request_id_header="x-request-id",
        )
    return error_from(status, headers, data, dialect, request.model)
