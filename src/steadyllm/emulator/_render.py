"""Bodies and SSE frames in the exact shapes the real APIs send
(spec/wire-protocols.md §1.3 to 1.6, §2.5 to 2.7, §3.3 to 3.4)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .._core.chunking import split_text
from . import _anthropic_terms, _server_tools, _thinking
from ._azure_filter import refused_prompt, verdicts
from ._behavior import Behavior
from ._frames import Quiet, sse
from ._reply import Reply


def _thirds(text: str) -> list[str]:
    """Split JSON text in three pieces anywhere (inside strings too), as servers do."""
    if len(text) < 3:
        return [text]
    a, b = len(text) // 3, 2 * len(text) // 3
    return [text[:a], text[a:b], text[b:]]


# ------------------------------------------------------------------ OpenAI / Azure


class OpenAIRender:
    def __init__(self, azure: bool = False) -> None:
        self.azure = azure

    def usage(self, r: Reply) -> dict[str, Any]:
        return {
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "total_tokens": r.prompt_tokens + r.completion_tokens,
            "prompt_tokens_details": {
                "cached_tokens": r.cached_tokens,
                "audio_tokens": r.audio_prompt_tokens,
            },
            "completion_tokens_details": {
                "reasoning_tokens": r.reasoning_tokens,
                "audio_tokens": r.audio_completion_tokens,
            },
        }

    def completion(self, r: Reply) -> dict[str, Any]:
        refused = r.finish == "refusal"  # a scripted refusal: OpenAI's own field
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if refused else r.text or None,
            "refusal": r.text if refused else None,
            "annotations": [],
        }
        if r.tool_calls:
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                for i, n, a in r.tool_calls
            ]
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": "stop" if refused else r.finish,
        }
        body: dict[str, Any] = {
            "id": r.id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": r.model,
            "system_fingerprint": "fp_emulator",
            "service_tier": r.service_tier,
            "choices": [choice],
            "usage": self.usage(r),
        }
        if self.azure:
            body["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": verdicts()}
            ]
            choice["content_filter_results"] = verdicts(r.finish == "content_filter")
        return body

    def _chunk(
        self,
        r: Reply,
        delta: dict[str, Any],
        finish: str | None = None,
        rated: dict[str, Any] | None = None,
    ) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        if rated is not None:
            choice["content_filter_results"] = rated
        elif self.azure and delta.get("content"):  # Azure rates each piece of content
            choice["content_filter_results"] = verdicts()
        head = {"id": r.id, "object": "chat.completion.chunk", "created": int(time.time())}
        return sse(
            {
                **head,
                "model": r.model,
                "system_fingerprint": "fp_emulator",
                "service_tier": r.service_tier,
                "choices": [choice],
            }
        )

    def stream(
        self, r: Reply, behavior: Behavior, include_usage: bool
    ) -> tuple[list[bytes], list[bytes], list[bytes]]:
        head: list[bytes] = []
        if self.azure:
            head.append(
                sse(
                    {
                        "choices": [],
                        "created": 0,
                        "id": "",
                        "model": "",
                        "object": "",
                        "prompt_filter_results": [
                            {"prompt_index": 0, "content_filter_results": verdicts()}
                        ],
                    }
                )
            )
        head.append(self._chunk(r, {"role": "assistant", "content": "", "refusal": None}))
        content = [
            self._chunk(r, {"refusal" if r.finish == "refusal" else "content": piece})
            for piece in split_text(r.text, behavior.chunks)
        ]
        content += self._tool_chunks(r)
        return head, content, self._tail(r, behavior, include_usage)

    def _tool_chunks(self, r: Reply) -> list[bytes]:
        """Each tool call as its first chunk (id, name) and its arguments in thirds."""
        chunks = []
        for index, (call_id, name, arguments) in enumerate(r.tool_calls):
            first = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            chunks.append(self._chunk(r, {"tool_calls": [first]}))
            for piece in _thirds(arguments):
                more = {"index": index, "function": {"arguments": piece}}
                chunks.append(self._chunk(r, {"tool_calls": [more]}))
        return chunks

    def _tail(self, r: Reply, behavior: Behavior, include_usage: bool) -> list[bytes]:
        """The finish chunk, the usage chunk (when asked for) and ``[DONE]``."""
        # Azure's finish chunk carries the verdict that stopped a filtered completion.
        stopped = verdicts(filtered=True) if self.azure and r.finish == "content_filter" else None
        tail = [self._chunk(r, {}, "stop" if r.finish == "refusal" else r.finish, stopped)]
        if include_usage:
            tail.append(
                sse(
                    {
                        "id": r.id,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": r.model,
                        "choices": [],
                        "usage": self.usage(r),
                    }
                )
            )
        if not behavior.no_done:
            tail.append(b"data: [DONE]\n\n")
        return tail

    def error_body(self, status: int, fault: str | None, message: str) -> dict[str, Any]:
        if self.azure and status == 429 and fault != "quota":
            return {"error": {"code": "429", "message": message}}
        if self.azure and fault == "content_filter":
            return refused_prompt(message)
        etype, code = {
            "quota": ("insufficient_quota", "insufficient_quota"),
            "rate_limit": ("requests", "rate_limit_exceeded"),
            "context_length": ("invalid_request_error", "context_length_exceeded"),
            "auth": ("invalid_request_error", "invalid_api_key"),
        }.get(fault or "", ("invalid_request_error" if status < 500 else "server_error", None))
        return {"error": {"message": message, "type": etype, "param": None, "code": code}}

    def error_event(self, message: str, error_type: str | None) -> bytes:
        return sse(
            {
                "error": {
                    "message": message,
                    "type": error_type or "server_error",
                    "param": None,
                    "code": None,
                }
            }
        )


# ------------------------------------------------------------------ Anthropic


class AnthropicRender:
    def usage(self, r: Reply) -> dict[str, Any]:
        return {
            "input_tokens": r.prompt_tokens - r.cached_tokens - r.cache_write_tokens,
            "cache_creation_input_tokens": r.cache_write_tokens,
            "cache_read_input_tokens": r.cached_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": r.cache_write_tokens - r.cache_write_1h_tokens,
                "ephemeral_1h_input_tokens": r.cache_write_1h_tokens,
            },
            "output_tokens": r.completion_tokens,
            "server_tool_use": _server_tools.server_tool_use(r.server_blocks),
            "service_tier": "standard",
        }

    @staticmethod
    def stop_reason(finish: str) -> str:
        return _anthropic_terms.STOP_REASONS.get(finish, "end_turn")

    def message(self, r: Reply) -> dict[str, Any]:
        content: list[dict[str, Any]] = [_thinking.block(r.thinking)] if r.thinking else []
        content += r.server_blocks
        if r.text:
            text: dict[str, Any] = {"type": "text", "text": r.text}
            content.append({**text, "citations": r.citations} if r.citations else text)
        for call_id, name, arguments in r.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": call_id,
                    "name": name,
                    "input": json.loads(arguments or "{}"),
                }
            )
        return {
            "id": r.id,
            "type": "message",
            "role": "assistant",
            "model": r.model,
            "content": content,
            "stop_reason": self.stop_reason(r.finish),
            "stop_sequence": None,
            "usage": self.usage(r),
            **self._container(r),
        }

    @staticmethod
    def _container(r: Reply) -> dict[str, Any]:
        """The code execution sandbox a reply names, where it ran code."""
        sandbox = _server_tools.container(r.server_blocks)
        return {"container": sandbox} if sandbox else {}

    def stream(self, r: Reply, behavior: Behavior) -> tuple[list[bytes], list[bytes], list[bytes]]:
        start_usage = {**self.usage(r), "output_tokens": 1}
        del start_usage["server_tool_use"]
        head = [
            sse(
                {
                    "type": "message_start",
                    "message": {
                        "id": r.id,
                        "type": "message",
                        "role": "assistant",
                        "model": r.model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": start_usage,
                    },
                },
                "message_start",
            )
        ]
        first = 1 if r.thinking else 0
        content = _thinking.frames(r.thinking, 0, behavior.chunks) if r.thinking else []
        content += _server_tools.frames(r.server_blocks, first)
        first += len(r.server_blocks)
        content += self._text_blocks(r, behavior, first)
        content += self._tool_blocks(r, first + (1 if r.text else 0))
        tail = [
            sse(
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": self.stop_reason(r.finish),
                        "stop_sequence": None,
                        **self._container(r),
                    },
                    # the server tools' counts come at the end, as Anthropic sends them
                    "usage": {
                        "output_tokens": r.completion_tokens,
                        "server_tool_use": _server_tools.server_tool_use(r.server_blocks),
                    },
                },
                "message_delta",
            ),
            sse({"type": "message_stop"}, "message_stop"),
        ]
        return head, content, tail

    def _text_blocks(self, r: Reply, behavior: Behavior, index: int) -> list[bytes]:
        """The text block (at ``index``): its start, a ping, the deltas, its stop."""
        content: list[bytes] = []
        if r.text:
            start = {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            }
            content.append(Quiet(sse(start, "content_block_start")))
            content.append(Quiet(sse({"type": "ping"}, "ping")))
            for citation in r.citations:
                delta = {"type": "citations_delta", "citation": citation}
                event = {"type": "content_block_delta", "index": index, "delta": delta}
                content.append(Quiet(sse(event, "content_block_delta")))
            for piece in split_text(r.text, behavior.chunks):
                content.append(
                    sse(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                        "content_block_delta",
                    )
                )
            content.append(
                Quiet(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            )
        return content

    def _tool_blocks(self, r: Reply, index: int) -> list[bytes]:
        """A tool_use block per call from ``index`` on, its input JSON in thirds."""
        content: list[bytes] = []
        for call_id, name, arguments in r.tool_calls:
            content.append(
                sse(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": call_id,
                            "name": name,
                            "input": {},
                        },
                    },
                    "content_block_start",
                )
            )
            for piece in ["", *_thirds(arguments)]:
                content.append(
                    (Quiet if not piece else bytes)(
                        sse(
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "input_json_delta", "partial_json": piece},
                            },
                            "content_block_delta",
                        )
                    )
                )
            stop = {"type": "content_block_stop", "index": index}
            content.append(Quiet(sse(stop, "content_block_stop")))
            index += 1
        return content

    def error_body(self, status: int, fault: str | None, message: str) -> dict[str, Any]:
        fallback = "api_error" if status >= 500 else "invalid_request_error"
        etype = _anthropic_terms.ERROR_TYPES.get(status, fallback)
        error: dict[str, Any] = {"type": etype, "message": message}
        if fault == "quota":
            error["details"] = {"error_code": "enforced_spend_limit_reached"}
        return {"type": "error", "error": error, "request_id": f"req_{uuid.uuid4().hex[:20]}"}

    def error_event(self, message: str, error_type: str | None) -> bytes:
        return sse(
            {
                "type": "error",
                "error": {"type": error_type or "overloaded_error", "message": message},
            },
            "error",
        )
