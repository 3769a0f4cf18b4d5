"""Citations of the documents a request gives, as Anthropic returns them: a text
document with ``citations: {enabled: true}`` is cited by the reply's text, with
a ``char_location`` covering the document's first sentence."""

from __future__ import annotations

from typing import Any


def citations(body: dict[str, Any]) -> list[dict[str, Any]]:
    """One char_location per citable text document of the last user message."""
    messages = body.get("messages") or []
    last = next(
        (m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {}
    )
    content = last.get("content")
    documents = [
        b
        for b in (content if isinstance(content, list) else ())
        if isinstance(b, dict) and b.get("type") == "document"
    ]
    out = []
    for index, block in enumerate(documents):
        source = block.get("source") or {}
        enabled = (block.get("citations") or {}).get("enabled")
        if not enabled or source.get("type") != "text":
            continue
        text = str(source.get("data") or "")
        end = text.find(". ") + 1 or len(text)
        out.append(
            {
                "type": "char_location",
                "cited_text": text[:end],
                "document_index": index,
                "document_title": block.get("title"),
                "start_char_index": 0,
                "end_char_index": end,
            }
        )
    return out
