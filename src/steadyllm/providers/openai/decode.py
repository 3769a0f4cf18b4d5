"""Chat Completions response and error bodies -> Response and LLMError
(spec/wire-protocols.md §1, §4). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from ..._core.parts import reply_parts
from ..._core.redact import redact
from ..._core.types import (
    FinishReason,
    Request,
    Response,
    ToolCall,
    Usage,
)
from ..._core.usage import content_filter_results, prompt_filter_results
from ..._http.headers import openai_rate_limit, retry_after_seconds
from .._common import (
    MAX_TOKENS_PER_CALL,
    obey_should_retry,
    parse_json,
    snippet,
    split_thinking,
    text_of,
    token_count,
    unparsed_error,
)
from .dialect import Dialect
from .extras import citations_of, details_text, logprobs_of, reasoning_item

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
}


_QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
        "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded",
        "billing_hard_limit_reached",
    }
)


def refused_finish(finish: FinishReason, refused: bool) -> FinishReason:
    """A reply that ended normally with a refusal finished by refusing (OpenAI says
    ``stop``); the same rule for a whole reply and a stream."""
    return "refusal" if refused and finish == "stop" else finish


def normalize_finish(value: Any) -> FinishReason:
    """Known reasons map to ours; any other string means "finished" (servers invent their own)."""
    return _FINISH.get(value, "stop") if isinstance(value, str) else "stop"


def usage_from(data: Any, provider: str = "openai", model: str = "") -> Usage | None:
    if not isinstance(data, dict):  # parsed JSON: an object is a dict
        return None
    prompt = data.get("prompt_tokens_details")
    completion = data.get("completion_tokens_details")
    prompt = prompt if isinstance(prompt, dict) else {}
    completion = completion if isinstance(completion, dict) else {}
    if "cached_tokens" in data and "cached_tokens" not in prompt:  # Together: top level
        prompt = {**prompt, "cached_tokens": data["cached_tokens"]}
    values = (
        data.get("prompt_tokens"),
        data.get("completion_tokens"),
        data.get("total_tokens"),
        prompt.get("cached_tokens"),
        prompt.get("cache_write_tokens"),
        completion.get("reasoning_tokens"),
        prompt.get("audio_tokens"),
        completion.get("audio_tokens"),
        completion.get("accepted_prediction_tokens"),
        completion.get("rejected_prediction_tokens"),
    )
    where = {"provider": provider, "model": model}
    for v in values:  # the usual case: all valid, checked in one pass
        if v is not None and (type(v) is not int or not 0 <= v <= MAX_TOKENS_PER_CALL):
            usage = _checked_usage(data, prompt, completion, where)
            break
    else:
        p, c, t, cached, write, reasoning, audio_in, audio_out, accepted, rejected = values
        usage = Usage(  # positional, in Usage's field order: the hot path
            p or 0,
            c or 0,
            t or 0,
            cached or 0,
            write or 0,
            reasoning or 0,
            None,
            0,
            0,
            audio_in or 0,
            audio_out or 0,
            accepted or 0,
            rejected or 0,
        )
    server = data.get("server_tool_use_details")  # OpenRouter's web search plugin
    if isinstance(server, dict) and server.get("web_search_requests") is not None:
        usage.web_search_requests = token_count(server, "web_search_requests", **where)
    return usage


def _checked_usage(
    data: dict[str, Any], prompt: dict[str, Any], completion: dict[str, Any], where: dict[str, str]
) -> Usage:
    return Usage(
        prompt_tokens=token_count(data, "prompt_tokens", **where),
        completion_tokens=token_count(data, "completion_tokens", **where),
        total_tokens=token_count(data, "total_tokens", **where),
        cached_tokens=token_count(prompt, "cached_tokens", **where),
        cache_write_tokens=token_count(prompt, "cache_write_tokens", **where),
        reasoning_tokens=token_count(completion, "reasoning_tokens", **where),
        audio_prompt_tokens=token_count(prompt, "audio_tokens", **where),
        audio_completion_tokens=token_count(completion, "audio_tokens", **where),
        accepted_prediction_tokens=token_count(completion, "accepted_prediction_tokens", **where),
        rejected_prediction_tokens=token_count(completion, "rejected_prediction_tokens", **where),
    )


def decode_response(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> Response:
    data = parse_json(body, provider=dialect.provider, model=request.model, status=status)
    choice, message = _first_choice(request, status, headers, body, data, dialect)
    where = {"provider": dialect.provider, "model": request.model}
    text, thought = split_thinking(message.get("content"), **where)
    if type(text) is not str:  # null, or a list of parts (compatible servers); else an error
        text = text_of(text, "the message content", **where)
    finish = normalize_finish(choice.get("finish_reason"))
    refusal = text_of(message.get("refusal"), "a refusal", **where)
    finish = refused_finish(finish, bool(refusal))
    reasoning = (
        message.get("reasoning")
        or message.get("reasoning_content")
        or details_text(message.get("reasoning_details"))
        or thought
    )
    reasoning = (
        reasoning if type(reasoning) is str else text_of(reasoning, "the reasoning", **where)
    )
    citations = citations_of(message.get("annotations"), **where)
    calls = [
        ToolCall(
            str(c.get("id") or f"call_{i}"),
            str((c.get("function") or {}).get("name") or ""),
            _arguments_text((c.get("function") or {}).get("arguments")),
        )
        for i, c in enumerate(message.get("tool_calls") or ())
        if isinstance(c, dict)
    ]
    return Response(
        text=text,
        finish_reason=finish,
        tool_calls=calls,
        usage=usage_from(data.get("usage"), **where) or Usage(),
        model=str(data.get("model") or request.model),
        provider=dialect.provider,
        request_id=headers.get("x-request-id") or opt_text(data.get("id")),
        reasoning=reasoning,
        rate_limit=openai_rate_limit(headers),
        raw=data,
        parts=reply_parts(
            reasoning, text, citations, refusal, reasoning_item(message, dialect.provider)
        ),
        refusal=refusal,
        logprobs=logprobs_of(choice.get("logprobs"), **where),
        system_fingerprint=opt_text(data.get("system_fingerprint")),
        service_tier=opt_text(data.get("service_tier")),
        content_filter=prompt_filter_results(data.get("prompt_filter_results"))
        + content_filter_results(choice.get("content_filter_results"), "completion"),
    )


def _first_choice(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    data: Any,
    dialect: Dialect,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Choice 0 of a completion and its message, each checked to be an object; an
    error inside a 200 (OpenRouter puts one in the body or in the choice) is raised
    as the error its own code names."""

    def invalid(what: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"{dialect.provider} sent {what}: {snippet(body)}",
            provider=dialect.provider,
            model=request.model,
            status=status,
        )

    if not isinstance(data, dict):
        raise invalid("JSON that is not an object")
    if data.get("error"):
        raise error_from_body(None, headers, data, dialect, request.model)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise invalid("a completion with no choices")
    choice = choices[0]
    if choice.get("error"):
        raise error_from_body(None, headers, choice, dialect, request.model)
    message = choice.get("message") or {}
    if not isinstance(message, dict):
        raise invalid("a message that is not an object")
    return choice, message


def opt_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _arguments_text(value: Any) -> str:
    if value is None or value == "":
        return "{}"
    return value if isinstance(value, str) else json.dumps(value)


_HINTS = {
    "authentication": "check {key}",
    "permission": "this key has no access to the model or resource",
    "not_found": "check the model or deployment name",
    "quota_exceeded": "add credit or raise the spend limit; retrying will not help",
    "context_length": "shorten the prompt or lower max_tokens",
}


def message_text(value: Any) -> str:
    """An error message as text. Pydantic-validated servers (Mistral, FastAPI) send
    ``{"detail": [{"loc": ["body", "seed"], "msg": "Extra inputs are not permitted"}]}``
    in its place: each problem becomes ``body.seed: Extra inputs are not permitted``."""
    if isinstance(value, str) or value is None:
        return value or ""
    details = value.get("detail") if isinstance(value, dict) else value
    if isinstance(details, list) and details and all(isinstance(d, dict) for d in details):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc') or ())}: {d.get('msg') or d.get('type')}"
            for d in details
        )
    if isinstance(details, str):
        return details
    return json.dumps(value)


def error_from_body(
    status: int | None,
    headers: Mapping[str, str],
    data: Any,
    dialect: Dialect,
    model: str,
) -> LLMError:
    """Classify an error response (or an in-band error object) into an LLMError."""
    err: Any = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, str):  # Ollama's native {"error": "..."}
        err = {"message": err}
    if not isinstance(err, dict):
        err = data if isinstance(data, dict) and data.get("object") == "error" else {}
        if not err and isinstance(data, dict) and "detail" in data:  # FastAPI servers
            err = {"message": data["detail"]}
    message = message_text(err.get("message")) or "no message"
    code = err.get("code")
    kind_code = str(code) if code is not None else ""
    etype = str(err.get("type") or "")
    in_band = status is None
    if in_band:
        # An error inside a 200 stream names its status: Groq as ``status_code``,
        # vLLM and OpenRouter as an integer ``code``. Without one it counts as a 5xx.
        carried = err.get("status_code", code)
        if isinstance(carried, int) and not isinstance(carried, bool) and 400 <= carried < 600:
            status = carried
    cls = _classify(status, kind_code, etype, message)
    hint = _HINTS.get(cls.kind, "").format(key=dialect.key_variable)
    if not in_band:
        where = f"{dialect.provider} returned {status}"
    elif status:
        where = f"{dialect.provider} sent an error ({status}) inside a 200 response"
    else:
        where = f"{dialect.provider} sent an error"
    error = cls(
        redact(f"{where}: {message}" + (f" ({hint})" if hint else "")),
        status=status,
        provider=dialect.provider,
        model=model,
        request_id=headers.get("x-request-id") or headers.get("apim-request-id"),
        retry_after=retry_after_seconds(headers),
        body={"error": _error_body(err)},
    )
    obey_should_retry(error, headers)
    error.rate_limit = openai_rate_limit(headers)
    if error.retry_after is None and cls.kind == "rate_limit" and error.rate_limit is not None:
        resets = [r for r in (error.rate_limit.requests_reset, error.rate_limit.tokens_reset) if r]
        error.retry_after = min(resets) if resets else None
    return error


def _error_body(err: dict[str, Any]) -> dict[str, Any]:
    """What an error keeps of the body: type, code, param, and Azure's content filter
    verdicts (``innererror.content_filter_result``, for ``ContentFilterError.results``)."""
    out: dict[str, Any] = {k: err.get(k) for k in ("type", "code", "param") if k in err}
    inner = err.get("innererror")
    if isinstance(inner, dict) and isinstance(inner.get("content_filter_result"), dict):
        out["content_filter_result"] = inner["content_filter_result"]
    return out


def _classify(status: int | None, code: str, etype: str, message: str) -> type[LLMError]:
    lowered = message.lower()
    if code in _QUOTA_CODES or etype == "insufficient_quota" or status == 402:
        return QuotaExceededError
    if code == "context_length_exceeded" or "maximum context length" in lowered:
        return ContextLengthError
    if code == "content_filter" or etype == "content_filter":
        return ContentFilterError
    if status == 429 or code == "rate_limit_exceeded":
        return RateLimitError
    if status == 401 or code == "invalid_api_key":
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404 or code == "model_not_found":
        return NotFoundError
    if status == 408:
        return LLMTimeoutError
    if status == 529 or "overloaded" in lowered:
        return OverloadedError
    if status is None or status >= 500 or status == 409:
        return ServerError  # 409 is a lock timeout: retried, like the SDKs do
    return InvalidRequestError


def decode_error(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> LLMError:
    try:
        data = _json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return unparsed_error(
            _classify(status, "", "", ""),
            provider=dialect.provider,
            model=request.model,
            status=status,
            headers=headers,
            body=body,
            request_id_header="x-request-id",
        )
    return error_from_body(status, headers, data, dialect, request.model)
