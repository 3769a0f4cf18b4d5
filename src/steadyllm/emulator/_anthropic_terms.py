"""Anthropic's words for what the emulator scripts in OpenAI's: stop reasons and
error types."""

from __future__ import annotations

#: A script's finish_reason (OpenAI vocabulary, plus Anthropic's own) -> stop_reason.
STOP_REASONS = {
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
}

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
