"""Pick the recorded embeddings and token-count exchanges (tests/fixtures/recorded/
embeddings/) from a checkout of pydantic-ai's VCR cassettes:
``python scripts/pick_embeddings.py PATH/tests/cassettes/test_embeddings``.

Writes one JSON file per interaction: the request (method, URI, body) and the
reply (status, content type, body) as recorded, and the cassette it came from.
Needs PyYAML (a dev dependency).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "recorded" / "embeddings"
CASSETTES = (
    "TestOpenAI.test_query",
    "TestOpenAI.test_documents",
    "TestOpenAI.test_embed_error",
    "TestGoogle.test_query_with_dimensions",
    "TestGoogle.test_documents",
    "TestGoogle.test_embed_error",
    "TestGoogle.test_vertex_query",
    "TestGoogle.test_count_tokens",
    "TestGoogle.test_count_tokens_error",
)


def main(root: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in CASSETTES:
        cassette = yaml.safe_load((root / f"{name}.yaml").read_text())
        for n, interaction in enumerate(cassette["interactions"]):
            request, reply = interaction["request"], interaction["response"]
            record = {
                "source": f"pydantic/pydantic-ai tests/cassettes/test_embeddings/{name}.yaml",
                "interaction": n,
                "request": {
                    "method": request["method"],
                    "uri": request["uri"],
                    "body": request.get("parsed_body"),
                },
                "status": reply["status"]["code"],
                "content_type": (reply["headers"].get("content-type") or [""])[0],
                "body": reply["parsed_body"],
            }
            text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
            (OUT / f"{name.replace('.', '__')}__{n}.json").write_text(text)
    print(f"{len(list(OUT.glob('*.json')))} recordings in {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
