"""Pick the recorded corpus (tests/fixtures/recorded/corpus/) from a checkout of
pydantic-ai's VCR cassettes: ``python scripts/pick_recordings.py PATH/tests/models/cassettes``.

Per provider folder, streams and error replies first, then whole replies, at
most 60 KB each, duplicates dropped; writes each body and INDEX.json (its
cassette, interaction, status, host, model). Needs PyYAML (a dev dependency).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "recorded" / "corpus"
LIMITS = {
    "test_openai": 25,
    "test_anthropic": 28,
    "test_groq": 12,
    "test_deepseek": 5,
    "test_openrouter": 14,
    "test_cerebras": 4,
    "test_ollama": 3,
    "test_openai_responses": 30,
    "test_google": 30,
}
MAX_BYTES = 60_000
#: The wire format of each endpoint, by the last part of its path.
API = {
    "messages": "anthropic",
    "completions": "chat",
    "responses": "responses",
    "generateContent": "gemini",
    "streamGenerateContent": "gemini",
}
ENDINGS = ("/chat/completions", "/v1/messages", "/responses", ":generateContent")


#: The folder each of these wire formats is picked from (others: from any folder).
OWN_FOLDER = {"responses": "test_openai_responses", "gemini": "test_google"}


def model_in(uri: str) -> str | None:
    """Gemini names the model in the path (``models/MODEL:generateContent``)."""
    last = uri.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[0] if ":" in last else None


def api_of(uri: str) -> str:
    return API[uri.rsplit("/", 1)[-1].rsplit(":", 1)[-1]]


def candidates(root: Path) -> list[tuple[str, Path, int, dict[str, Any], bytes, str]]:
    found = []
    for folder in sorted(LIMITS):
        for path in sorted((root / folder).glob("*.yaml")):
            cassette = yaml.safe_load(path.read_text()) or {}
            for n, interaction in enumerate(cassette.get("interactions") or ()):
                uri = interaction["request"]["uri"].split("?")[0]
                if not uri.endswith((*ENDINGS, ":streamGenerateContent")):
                    continue
                if OWN_FOLDER.get(api_of(uri), folder) != folder:
                    continue  # Responses and Gemini exchanges come from their own folders
                reply = interaction["response"]
                kind = (reply.get("headers", {}).get("content-type") or [""])[0]
                if "event-stream" in kind:
                    text = reply.get("body", {}).get("string")
                    data, ext = (text.encode() if isinstance(text, str) else b""), "sse"
                elif "parsed_body" in reply:
                    text = json.dumps(reply["parsed_body"], indent=1, ensure_ascii=False)
                    data, ext = (text + "\n").encode(), "json"
                else:
                    text = reply.get("body", {}).get("string")
                    data, ext = (text.encode() if isinstance(text, str) else b""), "json"
                if data.strip() and len(data) <= MAX_BYTES:
                    found.append((folder, path, n, interaction, data, ext))
    plain_last = {True: 1, False: 0}
    found.sort(
        key=lambda c: (
            c[0],
            plain_last[c[5] == "json" and c[3]["response"]["status"]["code"] == 200],
            c[1].name,
            c[2],
        )
    )
    return found


def main(root: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    index, seen, count = [], set(), dict.fromkeys(LIMITS, 0)
    for folder, path, n, interaction, data, ext in candidates(root):
        digest = hashlib.sha256(data).hexdigest()
        if count[folder] >= LIMITS[folder] or digest in seen:
            continue
        seen.add(digest)
        count[folder] += 1
        uri = interaction["request"]["uri"].split("?")[0]
        name = f"{folder[5:]}__{path.stem}__{n}.{ext}"
        (OUT / name).write_bytes(data)
        index.append(
            {
                "file": name,
                "api": api_of(uri),
                "status": interaction["response"]["status"]["code"],
                "stream": ext == "sse",
                "host": uri.split("/")[2],
                "model": (interaction["request"].get("parsed_body") or {}).get("model")
                or model_in(uri),
                "source": f"pydantic/pydantic-ai tests/models/cassettes/{folder}/{path.name}",
                "interaction": n,
            }
        )
    (OUT / "INDEX.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"{len(index)} recordings: {count}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
