"""Rebuild the vLLM stream captured in g0t4/ask-openai.nvim's notes
(``lua/ask-openai/tools/notes/vllm-qwen.md``): the plugin traced each piece curl
read from a vLLM server (Qwen2.5 with tool calling) as ``on_stdout data: ...``.
Each traced piece is one SSE event, ``data: {...}`` and its blank line; the last
piece also holds ``data: [DONE]``. Usage: ``python scripts/pick_vllm_capture.py
PATH/vllm-qwen.md`` writes tests/fixtures/recorded/compatible/vllm_tool_call_stream.sse
and the request body the plugin sent (vllm_tool_call_request.json)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "recorded" / "compatible"


def pick(notes: str) -> tuple[bytes, dict[str, object]]:
    section = notes.split("## tailing my ask log", 1)[1].split("\n## ", 1)[0]
    events = re.findall(r"on_stdout data: (data: \{.*\})\n", section)
    stream = "".join(f"{event}\n\n" for event in events)
    if "data: [DONE]" in section:
        stream += "data: [DONE]\n\n"
    sent = re.search(r"\[TRACE\] (\{\"messages\".*\})\n", section)
    if sent is None:
        raise SystemExit("no request body in the notes")
    return stream.encode(), json.loads(sent.group(1))


if __name__ == "__main__":
    stream, request = pick(Path(sys.argv[1]).read_text())
    (OUT / "vllm_tool_call_stream.sse").write_bytes(stream)
    (OUT / "vllm_tool_call_request.json").write_text(json.dumps(request, indent=1) + "\n")
    print(f"{stream.count(b'data: ')} events -> {OUT}")
