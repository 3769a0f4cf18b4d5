"""Pick recorded exchanges kept whole, request and reply (tests/fixtures/recorded/
embeddings/, counts/ and mistral/) from a checkout of pydantic-ai:
``python scripts/pick_exchanges.py PATH/TO/pydantic-ai``.

A reply's body is the cassette's ``parsed_body``, or for a stream the recorded
text itself, byte for byte (``stream``).

Writes one JSON file per interaction: the request (method, URI, body) and the
reply (status, content type, body) as recorded, and the cassette it came from.
Needs PyYAML (a dev dependency).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

RECORDED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "recorded"
EMBEDDINGS = "tests/cassettes/test_embeddings/"
MODELS = "tests/models/cassettes/"
#: (cassette, folder under tests/fixtures/recorded/, the interactions to keep)
CASSETTES = (
    (EMBEDDINGS + "TestOpenAI.test_query", "embeddings", None),
    (EMBEDDINGS + "TestOpenAI.test_documents", "embeddings", None),
    (EMBEDDINGS + "TestOpenAI.test_embed_error", "embeddings", None),
    (EMBEDDINGS + "TestGoogle.test_query_with_dimensions", "embeddings", None),
    (EMBEDDINGS + "TestGoogle.test_documents", "embeddings", None),
    (EMBEDDINGS + "TestGoogle.test_embed_error", "embeddings", None),
    (EMBEDDINGS + "TestGoogle.test_vertex_query", "embeddings", None),
    (EMBEDDINGS + "TestGoogle.test_count_tokens", "counts", None),
    (EMBEDDINGS + "TestGoogle.test_count_tokens_error", "counts", None),
    (MODELS + "test_anthropic/test_anthropic_cache_count_tokens", "counts", (0,)),
    (MODELS + "test_anthropic/test_anthropic_count_tokens_error", "counts", None),
    (MODELS + "test_openai_responses/test_responses_count_tokens", "counts", None),
    (
        MODELS + "test_google/test_google_vertexai_count_tokens_forwards_native_tools",
        "counts",
        (0,),
    ),
    *(
        (MODELS + "test_mistral/" + name, "mistral", None)
        for name in (
            "test_mistral_forwards_penalties",
            "test_mistral_history_uses_prompt_cache",
            "test_mistral_model_thinking_part",
            "test_mistral_model_thinking_part_iter",
            "test_text_document_as_binary_content_input",
            "test_image_as_binary_content_tool_response",
        )
    ),
)


def main(root: Path) -> None:
    for cassette_path, folder, keep in CASSETTES:
        out = RECORDED / folder
        out.mkdir(parents=True, exist_ok=True)
        name = cassette_path.rsplit("/", 1)[-1]
        cassette = yaml.safe_load((root / f"{cassette_path}.yaml").read_text())
        for n, interaction in enumerate(cassette["interactions"]):
            if keep is not None and n not in keep:
                continue
            if folder == "mistral" and "api.mistral.ai" not in interaction["request"]["uri"]:
                continue  # another provider's turn in the same cassette
            request, reply = interaction["request"], interaction["response"]
            record = {
                "source": f"pydantic/pydantic-ai {cassette_path}.yaml",
                "interaction": n,
                "request": {
                    "method": request["method"],
                    "uri": request["uri"],
                    "body": request.get("parsed_body"),
                },
                "status": reply["status"]["code"],
                "content_type": (reply["headers"].get("content-type") or [""])[0],
                "body": reply.get("parsed_body"),
            }
            if "parsed_body" not in reply:  # a stream: its bytes as recorded
                record["stream"] = reply["body"]["string"]
            text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
            (out / f"{name.replace('.', '__')}__{n}.json").write_text(text)
    for folder in ("embeddings", "counts", "mistral"):
        print(f"{len(list((RECORDED / folder).glob('*.json')))} recordings in {folder}/")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
