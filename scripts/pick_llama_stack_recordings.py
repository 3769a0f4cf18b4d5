"""Take Together AI exchanges from llama-stack's integration-test recordings
(``tests/integration/recordings/responses/<hash>.json`` in a llamastack/llama-stack
checkout at commit f9cd397fe, where Together was still recorded). Each recording
holds the request body and the reply as the openai SDK parsed it (``__data__``:
the server's values, with ``null`` for the fields the SDK knows and the server
left out), so the files written here are values, not bytes: a stream becomes
``data: <chunk>`` events and ``data: [DONE]``, a whole reply its JSON.
Usage: ``python scripts/pick_llama_stack_recordings.py FILE.json ...`` writes
tests/fixtures/recorded/together/<hash>.sse or .json and <hash>.request.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "recorded" / "together"


def pick(path: Path) -> dict[str, str]:
    recording = json.loads(path.read_text())
    name = path.stem
    out = {f"{name}.request.json": json.dumps(recording["request"]["body"], indent=1) + "\n"}
    body = recording["response"]["body"]
    if isinstance(body, list):
        events = [f"data: {json.dumps(chunk['__data__'])}\n\n" for chunk in body]
        out[f"{name}.sse"] = "".join(events) + "data: [DONE]\n\n"
    else:
        out[f"{name}.json"] = json.dumps(body["__data__"], indent=1) + "\n"
    return out


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for arg in sys.argv[1:]:
        for name, text in pick(Path(arg)).items():
            (OUT / name).write_text(text)
            print(name)
