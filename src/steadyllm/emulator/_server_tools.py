"""Anthropic's server-side web search, emulated: a request that offers the
``web_search`` tool (``{"type": "web_search_20250305", "name": "web_search"}``)
gets a ``server_tool_use`` block, its ``web_search_tool_result`` and an answer
citing the result (``web_search_result_location``), with
``usage.server_tool_use.web_search_requests`` counted, as the real API returns
them."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from ._frames import Quiet, sse
from ._state import last_user_text


def web_search(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The search blocks for a request that offers web search, else none."""
    tools = body.get("tools") or []
    if not any(
        isinstance(t, dict) and str(t.get("type", "")).startswith("web_search_") for t in tools
    ):
        return []
    query = last_user_text(body)[:80] or "search"
    ident = f"srvtoolu_{uuid.uuid4().hex[:20]}"
    secret = base64.b64encode(f"emulated page for {query}".encode()).decode()
    result = {
        "type": "web_search_result",
        "url": f"https://search.example/{uuid.uuid5(uuid.NAMESPACE_URL, query).hex[:12]}",
        "title": f"About {query}",
        "encrypted_content": secret,
        "page_age": None,
    }
    return [
        {"type": "server_tool_use", "id": ident, "name": "web_search", "input": {"query": query}},
        {"type": "web_search_tool_result", "tool_use_id": ident, "content": [result]},
    ]


def citation(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answer's citation of the search result, if there was a search."""
    results = [b for b in blocks if b["type"] == "web_search_tool_result"]
    if not results:
        return []
    page = results[0]["content"][0]
    return [
        {
            "type": "web_search_result_location",
            "url": page["url"],
            "title": page["title"],
            "cited_text": f"{page['title']}: the emulated page.",
            "encrypted_index": base64.b64encode(page["url"].encode()).decode(),
        }
    ]


def searches(blocks: list[dict[str, Any]]) -> int:
    return sum(1 for b in blocks if b["type"] == "server_tool_use")


def frames(blocks: list[dict[str, Any]], index: int) -> list[bytes]:
    """The blocks streamed from ``index`` on: a call's input arrives as JSON deltas,
    a result whole in its start event."""
    out: list[bytes] = []
    for offset, block in enumerate(blocks):
        at = index + offset
        start = {**block, "input": {}} if block["type"] == "server_tool_use" else block
        event = {"type": "content_block_start", "index": at, "content_block": start}
        out.append(Quiet(sse(event, "content_block_start")))
        if block["type"] == "server_tool_use":
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            event = {"type": "content_block_delta", "index": at, "delta": delta}
            out.append(sse(event, "content_block_delta"))
        out.append(Quiet(sse({"type": "content_block_stop", "index": at}, "content_block_stop")))
    return out
