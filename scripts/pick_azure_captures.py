"""Take the Azure OpenAI streams darkcodi/AzureOpsCrew keeps as test data
(``tests/Infrastructure.Ai.Tests/Clients/OpenAi/TestData.cs``: gpt-5.2-chat on
Azure, each response body next to the request that got it, in C# raw string
literals). Usage: ``python scripts/pick_azure_captures.py PATH/TestData.cs``
writes tests/fixtures/recorded/azure/stream_N.sse (the body exactly as the
literal holds it) and request_N.json."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "recorded" / "azure"
LITERAL = re.compile(r'public const string HTTP_(REQUEST|RESPONSE)_(\d+) = """\n(.*?)\n"""', re.S)


def pick(source: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for kind, number, text in LITERAL.findall(source):
        if kind == "REQUEST":
            pretty = json.dumps(json.loads(text), indent=1, ensure_ascii=False) + "\n"
            out[f"request_{number}.json"] = pretty.encode()
        else:
            out[f"stream_{number}.sse"] = text.encode()
    return out


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in pick(Path(sys.argv[1]).read_text("utf-8")).items():
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")
