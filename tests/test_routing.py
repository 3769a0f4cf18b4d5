from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl


def test_split_at_the_first_colon_only() -> None:
    assert sl.parse_model("ollama:llama3:8b") == ("ollama", "llama3:8b")
    assert (
        sl.parse_model("openrouter:meta-llama/llama-3-70b:free").model
        == "meta-llama/llama-3-70b:free"
    )
    assert str(sl.parse_model("openai:gpt-4o")) == "openai:gpt-4o"


@given(
    st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), st.text(min_size=1).filter(str.strip)
)
def test_any_model_text_is_passed_through_untouched(provider: str, model: str) -> None:
    model = model.strip()
    assert sl.parse_model(f"{provider}:{model}") == (provider, model)


def test_aliases_and_default_provider_and_model() -> None:
    aliases = {"fast": "openai:gpt-4o-mini"}
    assert sl.parse_model("fast", aliases=aliases) == ("openai", "gpt-4o-mini")
    assert sl.parse_model("gpt-4o", default_provider="openai") == ("openai", "gpt-4o")
    assert sl.parse_model(None, default_model="fake:echo") == ("fake", "echo")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gpt-4o", r"names no provider.*'openai:gpt-4o'.*LLM_PROVIDER"),
        (":gpt-4o", "must have the form"),
        ("openai:", "must have the form"),
        ("", "non-empty"),
        (None, "LLM_DEFAULT_MODEL"),
    ],
)
def test_bad_model_strings_explain_the_form(name: str | None, message: str) -> None:
    with pytest.raises(sl.ConfigError, match=message):
        sl.parse_model(name)
