"""Real recorded embeddings exchanges (tests/fixtures/recorded/embeddings/, from
pydantic-ai's VCR cassettes: OpenAI, the Gemini API and Vertex AI), replayed over
loopback HTTP: ``client.embed`` must send the body the provider accepted and read
the vectors it sent back exactly (OpenAI's base64 float32, Google's JSON numbers),
with the reported token counts, and classify the recorded errors."""

from __future__ import annotations

import base64
import contextlib
import json
from array import array
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl

web = pytest.importorskip("aiohttp.web")

RECORDED = Path(__file__).parent / "fixtures" / "recorded"


def recording(name: str) -> dict[str, Any]:
    """A recorded exchange of embeddings/ or counts/ (tests/test_counts.py)."""
    (path,) = [p for p in RECORDED.glob(f"*/{name}.json") if p.parent.name in FOLDERS]
    record: dict[str, Any] = json.loads(path.read_text())
    return record


FOLDERS = ("embeddings", "counts")


class Replay:
    """A loopback server that answers every POST with one recorded reply."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.seen: list[tuple[str, Any]] = []
        self.url = ""

    async def handle(self, request: Any) -> Any:
        self.seen.append((request.path, await request.json()))
        return web.json_response(self.record["body"], status=self.record["status"])


@contextlib.asynccontextmanager
async def serving(route: str, handle: Any) -> AsyncIterator[str]:
    """An aiohttp app on a free loopback port answering POSTs to ``route``: its URL."""
    app = web.Application()
    app.router.add_post(route, handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def replay(request: pytest.FixtureRequest) -> AsyncIterator[Replay]:
    server = Replay(recording(request.param))
    async with serving("/{tail:.*}", server.handle) as url:
        server.url = url
        yield server


def settings_for(server: Replay, **more: Any) -> sl.Settings:
    return sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        openai_api_key="sk-recorded",
        openai_base_url=server.url + "/v1",
        gemini_api_key="AIza-recorded",
        gemini_base_url=server.url,
        vertex_project="pydantic-ai",
        vertex_location="global",
        vertex_access_token="ya29.recorded",
        vertex_base_url=server.url,
        anthropic_api_key="sk-ant-recorded",
        anthropic_base_url=server.url,
        max_retries=2,
        **more,
    )


def recorded_vectors(body: dict[str, Any]) -> list[list[float]]:
    if "data" in body:  # OpenAI: base64 float32, little-endian
        return [
            array("f", base64.b64decode(item["embedding"])).tolist()
            for item in sorted(body["data"], key=lambda item: item["index"])
        ]
    if "predictions" in body:  # Vertex AI
        return [array("f", p["embeddings"]["values"]).tolist() for p in body["predictions"]]
    return [array("f", e["values"]).tolist() for e in body["embeddings"]]


OPENAI = ["TestOpenAI__test_query__0", "TestOpenAI__test_documents__0"]


@pytest.mark.parametrize("replay", OPENAI, indirect=True)
async def test_openai_recordings(replay: Replay) -> None:
    sent = replay.record["request"]["body"]
    async with sl.Client(settings_for(replay)) as client:
        result = await client.embed("openai:" + sent["model"], sent["input"])
    ((path, body),) = replay.seen
    assert path == "/v1/embeddings" and body == sent  # the very body OpenAI accepted
    assert [v.tolist() for v in result] == recorded_vectors(replay.record["body"])
    assert result.dimensions == 1536
    assert result.usage.prompt_tokens == replay.record["body"]["usage"]["prompt_tokens"]
    assert result.cost_usd is not None and result.cost_usd > 0


GOOGLE = [
    ("TestGoogle__test_query_with_dimensions__0", "retrieval_query"),
    ("TestGoogle__test_documents__0", "retrieval_document"),
]


@pytest.mark.parametrize(("replay", "task"), GOOGLE, indirect=["replay"])
async def test_gemini_recordings(replay: Replay, task: str) -> None:
    sent = replay.record["request"]["body"]["requests"]
    model = sent[0]["model"].removeprefix("models/")
    texts = [r["content"]["parts"][0]["text"] for r in sent]
    async with sl.Client(settings_for(replay)) as client:
        result = await client.embed(
            "gemini:" + model, texts, dimensions=sent[0].get("outputDimensionality"), task=task
        )
    ((path, body),) = replay.seen
    assert path == f"/v1beta/models/{model}:batchEmbedContents"
    assert body == {"requests": sent}  # the very body Google accepted
    assert [v.tolist() for v in result] == recorded_vectors(replay.record["body"])
    # Gemini reports no token counts: booked at an estimate of the input, flagged
    assert result.usage.prompt_tokens > 0 and result.responses[0].cost_estimated


@pytest.mark.parametrize("replay", ["TestGoogle__test_vertex_query__0"], indirect=True)
async def test_vertex_recording(replay: Replay) -> None:
    (instance,) = replay.record["request"]["body"]["instances"]
    async with sl.Client(settings_for(replay)) as client:
        result = await client.embed(
            "vertex:gemini-embedding-001", [instance["content"]], task="RETRIEVAL_QUERY"
        )
    ((path, body),) = replay.seen
    assert path == (
        "/v1/projects/pydantic-ai/locations/global/publishers/google/models/"
        "gemini-embedding-001:predict"
    )
    assert body == replay.record["request"]["body"]
    assert [v.tolist() for v in result] == recorded_vectors(replay.record["body"])
    assert result.dimensions == 3072 and result.usage.prompt_tokens == 4  # statistics.token_count
    assert not result.responses[0].cost_estimated


ERRORS = [
    ("TestOpenAI__test_embed_error__0", "openai:nonexistent", "does not exist"),
    ("TestGoogle__test_embed_error__0", "gemini:nonexistent-model", "is not found"),
]


@pytest.mark.parametrize(("replay", "model", "says"), ERRORS, indirect=["replay"])
async def test_recorded_errors_are_typed_and_not_retried(
    replay: Replay, model: str, says: str
) -> None:
    async with sl.Client(settings_for(replay)) as client:
        with pytest.raises(sl.NotFoundError) as caught:
            await client.embed(model, ["Hello, world!"])
    assert says in str(caught.value) and caught.value.status == 404
    assert len(replay.seen) == 1  # a 404 is final, whatever max_retries says
