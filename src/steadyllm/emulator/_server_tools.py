"""Anthropic's server tools, emulated in the shapes the real API returns them
(recorded in tests/fixtures/recorded/corpus/):

- ``web_search_*``: a ``server_tool_use`` block, its ``web_search_tool_result``
  and an answer citing the result (``web_search_result_location``), counted in
  ``usage.server_tool_use.web_search_requests``;
- ``web_fetch_*``: for a URL in the last user message, a ``web_fetch`` call and
  its ``web_fetch_tool_result`` (the page as a text document), counted in
  ``web_fetch_requests``;
- ``code_execution_*``: a ``bash_code_execution`` call echoing the request and
  its ``bash_code_execution_tool_result``, with the reply's ``container``."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

from ._frames import Quiet, sse
from ._state import last_user_text


def _offered(body: dict[str, Any], prefix: str) -> bool:
    tools = body.get("tools") or []
    return any(isinstance(t, dict) and str(t.get("type", "")).startswith(prefix) for t in tools)


def _call(name: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ident = f"srvtoolu_{uuid.uuid4().hex[:20]}"
    return ident, {"type": "server_tool_use", "id": ident, "name": name, "input": arguments}


def blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The server tool blocks for what a request offers, in a real reply's order."""
    return _search(body) + _fetch(body) + _execute(body)


def _search(body: dict[str, Any]) -> list[dict[str, Any]]:
    if not _offered(body, "web_search_"):
        return []
    query = last_user_text(body)[:80] or "search"
    ident, call = _call("web_search", {"query": query})
    secret = base64.b64encode(f"emulated page for {query}".encode()).decode()
    result = {
        "type": "web_search_result",
        "url": f"https://search.example/{uuid.uuid5(uuid.NAMESPACE_URL, query).hex[:12]}",
        "title": f"About {query}",
        "encrypted_content": secret,
        "page_age": None,
    }
    return [call, {"type": "web_search_tool_result", "tool_use_id": ident, "content": [result]}]


def _fetch(body: dict[str, Any]) -> list[dict[str, Any]]:
    found = re.search(r"https?://[^\s\"'<>]+", last_user_text(body))
    if not _offered(body, "web_fetch_") or found is None:
        return []
    url = found.group(0).rstrip(".,;:!?)")
    ident, call = _call("web_fetch", {"url": url})
    page = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": f"The page at {url}."},
        "title": url,
    }
    fetched = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    result = {"type": "web_fetch_result", "url": url, "retrieved_at": fetched, "content": page}
    return [call, {"type": "web_fetch_tool_result", "tool_use_id": ident, "content": result}]


def _execute(body: dict[str, Any]) -> list[dict[str, Any]]:
    if not _offered(body, "code_execution_"):
        return []
    said = last_user_text(body)[:60]
    ident, call = _call("bash_code_execution", {"command": f"echo {json.dumps(said)}"})
    ran = {
        "type": "bash_code_execution_result",
        "stdout": f"{said}\n",
        "stderr": "",
        "return_code": 0,
        "content": [],
    }
    return [call, {"type": "bash_code_execution_tool_result", "tool_use_id": ident, "content": ran}]


def container(blocks: list[dict[str, Any]]) -> dict[str, str] | None:
    """The sandbox a reply that ran code names (``container``), else None."""
    if not any(b.get("name") == "bash_code_execution" for b in blocks):
        return None
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    return {"id": f"container_{uuid.uuid4().hex[:24]}", "expires_at": expires}


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


def server_tool_use(blocks: list[dict[str, Any]]) -> dict[str, int]:
    """``usage.server_tool_use``: the searches and the fetches the reply ran."""
    names = [b["name"] for b in blocks if b["type"] == "server_tool_use"]
    return {
        "web_search_requests": names.count("web_search"),
        "web_fetch_requests": names.count("web_fetch"),
    }


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
