"""Model facts: ``sl.model_info`` from the bundled file (picked from LiteLLM's model
table) and ``[models]`` in steadyllm.toml; what the client does with them (the
output cap a call without ``max_tokens`` reserves, a prompt refused before
sending when the provider's count is above the window, fallback chains that
skip such a model); and ``steadyllm models``."""

from __future__ import annotations

import json
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._cli.main import main
from steadyllm._metering.models import bundled, known_models
from steadyllm.emulator import Behavior, Emulator

from .test_e2e_providers import client_for, emulator

__all__ = ["emulator"]


def test_the_facts_of_a_known_model() -> None:
    info = sl.model_info("openai:gpt-4.1")
    assert info is not None and info.model_id == "openai:gpt-4.1"
    assert info.context_window == 1_047_576 and info.max_output_tokens == 32_768
    assert "image" in info.input_modalities and info.output_modalities == ("text",)
    assert info.tools and info.structured_output and not info.embeddings
    assert info.source.startswith("LiteLLM ") and "picked 20" in info.source


def test_the_facts_of_an_embedding_model() -> None:
    info = sl.model_info("openai:text-embedding-3-small")
    assert info is not None and info.embeddings and info.dimensions == 1536
    assert info.context_window == 8191 and info.max_output_tokens is None


@pytest.mark.parametrize(
    ("asked", "same_as"),
    [
        ("openai-responses:gpt-4.1", "openai:gpt-4.1"),  # the same models, another API
        ("azure:gpt-4.1", "openai:gpt-4.1"),  # a deployment named after its model
        ("anthropic:claude-sonnet-4-5-29991231", "anthropic:claude-sonnet-4-5"),  # a dated id
    ],
)
def test_a_model_is_found_under_the_names_it_goes_by(asked: str, same_as: str) -> None:
    found, expected = sl.model_info(asked), sl.model_info(same_as)
    assert found is not None and expected is not None
    assert found.context_window == expected.context_window
    assert found.max_output_tokens == expected.max_output_tokens
    assert found.model_id == asked


def test_an_unknown_model_has_no_facts() -> None:
    assert sl.model_info("openai:no-such-model") is None
    assert sl.model_info("vllm:my-own-model") is None


def test_steadyllm_toml_overrides_and_adds_facts() -> None:
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        models={
            "openai:gpt-4.1": {"context_window": 1000},
            "vllm:qwen3-32b": {"context_window": 32768, "max_output_tokens": 8192, "tools": True},
        },
        aliases={"local": "vllm:qwen3-32b"},
    )
    changed = sl.model_info("openai:gpt-4.1", settings)
    assert changed is not None and changed.context_window == 1000
    assert changed.max_output_tokens == 32_768  # the rest still from the bundled file
    assert changed.source == "steadyllm.toml [models]"
    added = sl.model_info("local", settings)  # aliases resolve
    assert added is not None and added.model_id == "vllm:qwen3-32b" and added.tools
    assert added.context_window == 32768 and added.reasoning is None  # unknown stays None
    assert "vllm:qwen3-32b" in {m.model_id for m in known_models("vllm", settings)}


@pytest.mark.parametrize(
    "table",
    [
        ["x"],
        {"no-provider": {"context_window": 1}},
        {"vllm:m": {"context_window": 0}},
        {"vllm:m": {"context_window": True}},
        {"vllm:m": {"tools": "yes"}},
        {"vllm:m": {"input_modalities": "text"}},
        {"vllm:m": {"colour": 1}},
        {"vllm:m": 5},
    ],
)
def test_bad_model_tables_are_refused(table: Any) -> None:
    with pytest.raises(sl.ConfigError, match="models"):
        sl.Settings.load(env={}, dotenv=False, config_file=False, models=table)


def test_the_bundled_file_is_dated_and_names_its_source() -> None:
    source, table = bundled()
    assert "LiteLLM" in source and "MIT" in source
    assert len(table) > 500
    providers = {key.split(":")[0] for key in table}
    assert {"openai", "anthropic", "gemini", "vertex", "groq", "mistral", "xai"} <= providers
    assert [m.model_id for m in known_models("anthropic")] == sorted(
        k for k in table if k.startswith("anthropic:")
    )


# ------------------------------------------------------------------ used by the client

LONG = "Count every word of this long request, please. " * 5  # 240 characters


def facts(emu: Emulator, models: dict[str, Any], **more: Any) -> sl.Client:
    return client_for(emu, models=models, **more)


async def test_a_prompt_counted_above_the_window_is_refused_before_sending(
    emulator: Emulator,
) -> None:
    async with facts(emulator, {"anthropic:claude-sonnet-4-5": {"context_window": 40}}) as client:
        with pytest.raises(sl.ContextLengthError) as caught:
            await client.chat("anthropic:claude-sonnet-4-5", [sl.user(LONG)])
        total = client.costs.summary()["total"]
    assert "above the 40-token context window" in str(caught.value)
    assert [r.path for r in emulator.requests] == ["/v1/messages/count_tokens"]  # never sent
    assert total["calls"] == 1 and total["cost_usd"] == 0.0  # booked once, nothing spent


async def test_a_prompt_whose_count_fits_is_sent(emulator: Emulator) -> None:
    # the estimate (which errs high) is above 70; the provider's count is not
    async with facts(emulator, {"anthropic:claude-sonnet-4-5": {"context_window": 70}}) as client:
        reply = await client.chat("anthropic:claude-sonnet-4-5", [sl.user(LONG)])
    assert reply.usage.prompt_tokens <= 70
    assert [r.path for r in emulator.requests] == ["/v1/messages/count_tokens", "/v1/messages"]


async def test_without_a_count_endpoint_the_provider_judges(emulator: Emulator) -> None:
    async with facts(emulator, {"openai:gpt-4.1-mini": {"context_window": 10}}) as client:
        reply = await client.chat("openai:gpt-4.1-mini", [sl.user(LONG)])
    assert reply.text == LONG and len(emulator.requests) == 1  # an estimate never refuses


async def test_a_fallback_chain_skips_a_model_the_prompt_does_not_fit(emulator: Emulator) -> None:
    async with facts(
        emulator,
        {"anthropic:claude-sonnet-4-5": {"context_window": 40}},
        fallbacks={"anthropic:claude-sonnet-4-5": ["openai:gpt-4.1-mini"]},
    ) as client:
        reply = await client.chat("anthropic:claude-sonnet-4-5", [sl.user(LONG)])
    assert reply.provider == "openai" and reply.fallback is not None
    assert reply.fallback.reason == "context_length"
    (skipped,) = reply.fallback.errors
    assert skipped["model"] == "anthropic:claude-sonnet-4-5"
    assert "40-token context window" in skipped["message"]
    assert [r.path for r in emulator.requests] == [
        "/v1/messages/count_tokens",
        "/v1/chat/completions",
    ]


async def test_the_models_output_limit_bounds_the_assumed_cap() -> None:
    fake = sl.FakeProvider()
    settings = sl.Settings(
        max_cost_per_request_usd=1.0,
        prices={"fake:small": {"input": 0.0, "output": 1000.0}, "fake:big": {"input": 0.0,
                "output": 1000.0}},
        models={"fake:small": {"max_output_tokens": 100}},
    )  # fmt: skip
    async with sl.Client(settings, providers={"fake": fake}) as client:
        # no max_tokens: 4096 assumed output tokens at $1000/M would be $4.10, above the cap
        with pytest.raises(sl.BudgetExceededError):
            await client.chat("fake:big", [sl.user("hi")])
        reply = await client.chat("fake:small", [sl.user("hi")])  # at most 100: $0.10
    assert reply.text == "hi"


# ------------------------------------------------------------------ steadyllm models


def test_the_models_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--provider", "anthropic"]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("anthropic:claude-sonnet-4-5 "))
    assert "200,000" in line and "64,000" in line and "tools" in line
    assert "facts: LiteLLM" in out


def test_the_models_command_as_json_and_searched(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--search", "text-embedding-3-small", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (row,) = [r for r in rows if r["model_id"] == "openai:text-embedding-3-small"]
    assert row["embeddings"] and row["dimensions"] == 1536
    assert row["input_usd_per_mtok"] == pytest.approx(0.02)  # genai-prices


def test_the_models_command_with_nothing_to_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--provider", "nobody"]) == 1
    assert "no known models of provider 'nobody'" in capsys.readouterr().out


async def test_the_window_is_judged_once_per_call_not_on_every_retry(emulator: Emulator) -> None:
    emulator.push(Behavior(), Behavior(fault="rate_limit"))  # the count, then the first send
    async with facts(emulator, {"anthropic:claude-sonnet-4-5": {"context_window": 70}}) as client:
        reply = await client.chat("anthropic:claude-sonnet-4-5", [sl.user(LONG)])
    assert reply.attempts == 2
    paths = [r.path for r in emulator.requests]
    assert paths.count("/v1/messages/count_tokens") == 1 and paths.count("/v1/messages") == 2
