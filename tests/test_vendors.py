"""OpenAI-compatible vendors: the presets (Groq, DeepSeek, Mistral, xAI, Together,
Fireworks, Cerebras) end to end against the emulator playing each vendor, and any
other vendor defined by a ``[providers.NAME]`` table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl
from steadyllm.emulator import Emulator

from .test_e2e_providers import FAST_RETRY, client_for, emulator

__all__ = ["emulator"]  # the fixture, shared with the provider end-to-end tests


#: (preset, a model genai-prices knows for it, the output-cap field the vendor takes,
#: whether streams ask for usage with stream_options)
PRESETS = [
    ("groq", "llama-3.3-70b-versatile", "max_completion_tokens", True),
    ("deepseek", "deepseek-chat", "max_tokens", True),
    ("mistral", "mistral-small-latest", "max_tokens", False),
    ("xai", "grok-3", "max_tokens", True),
    ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "max_tokens", True),
    ("fireworks", "accounts/fireworks/models/llama-v3p1-8b-instruct", "max_tokens", True),
    ("cerebras", "llama3.1-8b", "max_completion_tokens", True),
]


@pytest.mark.parametrize(("vendor", "model", "cap", "asks_usage"), PRESETS)
async def test_each_preset_chats_and_streams_priced(
    emulator: Emulator, vendor: str, model: str, cap: str, asks_usage: bool
) -> None:
    async with client_for(emulator) as client:
        reply = await client.chat(f"{vendor}:{model}", [sl.user("hello there")], max_tokens=50)
        async with client.stream(f"{vendor}:{model}", [sl.user("stream this")]) as stream:
            streamed = "".join([e.text async for e in stream if isinstance(e, sl.TextDelta)])
    assert reply.text == "hello there" and streamed == "stream this"
    assert reply.provider == vendor
    assert reply.usage.cost_usd is not None and reply.usage.cost_usd > 0  # its catalog id
    assert stream.response.usage.cost_usd is not None and not stream.response.cost_estimated
    first, second = emulator.requests
    assert first.path == f"/vendors/{vendor}/v1/chat/completions"
    assert first.headers["authorization"] == f"Bearer emulator-{vendor}-key"
    assert first.body[cap] == 50
    assert ("stream_options" in second.body) is asks_usage


async def test_a_preset_needs_its_key_and_takes_it_by_name() -> None:
    bare = sl.Settings.load(env={}, dotenv=False, config_file=False)
    async with sl.Client(bare) as client:
        with pytest.raises(sl.ConfigError, match="provider 'groq' needs GROQ_API_KEY"):
            await client.chat("groq:llama-3.3-70b-versatile", [sl.user("x")])
    keyed = sl.Settings.load(env={"GROQ_API_KEY": "gsk-from-env"}, dotenv=False)
    assert keyed.groq_api_key is not None and keyed.groq_api_key.get() == "gsk-from-env"
    assert "gsk-from-env" not in repr(keyed)
    coded = sl.Settings.load(env={}, dotenv=False, config_file=False, mistral_api_key="m-key")
    assert coded.mistral_api_key is not None and coded.mistral_api_key.get() == "m-key"


async def test_mistral_spells_seed_its_way_and_streams_usage_unasked(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        await client.chat("mistral:mistral-small-latest", [sl.user("x")], seed=7)
        async with client.stream("mistral:mistral-small-latest", [sl.user("a b c")]) as s:
            _ = [e async for e in s]
    sent = emulator.requests[0].body
    assert sent["random_seed"] == 7 and "seed" not in sent
    assert s.response.usage.prompt_tokens > 0 and not s.response.cost_estimated


async def test_mistral_refusals_read_as_the_fields_it_names(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError) as caught:
            await client.chat("mistral:mistral-small-latest", [sl.user("x")], user="u-1")
    assert "body.user: Extra inputs are not permitted" in caught.value.message
    assert caught.value.status == 422 and not caught.value.retryable
    assert len(emulator.requests) == 1  # not retried


@pytest.mark.parametrize(
    ("vendor", "model", "extra", "field"),
    [
        ("groq", "llama-3.3-70b-versatile", {"logprobs": True}, "logprobs"),
        ("cerebras", "llama3.1-8b", {"presence_penalty": 0.5}, "presence_penalty"),
    ],
)
async def test_fields_a_vendor_refuses_are_typed_errors_not_retried(
    emulator: Emulator, vendor: str, model: str, extra: dict[str, Any], field: str
) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError, match=field) as caught:
            await client.chat(f"{vendor}:{model}", [sl.user("x")], extra=extra)
    assert caught.value.status == 400 and len(emulator.requests) == 1


async def test_deepseek_reasoner_refuses_the_sampling_it_would_ignore(emulator: Emulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(sl.InvalidRequestError, match="ignores 'temperature' for deepseek-r"):
            await client.chat("deepseek:deepseek-reasoner", [sl.user("x")], temperature=0.2)
        with pytest.raises(sl.InvalidRequestError, match="ignores 'frequency_penalty'"):
            await client.chat(
                "deepseek:deepseek-reasoner", [sl.user("x")], extra={"frequency_penalty": 1}
            )
        assert emulator.requests == []  # refused before sending
        await client.chat("deepseek:deepseek-chat", [sl.user("x")], temperature=0.2)
    assert emulator.requests[0].body["temperature"] == 0.2


async def test_a_vendor_defined_by_a_table_works_everywhere(
    emulator: Emulator, tmp_path: Path
) -> None:
    toml = tmp_path / "steadyllm.toml"
    toml.write_text(
        "[providers.acme]\n"
        f'base_url = "{emulator.openai_base_url}"\n'
        'api_key_env = "ACME_API_KEY"\n'
        'max_tokens_field = "max_completion_tokens"\n'
        "stream_usage = false\n"
        'ignored = ["parallel_tool_calls"]\n'
        'prices = "together"\n'
        'headers = { "X-Team" = "search" }\n'
        '[aliases]\nfast = "acme:meta-llama/Llama-3.3-70B-Instruct-Turbo"\n',
        "utf-8",
    )
    settings = sl.Settings.load(env={"ACME_API_KEY": "acme-secret-1"}, config_file=toml)
    assert "acme-secret-1" not in repr(settings)
    async with sl.Client(settings, retry=FAST_RETRY) as client:
        reply = await client.chat("fast", [sl.user("hi acme")], max_tokens=9)
        async with client.stream("fast", [sl.user("s")]) as stream:
            _ = [e async for e in stream]
        with pytest.raises(sl.InvalidRequestError, match="acme ignores 'parallel_tool_calls'"):
            await client.chat("fast", [sl.user("x")], extra={"parallel_tool_calls": False})
    assert reply.text == "hi acme" and reply.provider == "acme"
    assert reply.usage.cost_usd == pytest.approx(
        (reply.usage.prompt_tokens + reply.usage.completion_tokens) * 0.88 / 1e6
    )
    first, second = emulator.requests
    assert first.headers["authorization"] == "Bearer acme-secret-1"
    assert first.headers["x-team"] == "search"
    assert first.body["max_completion_tokens"] == 9 and "stream_options" not in second.body


async def test_a_table_adjusts_a_preset(emulator: Emulator) -> None:
    settings = emulator.settings(
        providers={"groq": {"max_tokens_field": "max_tokens", "api_key": "gsk-table"}}
    )
    async with sl.Client(settings) as client:
        await client.chat("groq:llama-3.3-70b-versatile", [sl.user("x")], max_tokens=3)
    sent = emulator.requests[0]
    assert sent.path.startswith("/vendors/groq/")  # the base URL the emulator gave stays
    assert sent.body["max_tokens"] == 3 and sent.headers["authorization"] == "Bearer gsk-table"


async def test_a_table_key_may_rotate(emulator: Emulator) -> None:
    fetched: list[int] = []

    def fetch() -> str:
        fetched.append(1)
        return "rotated-key-1"

    settings = emulator.settings(
        providers={"acme": {"base_url": emulator.openai_base_url, "api_key": fetch}}
    )
    async with sl.Client(settings) as client:
        await client.chat("acme:m", [sl.user("x")])
        await client.chat("acme:m", [sl.user("y")])
    assert fetched == [1]  # kept until it nears expiry
    assert emulator.requests[1].headers["authorization"] == "Bearer rotated-key-1"


async def test_a_table_key_variable_that_is_not_set_is_named() -> None:
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        providers={"acme": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "ACME_API_KEY"}},
    )
    async with sl.Client(settings) as client:
        with pytest.raises(sl.ConfigError, match="provider 'acme' needs ACME_API_KEY"):
            await client.chat("acme:m", [sl.user("x")])


async def test_wire_keys_on_a_provider_with_settings_of_its_own_are_refused() -> None:
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        openai_api_key="sk-test-1234",
        providers={"openai": {"base_url": "https://elsewhere.example/v1"}},
    )
    async with sl.Client(settings) as client:
        with pytest.raises(sl.ConfigError, match=r"\[providers.openai\] sets wire options"):
            await client.chat("openai:gpt-4o", [sl.user("x")])


async def test_a_name_with_no_table_and_no_preset_is_unknown() -> None:
    settings = sl.Settings.load(env={}, dotenv=False, config_file=False)
    async with sl.Client(settings) as client:
        with pytest.raises(sl.ConfigError, match="unknown provider 'acme'"):
            await client.chat("acme:m", [sl.user("x")])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"base_url": "ftp://x.example"}, "invalid base_url"),
        ({"base_url": ""}, "invalid base_url"),
        ({"max_tokens_field": "max_output"}, "expected max_tokens or max_completion_tokens"),
        ({"stream_usage": "yes"}, "expected true or false"),
        ({"ignored": "user"}, "expected a list of option names"),
        ({"ignored": ["user", 3]}, "expected a list of option names"),
        ({"api_key_env": "not a name"}, "expected a variable name"),
        ({"api_key": ""}, r"invalid api_key .*\(hidden\)"),
        ({"prices": 5}, "invalid prices"),
        ({"tls_trust": "maybe"}, "expected default or system"),
        ({"base_uri": "https://x.example"}, "unknown key 'base_uri'"),
    ],
)
def test_bad_table_values_name_the_key_and_the_table(table: dict[str, Any], message: str) -> None:
    with pytest.raises(sl.ConfigError, match=message) as caught:
        sl.Settings.load(env={}, dotenv=False, config_file=False, providers={"acme": table})
    assert "[providers.acme]" in caught.value.message


def test_the_emulator_plays_only_vendors_it_knows(emulator: Emulator) -> None:
    assert emulator.vendor_base_url("groq").endswith("/vendors/groq/v1")
    with pytest.raises(sl.ConfigError, match="plays no vendor 'acme'"):
        emulator.vendor_base_url("acme")


def test_every_preset_is_listed_and_priced() -> None:
    from steadyllm._metering.prices import CATALOG_PROVIDERS

    known = sl.known_providers()
    for vendor, *_ in PRESETS:
        assert vendor in known and vendor in CATALOG_PROVIDERS
