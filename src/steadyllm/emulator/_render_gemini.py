"""Gemini's ``GenerateContentResponse`` bodies and SSE chunks, and Google API
error bodies (``{"error": {"code", "message", "status", "details"}}``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from .._core.chunking import split_text
from ._behavior import Behavior
from ._frames import sse
from ._reply import Reply

_FINISH = {"length": "MAX_TOKENS", "content_filter": "SAFETY", "error": "MALFORMED_FUNCTION_CALL"}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
SIGNATURE_PREFIX = "emu-sig:"
_SAFE = [
    {"category": c, "probability": "NEGLIGIBLE"}
    for c in ("HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT")
]


def signature(name: str, call_id: str) -> str:
    """The thoughtSignature the emulator issues for a call (it checks it back)."""
    return base64.b64encode(f"{SIGNATURE_PREFIX}{name}:{call_id}".encode()).decode()


def _by_modality(total: int, audio: int) -> list[dict[str, Any]]:
    """Gemini's ``[{"modality": ..., "tokenCount": N}]`` split of ``total`` tokens."""
    split = [("TEXT", total - audio), ("AUDIO", audio)]
    return [{"modality": name, "tokenCount": n} for name, n in split if n]


class GeminiRender:
    def usage(self, r: Reply) -> dict[str, Any]:
        visible = r.completion_tokens - r.reasoning_tokens
        usage: dict[str, Any] = {
            "promptTokenCount": r.prompt_tokens,
            "candidatesTokenCount": visible,
            "totalTokenCount": r.prompt_tokens + r.completion_tokens,
            "promptTokensDetails": _by_modality(r.prompt_tokens, r.audio_prompt_tokens),
        }
        if r.audio_completion_tokens:
            usage["candidatesTokensDetails"] = _by_modality(visible, r.audio_completion_tokens)
        if r.reasoning_tokens:
            usage["thoughtsTokenCount"] = r.reasoning_tokens
        if r.cached_tokens:
            usage["cachedContentTokenCount"] = r.cached_tokens
        return usage

    def _calls(self, r: Reply) -> list[dict[str, Any]]:
        parts = []
        for call_id, name, arguments in r.tool_calls:
            part: dict[str, Any] = {"functionCall": {"name": name, "args": json.loads(arguments)}}
            if r.signatures:
                part["thoughtSignature"] = signature(name, call_id)
            parts.append(part)
        return parts

    def _finish(self, r: Reply) -> str:
        return _FINISH.get(r.finish, "STOP")

    def _body(self, r: Reply, parts: list[dict[str, Any]], last: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if last:
            candidate["finishReason"] = self._finish(r)
            candidate["safetyRatings"] = _SAFE
        return {
            "candidates": [candidate],
            "usageMetadata": self.usage(r) if last else {"promptTokenCount": r.prompt_tokens},
            "modelVersion": r.model,
            "responseId": r.id,
        }

    def completion(self, r: Reply) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if r.thinking:
            parts.append({"text": r.thinking, "thought": True})
        if r.text:
            parts.append({"text": r.text})
        return self._body(r, parts + self._calls(r), True)

    def stream(
        self, r: Reply, behavior: Behavior, include_usage: bool
    ) -> tuple[list[bytes], list[bytes], list[bytes]]:
        content = []
        if r.thinking:
            content.append(sse(self._body(r, [{"text": r.thinking, "thought": True}], False)))
        content += [
            sse(self._body(r, [{"text": piece}], False))
            for piece in split_text(r.text, behavior.chunks)
        ]
        content += [sse(self._body(r, [call], False)) for call in self._calls(r)]
        return [], content, [sse(self._body(r, [{"text": ""}], True))]

    def error_body(self, status: int, fault: str | None, message: str) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": _STATUS.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"),
        }
        if fault == "rate_limit":
            error["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
            ]
        if fault == "auth":
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ]
        return {"error": error}

    def error_event(self, message: str, error_type: str | None) -> bytes:
        return sse({"error": {"code": 500, "message": message, "status": "INTERNAL"}})
