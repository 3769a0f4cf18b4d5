"""One reply the emulator decided to give, before it is rendered in a wire's shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    text: str
    tool_calls: list[tuple[str, str, str]]  # (id, name, arguments JSON)
    finish: str  # OpenAI vocabulary: stop, length, tool_calls, content_filter
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    model: str
    id: str
    #: Extended thinking (Anthropic, when the request turns it on).
    thinking: str = ""
    #: The part of cache_write_tokens written for an hour (Anthropic).
    cache_write_1h_tokens: int = 0
    #: Anthropic citations of the request's documents, on the reply text.
    citations: list[dict[str, Any]] = field(default_factory=list)
    #: Blocks of server tools the emulator ran (Anthropic web search).
    server_blocks: list[dict[str, Any]] = field(default_factory=list)
    #: The Responses API's reasoning item, ahead of the message (reasoning models).
    reasoning_item: dict[str, Any] | None = None
    #: The Responses API's built-in tool items (web_search_call,
    #: code_interpreter_call), between the reasoning and the message.
    builtin_items: list[dict[str, Any]] = field(default_factory=list)
    #: Gemini thinking models: each function call part carries a thoughtSignature.
    signatures: bool = False
    #: An embeddings reply: one vector per input, and each input's token count.
    embeddings: list[list[float]] = field(default_factory=list)
    input_tokens: list[int] = field(default_factory=list)
    #: OpenAI ``encoding_format: base64``: vectors as base64 float32 bytes.
    base64: bool = False
    #: The OpenAI service tier that served the call (the one asked for; auto: default).
    service_tier: str = "default"
    #: Audio among the prompt and the completion tokens (OpenAI audio models, Gemini).
    audio_prompt_tokens: int = 0
    audio_completion_tokens: int = 0
