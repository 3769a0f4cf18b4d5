"""Extended thinking as Anthropic serves it: signed thinking blocks, and the rules
a request with thinking on must follow.

The signature is an HMAC of the thinking text under a key of this process, so a
thinking block that was altered, or made up by the client, fails as it does on
the real API. The rules checked are the ones Anthropic documents for thinking
with tool use: the assistant turn whose tool calls are being answered must start
with its thinking block, the budget is at least 1024 tokens and below
max_tokens, and no tool call may be forced.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from .._core.chunking import split_text
from ._frames import Quiet, sse
from ._state import last_user_text

_KEY = secrets.token_bytes(32)

_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


def sign(text: str) -> str:
    digest = hmac.new(_KEY, text.encode(), hashlib.sha256).digest()
    return base64.b64encode(b"emulator-thinking:" + digest).decode()


def enabled(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def thinking_text(body: dict[str, Any]) -> str:
    """What the emulated model "thinks": a line about the last user text."""
    return f"The user asks: {last_user_text(body)[:120]}. Work it out step by step."


def problem(body: dict[str, Any]) -> str | None:
    """The 400 message Anthropic would give this request, or None."""
    thinking = body.get("thinking")
    if thinking is not None:
        found = _config_problem(thinking, body)
        if found is not None:
            return found
    messages = body.get("messages") or []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else ()):
            signed = isinstance(block, dict) and block.get("type") == "thinking"
            if signed and block.get("signature") != sign(str(block.get("thinking", ""))):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    return _turn_problem(messages) if enabled(body) else None


def _config_problem(thinking: Any, body: dict[str, Any]) -> str | None:
    if not isinstance(thinking, dict) or thinking.get("type") not in (
        "enabled",
        "disabled",
        "adaptive",
    ):
        return "thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled'"
    if thinking["type"] != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if int(body.get("max_tokens") or 0) <= budget:
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _turn_problem(messages: list[Any]) -> str | None:
    """With thinking on, the assistant turn whose tool calls the last user turn
    answers must start with a thinking (or redacted thinking) block."""
    if len(messages) < 2 or not _answers_tools(messages[-1]):
        return None
    i = len(messages) - 2
    content = messages[i].get("content") if isinstance(messages[i], dict) else None
    blocks = content if isinstance(content, list) else [{"type": "text"}]
    first = blocks[0].get("type") if blocks and isinstance(blocks[0], dict) else None
    if first in ("thinking", "redacted_thinking"):
        return None
    return (
        f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        f"`{first}`. When `thinking` is enabled, a final `assistant` message must start with "
        "a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` "
        "blocks). We recommend you include thinking blocks from previous turns. To avoid "
        f"this requirement, disable `thinking`. Please consult our documentation at {_DOCS}"
    )


def _answers_tools(message: Any) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def block(text: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": sign(text)}


def frames(text: str, index: int, chunks: int | None) -> list[bytes]:
    """A streamed thinking block: start, thinking deltas, the signature, stop."""

    def delta(value: dict[str, Any]) -> bytes:
        event = {"type": "content_block_delta", "index": index, "delta": value}
        return sse(event, "content_block_delta")

    start = {
        "type": "content_block_start",
        "index": index,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    }
    out: list[bytes] = [Quiet(sse(start, "content_block_start"))]
    out += [delta({"type": "thinking_delta", "thinking": p}) for p in split_text(text, chunks)]
    out.append(Quiet(delta({"type": "signature_delta", "signature": sign(text)})))
    out.append(Quiet(sse({"type": "content_block_stop", "index": index}, "content_block_stop")))
    return out
