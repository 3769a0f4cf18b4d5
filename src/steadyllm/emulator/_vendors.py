"""OpenAI-compatible vendors as the emulator plays them, at ``/vendors/NAME/v1``.

Each vendor refuses what its own compatibility page says it refuses, with the
status it uses: Groq and Cerebras answer the fields they do not support with a
400; Mistral's schema forbids any field it does not know (a 422 in pydantic's
``extra_forbidden`` shape, as recorded in public issue threads); DeepSeek
refuses ``reasoning_content`` sent back in a message. Mistral streams carry
usage whether or not ``stream_options`` asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Vendor:
    name: str
    #: Body fields the vendor answers with an error.
    refused: frozenset[str] = frozenset()
    #: 400 (an OpenAI-style error) or 422 (pydantic's ``extra_forbidden``).
    status: int = 400
    #: Streams end with usage even when the request did not ask.
    usage_always: bool = False


VENDORS: dict[str, Vendor] = {
    v.name: v
    for v in (
        Vendor("groq", frozenset({"logprobs", "logit_bias", "top_logprobs"})),
        Vendor("deepseek"),
        Vendor(
            "mistral",
            frozenset(
                {
                    "stream_options",
                    "seed",
                    "user",
                    "max_completion_tokens",
                    "logit_bias",
                    "service_tier",
                    "store",
                }
            ),
            status=422,
            usage_always=True,
        ),
        Vendor("xai"),
        Vendor("together"),
        Vendor("fireworks"),
        Vendor(
            "cerebras",
            frozenset(
                {
                    "frequency_penalty",
                    "logit_bias",
                    "presence_penalty",
                    "parallel_tool_calls",
                    "service_tier",
                }
            ),
        ),
    )
}


def problem(vendor: Vendor, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The vendor's error for ``body`` (status, JSON), or None when it accepts it."""
    fields = sorted(vendor.refused & set(body))
    if vendor.name == "groq":
        named = [i for i, m in enumerate(body.get("messages") or ()) if "name" in m]
        fields += [f"messages[{i}].name" for i in named]
        if body.get("n") not in (None, 1):
            fields.append("n")
    if vendor.name == "deepseek":
        sent_back = [
            i for i, m in enumerate(body.get("messages") or ()) if "reasoning_content" in m
        ]
        if sent_back:
            return 400, _openai_error(
                f"messages[{sent_back[0]}]: reasoning_content must not be sent back in input "
                "messages"
            )
    if not fields:
        return None
    if vendor.status == 422:
        detail = [
            {
                "type": "extra_forbidden",
                "loc": ["body", name],
                "msg": "Extra inputs are not permitted",
                "input": body[name],
            }
            for name in fields
        ]
        return 422, {
            "object": "error",
            "message": {"detail": detail},
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    return 400, _openai_error(f"'{fields[0]}' : property '{fields[0]}' is unsupported")


def _openai_error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None}}
