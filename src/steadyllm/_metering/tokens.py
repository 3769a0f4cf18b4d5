"""Cheap token estimates, for the fake provider, budgets and rate limits.

Exact counts need the model's tokenizer, which is heavy and provider-specific.
These estimates reserve budget and rate-limit capacity before a call is sent
(reconciled with the real usage afterwards), so they must err high: a low
estimate lets concurrent calls overshoot a budget together.

The bound: ASCII text at three characters per token (English prose runs at
about four; code and JSON nearer three), and every other character at one
token per two UTF-8 bytes, which holds for CJK (a character is three bytes
and one to 1.5 tokens in GPT and Claude tokenizers), Cyrillic, Greek, Arabic
and emoji. A byte-level BPE token is never shorter than one byte, so no text
can need more tokens than it has bytes; we stay well under that bound for
Latin text, where it would triple every reservation. Everything the provider
reads counts: system text, every message and tool call, images, the tool
schemas and the ``response_format`` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._core import fastjson as _json
from .._core.types import (
    DocumentPart,
    ImagePart,
    Message,
    RefusalPart,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    Usage,
)

if TYPE_CHECKING:
    from .._core.types import Request, Response, ToolSpec

PER_MESSAGE_OVERHEAD = 4
#: The most one image costs among common models: Claude's 1.15-megapixel cap
#: (~1,600 tokens); OpenAI's high detail tops out at 1,445 for tall images.
IMAGE_TOKENS = 1600
#: Output tokens assumed for the worst case when a call sets no max_tokens and the
#: provider has no default of its own (the budget and the limiter both use it).
DEFAULT_OUTPUT_ESTIMATE = 4096


def approximate_text_tokens(text: str) -> int:
    """The usual four characters per token: what the fake provider reports as usage."""
    return -(-len(text) // 4) if text else 0


def approximate_prompt_tokens(messages: Sequence[Message]) -> int:
    """The fake provider's prompt usage (four characters per token, images at 765)."""
    return _prompt_tokens(messages, approximate_text_tokens, 765)


def estimate_text_tokens(text: str) -> int:
    """An upper estimate of the tokens ``text`` takes (see the module docstring)."""
    if not text:
        return 0
    if text.isascii():
        return -(-len(text) // 3)
    wide = len(text.encode("utf-8", "surrogatepass"))
    ascii_chars = len(text.encode("ascii", "ignore"))  # in C: a loop here costs ~40 ns/char
    return -(-ascii_chars // 3) + -(-(wide - ascii_chars) // 2)


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    return _prompt_tokens(messages, estimate_text_tokens, IMAGE_TOKENS)


def _prompt_tokens(
    messages: Sequence[Message], text_tokens: Callable[[str], int], image_tokens: int
) -> int:
    total = 0
    for msg in messages:
        total += PER_MESSAGE_OVERHEAD
        for part in msg.content:
            if isinstance(part, TextPart | ThinkingPart | RefusalPart):
                total += text_tokens(part.text)
            elif isinstance(part, ImagePart):
                total += image_tokens
            elif isinstance(part, DocumentPart):
                total += _document_tokens(part, text_tokens)
            elif isinstance(part, ServerToolPart):  # sent back verbatim, as JSON
                total += _server_block_tokens(part)
        for call in msg.tool_calls:
            total += text_tokens(call.name) + text_tokens(call.arguments)
    return total


#: A PDF page costs Anthropic 1,500 to 3,000 tokens (read as text and as an image),
#: and pages vary from a few KB to megabytes: a rough count, reconciled on the
#: usage the provider reports.
PDF_BYTES_PER_TOKEN = 4


def _document_tokens(part: DocumentPart, text_tokens: Callable[[str], int]) -> int:
    if part.text is not None:
        return text_tokens(part.text)
    if part.data is not None:
        return -(-len(part.data) // PDF_BYTES_PER_TOKEN)
    return 3000  # a PDF by URL: its size is unknown until the provider fetches it


def _server_block_tokens(part: ServerToolPart) -> int:
    """A server tool block sent back, counted as its JSON text. No estimate from the
    request bounds such a call: Anthropic bills every server-side search iteration
    as input (a recorded paused web-search turn asked one short question and was
    billed 404,500 input tokens), so budgets reconcile on the reported usage."""
    return estimate_text_tokens(_json.dumps(part.block).decode())


def _schema_tokens(schema: Any) -> int:
    try:
        text = _json.dumps(schema).decode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        text = repr(schema)
    return estimate_text_tokens(text)


def estimate_tool_tokens(tools: Sequence[ToolSpec]) -> int:
    return sum(
        PER_MESSAGE_OVERHEAD
        + estimate_text_tokens(t.name)
        + estimate_text_tokens(t.description)
        + _schema_tokens(t.parameters)
        for t in tools
    )


def estimate_request_tokens(request: Request) -> int:
    """Everything the provider reads: messages, tool schemas, the response schema."""
    total = estimate_prompt_tokens(request.messages)
    if request.tools:
        total += estimate_tool_tokens(request.tools)
    for server_tool in request.server_tools:  # its declaration; what it adds is billed after
        total += PER_MESSAGE_OVERHEAD + _schema_tokens(server_tool.to_dict())
    if request.response_format:
        total += _schema_tokens(request.response_format)
    return total


def output_cap(
    request: Request, default_max_tokens: int | None, model_cap: int | None = None
) -> tuple[int, bool]:
    """The most output tokens the call can produce, and whether the provider sees
    that cap (False: assumed here, the provider counts only what it generates).
    ``model_cap``: the model's own output limit (``sl.model_info``), which bounds the
    assumed cap of a call that sets none."""
    if request.embed:  # an embeddings call generates no tokens
        return 0, True
    if request.max_tokens:
        return request.max_tokens, True
    if default_max_tokens:
        return default_max_tokens, True
    return min(DEFAULT_OUTPUT_ESTIMATE, model_cap or DEFAULT_OUTPUT_ESTIMATE), False


def lost_attempt_usage(
    request: Request,
    cap: int,
    partial: Response | None,
    *,
    stopped_by_us: bool,
    prompt: int | None = None,
) -> Usage:
    """What to book for an attempt that may have reached the provider but ended
    without its final usage. The prompt is what the provider reported (Anthropic
    reports it at the start), else the estimate. The output:

    - nothing received, or we stopped reading while the provider was still
      generating (cancelled, our deadline, a stall we gave up on, the caller left a
      stream): the whole output cap, because the provider may have generated up to
      it before it noticed, more than we read;
    - the provider ended the stream itself (cut, an in-band error): what it sent,
      i.e. the larger of its reported count and an upper estimate of what arrived.

    Never more than the cap: the provider cannot generate past ``max_tokens``, and
    the budget reserved exactly that. ``prompt``: the estimate, if already made."""
    if prompt is None:
        prompt = estimate_request_tokens(request)
    if partial is None:
        return Usage(prompt, cap)
    got = partial.usage
    if stopped_by_us:
        output = cap
    else:
        received = (
            estimate_text_tokens(partial.text)
            + estimate_text_tokens(partial.reasoning)
            + sum(
                estimate_text_tokens(c.name) + estimate_text_tokens(c.arguments)
                for c in partial.tool_calls
            )
        )
        output = min(cap, max(got.completion_tokens, received))
    return Usage(
        got.prompt_tokens or prompt,
        output,
        cached_tokens=got.cached_tokens,
        cache_write_tokens=got.cache_write_tokens,
        reasoning_tokens=min(got.reasoning_tokens, output),
    )
