"""Embeddings: ``client.embed`` through the one pipeline (batches joined in order,
retries, deadline, cache, budget, cost, one record per request), on every wire
over loopback HTTP against the emulator, the codecs' edges, and the vectors'
round trip through the cache."""

from __future__ import annotations

import base64
import json
from array import array
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._cache.entry import decode as decode_entry
from steadyllm._cache.entry import encode as encode_entry
from steadyllm._core.embeddings import vector_from_base64
from steadyllm._core.types import Request
from steadyllm._metering.attempt import AttemptBook
from steadyllm.emulator import Behavior, Emulator
from steadyllm.providers.fake import fake_vector
from steadyllm.providers.gemini.dialect import Dialect as GeminiDialect
from steadyllm.providers.gemini.embed import decode_embeddings as gemini_decode
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.embed import decode_embeddings, encode_embeddings

from .test_e2e_providers import client_for, emulator

__all__ = ["emulator"]

TEXTS = [f"text number {i}" for i in range(7)]


def fake_client(fake: sl.FakeProvider, **settings: Any) -> sl.Client:
    return sl.Client(sl.Settings(**settings), providers={"fake": fake})


# ------------------------------------------------------------------ the client


async def test_inputs_are_batched_and_joined_in_order() -> None:
    fake = sl.FakeProvider(embed_batch=3)
    async with fake_client(fake) as client:
        result = await client.embed("fake:emb", TEXTS, dimensions=5, concurrency=2)
    assert [len(r.messages) for r in fake.requests] == [3, 3, 1]
    assert all(r.embed and r.dimensions == 5 for r in fake.requests)
    assert len(result) == 7 and result.dimensions == 5
    assert [v.tolist() for v in result] == [fake_vector(t, 5).tolist() for t in TEXTS]
    assert result[6].typecode == "f"  # compact float32, not a list of Python floats
    assert result.as_lists()[2] == fake_vector(TEXTS[2], 5).tolist()
    assert result.usage.prompt_tokens == sum(r.usage.prompt_tokens for r in result.responses)
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens == 0
    assert result.cost_usd == 0.0 and result.provider == "fake" and result.model == "emb"
    # one record per request, as chat books each call
    assert client.costs.summary()["total"]["calls"] == 3


async def test_one_string_is_one_input() -> None:
    async with fake_client(sl.FakeProvider()) as client:
        result = await client.embed("fake:emb", "hello")
    assert len(result) == 1 and result.dimensions == 8
    assert result[0].tolist() == fake_vector("hello").tolist()


def test_the_sync_client_embeds() -> None:
    with sl.SyncClient(sl.Settings(), providers={"fake": sl.FakeProvider()}) as client:
        result = client.embed("fake:emb", ["a", "b"], dimensions=3)
    assert [v.tolist() for v in result] == [fake_vector(t, 3).tolist() for t in "ab"]


async def test_a_retryable_fault_is_retried_and_booked() -> None:
    fake = sl.FakeProvider([sl.FakeFault("rate_limit", retry_after=0.0)])
    async with sl.Client(
        sl.Settings(),
        providers={"fake": fake},
        clock=sl.FakeClock(),
        retry=sl.RetryPolicy(2, 1, 1),
    ) as client:
        result = await client.embed("fake:emb", ["x"])
    assert result.responses[0].attempts == 2 and len(fake.requests) == 2


async def test_a_failed_batch_cancels_the_rest_and_raises_its_own_error() -> None:
    fake = sl.FakeProvider(
        [sl.FakeHang(5.0), sl.FakeFault("authentication")], embed_batch=2
    )  # the first batch hangs, the second is refused
    async with sl.Client(sl.Settings(), providers={"fake": fake}, clock=sl.FakeClock()) as client:
        with pytest.raises(sl.AuthenticationError):
            await client.embed("fake:emb", ["a", "b", "c", "d"], max_retries=0)
        total = client.costs.summary()["total"]
    assert total["calls"] == 2  # the refused batch and the cancelled one: both booked


async def test_the_deadline_covers_every_batch() -> None:
    fake = sl.FakeProvider([sl.FakeReply(latency=0.0), sl.FakeHang(60.0)], embed_batch=1)
    async with sl.Client(sl.Settings(), providers={"fake": fake}, clock=sl.FakeClock()) as client:
        with pytest.raises(sl.LLMTimeoutError):
            await client.embed("fake:emb", ["a", "b"], timeout_ms=1000, concurrency=1)


async def test_batches_come_from_the_cache() -> None:
    fake = sl.FakeProvider(embed_batch=2)
    async with fake_client(fake, enable_cache=True) as client:
        first = await client.embed("fake:emb", TEXTS[:4], dimensions=4)
        again = await client.embed("fake:emb", TEXTS[:4], dimensions=4)
        other_size = await client.embed("fake:emb", TEXTS[:4], dimensions=6)
    assert not first.cached and again.cached and not other_size.cached
    assert [v.tolist() for v in again] == [v.tolist() for v in first]
    assert len(fake.requests) == 4  # two batches, twice: the second call sent nothing


async def test_a_budget_reserves_the_input_only() -> None:
    fake = sl.FakeProvider()
    settings = sl.Settings(max_cost_per_request_usd=0.000001, prices={"fake:emb": {"input": 0.01}})
    async with sl.Client(settings, providers={"fake": fake}) as client:
        ok = await client.embed("fake:emb", ["short"])
        with pytest.raises(sl.BudgetExceededError):
            await client.embed("fake:emb", ["a much longer text " * 40])
    assert ok.cost_usd is not None and ok.cost_usd > 0
    assert len(fake.requests) == 1  # the second was refused before it was sent


def test_an_embeddings_attempt_reserves_no_output() -> None:
    request = Request("openai", "text-embedding-3-small", [sl.user("hello " * 40)], embed=True)
    book = AttemptBook.of(request, 4096)
    assert book.output_cap == 0 and book.tokens == book.prompt_tokens > 0


@pytest.mark.parametrize(
    ("inputs", "options", "says"),
    [
        ([], {}, "inputs is empty"),
        (["ok", ""], {}, "inputs[1] is empty"),
        (["ok", 3], {}, "inputs[1] has text of type int"),
        (b"bytes", {}, "not bytes"),
        (42, {}, "not int"),
        (["bad \ud800"], {}, "lone surrogate"),
        (["ok"], {"dimensions": 0}, "dimensions=0"),
        (["ok"], {"dimensions": True}, "dimensions=True"),
        (["ok"], {"concurrency": 0}, "concurrency=0"),
        (["ok"], {"timeout_ms": -1}, "timeout_ms=-1"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(
    inputs: Any, options: dict[str, Any], says: str
) -> None:
    fake = sl.FakeProvider()
    async with fake_client(fake) as client:
        with pytest.raises(sl.InvalidRequestError) as caught:
            await client.embed("fake:emb", inputs, **options)
    assert says in str(caught.value) and not fake.requests


async def test_a_provider_without_embeddings_says_which_have_them(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError) as caught:
            await client.embed("anthropic:claude-sonnet-4-5", ["hello"])
    assert "anthropic has no embeddings endpoint" in str(caught.value)
    assert "openai:text-embedding-3-small" in str(caught.value) and not emulator.requests


# ------------------------------------------------------------------ over HTTP

WIRES = [
    # model, settings, path ending, the vectors' encoding sent back
    ("openai:text-embedding-3-small", {}, "/v1/embeddings", "base64"),
    ("azure:embed-deployment", {}, "/openai/deployments/embed-deployment/embeddings", "base64"),
    (
        "azure:text-embedding-3-small",
        {"azure_openai_api_version": "v1"},
        "/openai/v1/embeddings",
        "base64",
    ),
    ("openai-responses:text-embedding-3-small", {}, "/v1/embeddings", "base64"),
    ("groq:nomic-embed-text", {}, "/vendors/groq/v1/embeddings", "float"),
    ("gemini:gemini-embedding-001", {}, "/gemini-embedding-001:batchEmbedContents", "float"),
    ("vertex:text-embedding-005", {}, "/text-embedding-005:predict", "float"),
]


@pytest.mark.parametrize(("model", "settings", "path", "encoding"), WIRES)
async def test_every_wire_end_to_end(
    emulator: Emulator, model: str, settings: dict[str, Any], path: str, encoding: str
) -> None:
    async with client_for(emulator, **settings) as client:
        result = await client.embed(model, ["alpha", "beta", "gamma"], dimensions=12)
    assert [v.tolist() for v in result] == [
        fake_vector(t, 12).tolist() for t in ("alpha", "beta", "gamma")
    ]
    (sent,) = emulator.requests
    assert sent.path.endswith(path)
    body = sent.body
    if "requests" in body:  # the Gemini API: one request per input, the model in each
        assert [r["content"]["parts"][0]["text"] for r in body["requests"]] == [
            "alpha",
            "beta",
            "gamma",
        ]
        assert {r["model"] for r in body["requests"]} == {"models/gemini-embedding-001"}
        assert {r["outputDimensionality"] for r in body["requests"]} == {12}
        assert result.responses[0].cost_estimated  # Gemini reports no token counts
    elif "instances" in body:  # Vertex AI
        assert body == {
            "instances": [{"content": "alpha"}, {"content": "beta"}, {"content": "gamma"}],
            "parameters": {"outputDimensionality": 12},
        }
        assert result.usage.prompt_tokens == 5 and not result.responses[0].cost_estimated
    else:
        assert body["input"] == ["alpha", "beta", "gamma"] and body["dimensions"] == 12
        assert body.get("encoding_format", "float") == encoding
        assert result.usage.prompt_tokens == 5 and not result.responses[0].cost_estimated
    assert result.usage.completion_tokens == 0


async def test_priced_from_the_catalog(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        result = await client.embed("openai:text-embedding-3-small", ["one", "two"])
    # text-embedding-3-small: $0.02 per million input tokens (genai-prices)
    assert result.cost_usd == pytest.approx(2 * 0.02 / 1_000_000)


async def test_gemini_embedding_on_vertex_sends_one_input_per_request(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        result = await client.embed("vertex:gemini-embedding-001", ["a", "b", "c"])
    assert len(emulator.requests) == 3 and len(result) == 3
    assert result.dimensions == 3072  # the model's full size
    assert [len(r.body["instances"]) for r in emulator.requests] == [1, 1, 1]


async def test_the_emulator_refuses_what_the_apis_refuse(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError) as caught:
            await client.embed("openai:text-embedding-ada-002", ["x"], dimensions=8)
    assert "does not support specifying dimensions" in str(caught.value)


async def test_rate_limits_and_faults_apply_to_embeddings(emulator: Emulator) -> None:
    emulator.push(Behavior(fault="rate_limit"), Behavior(fault="overloaded"))
    async with client_for(emulator) as client:
        result = await client.embed("openai:text-embedding-3-small", ["x"])
    assert result.responses[0].attempts == 3 and len(emulator.requests) == 3


async def test_a_batch_larger_than_the_providers_maximum_is_split(emulator: Emulator) -> None:
    texts = [f"t{i}" for i in range(230)]
    async with client_for(emulator) as client:
        result = await client.embed("gemini:gemini-embedding-001", texts, dimensions=2)
    # sent concurrently: in any order, re-joined in the inputs' order
    assert sorted(len(r.body["requests"]) for r in emulator.requests) == [30, 100, 100]
    assert [v.tolist() for v in result] == [fake_vector(t, 2).tolist() for t in texts]


# ------------------------------------------------------------------ codecs

DIALECT = Dialect()


def embed_request(n: int, model: str = "text-embedding-3-small") -> Request:
    return Request("openai", model, [sl.user(f"t{i}") for i in range(n)], embed=True)


def test_replies_are_read_in_index_order() -> None:
    a, b = array("f", [1.0, 2.0]), array("f", [3.0, 4.0])
    body = {
        "data": [
            {"index": 1, "embedding": base64.b64encode(b.tobytes()).decode()},
            {"index": 0, "embedding": a.tolist()},
        ],
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    response = decode_embeddings(embed_request(2), 200, {}, json.dumps(body).encode(), DIALECT)
    assert [v.tolist() for v in response.embeddings] == [a.tolist(), b.tolist()]
    assert response.usage.prompt_tokens == 2


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"data": [{"index": 0, "embedding": [1.0]}]}, "sent 1 embeddings for 2 inputs"),
        ({"object": "list"}, "sent no embeddings for 2 inputs"),
        ({"data": [{"embedding": "!!!"}, {"embedding": [1]}]}, "not base64 float32"),
        ({"data": [{"embedding": "AAA="}, {"embedding": [1]}]}, "not base64 float32"),
        ({"data": [{"embedding": ["x"]}, {"embedding": [1]}]}, "not a list of numbers"),
        ({"data": [{"embedding": [True]}, {"embedding": [1]}]}, "not a list of numbers"),
        (
            {"data": [{"embedding": [1]}, {"embedding": [1]}], "usage": {"prompt_tokens": -3}},
            "prompt_tokens",
        ),
    ],
)
def test_odd_replies_are_typed_errors(body: dict[str, Any], says: str) -> None:
    with pytest.raises(sl.InvalidResponseError) as caught:
        decode_embeddings(embed_request(2), 200, {}, json.dumps(body).encode(), DIALECT)
    assert says in str(caught.value)


def test_compatible_servers_are_not_asked_for_base64() -> None:
    request = embed_request(1)
    assert encode_embeddings(request, DIALECT)["encoding_format"] == "base64"
    vllm = Dialect(provider="vllm", send_model=True)
    assert "encoding_format" not in encode_embeddings(request, vllm)


def test_a_vertex_reply_without_predictions_is_a_typed_error() -> None:
    request = Request("vertex", "text-embedding-005", [sl.user("x")], embed=True)
    with pytest.raises(sl.InvalidResponseError, match="vertex sent no embeddings for 1 inputs"):
        gemini_decode(request, 200, {}, b'{"metadata": {}}', GeminiDialect(provider="vertex"))


@given(st.lists(st.lists(st.floats(width=32, allow_nan=False), max_size=20), max_size=5))
def test_vectors_survive_the_cache_exactly(vectors: list[list[float]]) -> None:
    response = sl.Response(embeddings=tuple(array("f", v) for v in vectors))
    back = decode_entry(encode_entry(response))
    assert back is not None
    assert [v.tolist() for v in back.embeddings] == [array("f", v).tolist() for v in vectors]


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), max_size=64))
def test_base64_vectors_decode_exactly(values: list[float]) -> None:
    packed = base64.b64encode(array("f", values).tobytes()).decode()
    assert vector_from_base64(packed, provider="p", model="m").tolist() == values


def test_as_numpy_wraps_the_buffers() -> None:
    numpy = pytest.importorskip("numpy")
    result = sl.Embeddings([array("f", [1.0, 2.0]), array("f", [3.0, 4.0])], "m", "p")
    matrix = result.as_numpy()
    assert matrix.shape == (2, 2) and matrix.dtype == numpy.float32
    assert sl.Embeddings([], "m", "p").as_numpy().shape == (0, 0)


def test_recordings_named_in_sources() -> None:
    sources = (Path(__file__).parent / "fixtures" / "recorded" / "SOURCES.md").read_text()
    assert "embeddings/" in sources


def test_as_numpy_without_numpy_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "numpy", None)
    with pytest.raises(sl.ConfigError, match="pip install numpy"):
        sl.Embeddings([array("f", [1.0])], "m", "p").as_numpy()


def test_a_damaged_vector_in_the_cache_is_a_miss() -> None:
    stored = json.loads(encode_entry(sl.Response(embeddings=(array("f", [1.0]),))))
    stored["embeddings"] = ["not base64!"]
    assert decode_entry(json.dumps(stored).encode()) is None
