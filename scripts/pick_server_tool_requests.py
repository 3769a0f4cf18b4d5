"""Pick the server-tool declarations real providers accepted, from a checkout of
pydantic-ai's VCR cassettes: ``python scripts/pick_server_tool_requests.py
PATH/tests/models/cassettes``. Writes
tests/fixtures/recorded/server_tools.json: per recorded request, its cassette,
interaction, endpoint, model, the reply's status, and what declared the
provider-run tools (the non-function ``tools`` entries, Chat Completions'
``web_search_options``), exactly as sent. Needs PyYAML (a dev dependency).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "recorded" / "server_tools.json"
FOLDERS = (
    "test_anthropic",
    "test_google",
    "test_openai",
    "test_openai_responses",
    "test_openrouter",
)
SOURCE = "pydantic/pydantic-ai tests/models/cassettes"
WORDS = ("web_search", "web_fetch", "code_execution")


def _server_tools(body: dict[str, Any]) -> list[Any]:
    def is_function(tool: Any) -> bool:
        if not isinstance(tool, dict):
            return False
        return tool.get("type") in ("function", "custom") or bool(
            {"functionDeclarations", "input_schema"} & set(tool)
        )

    return [t for t in body.get("tools") or () if not is_function(t)]


def pick(cassettes: Path) -> list[dict[str, Any]]:
    out = []
    for folder in FOLDERS:
        for path in sorted((cassettes / folder).glob("*.yaml")):
            if not any(word in path.name for word in WORDS) or "history" in path.name:
                continue
            for index, interaction in enumerate(yaml.safe_load(path.read_text())["interactions"]):
                body = interaction["request"].get("parsed_body")
                if not isinstance(body, dict):
                    continue
                tools, options = _server_tools(body), body.get("web_search_options")
                if not tools and options is None:
                    continue
                out.append(
                    {
                        "source": f"{SOURCE}/{folder}/{path.name}",
                        "interaction": index,
                        "uri": interaction["request"]["uri"],
                        "model": body.get("model"),
                        "status": interaction["response"]["status"]["code"],
                        "tools": tools,
                        "web_search_options": options,
                    }
                )
    return out


if __name__ == "__main__":
    picked = pick(Path(sys.argv[1]))
    OUT.write_text(json.dumps(picked, indent=1, sort_keys=True) + "\n")
    print(f"{len(picked)} requests -> {OUT}")
