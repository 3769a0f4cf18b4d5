"""OpenAI's strict mode chosen automatically where a schema fits it
(``providers/_strict.py``): the same schema the openai SDK's own strict
conversion gives, never for a schema strict mode would refuse, and only to
servers that take it."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

import steadyllm as sl
from steadyllm.emulator import Behavior, Emulator
from steadyllm.providers._strict import schema_and_strict, strict_form, tool_fields
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.encode import encode_body
from steadyllm.providers.responses.encode import encode_body as encode_responses


class Inner(BaseModel):
    x: int
    tags: list[str]


class Fits(BaseModel):
    name: str
    kind: Literal["a", "b"]
    inner: Inner
    many: list[Inner]
    maybe: float | None  # required, may be null: strict mode takes it


class WithDefault(BaseModel):
    name: str
    limit: int = 10  # optional: strict would make it required


class WithMap(BaseModel):
    counts: dict[str, int]  # a free-form map: strict mode has none


class WithLength(BaseModel):
    name: str = Field(min_length=1)  # a keyword outside strict mode's subset


class Node(BaseModel):
    value: int
    children: list[Node]  # recursive, through $ref: strict mode takes it


@pytest.mark.parametrize("model", [Fits, Inner, Node])
def test_a_schema_that_fits_is_what_the_openai_sdk_sends(model: type[BaseModel]) -> None:
    from openai.lib._pydantic import to_strict_json_schema

    assert strict_form(model.model_json_schema()) == to_strict_json_schema(model)


@pytest.mark.parametrize("model", [WithDefault, WithMap, WithLength])
def test_a_schema_strict_mode_would_refuse_is_left_alone(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    assert strict_form(schema) is None
    assert schema_and_strict({"schema": schema}, auto=True) == {"schema": schema}


def test_the_root_must_be_an_object() -> None:
    assert strict_form({"type": "array", "items": {"type": "string"}}) is None
    assert strict_form({"anyOf": [{"type": "string"}]}) is None
    assert strict_form("not a schema") is None
    ref_with_siblings = {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A", "description": "an A"}},
        "required": ["a"],
        "$defs": {"A": {"type": "string"}},
    }
    assert strict_form(ref_with_siblings) is None
    assert strict_form({"$ref": "#/$defs/Missing", "$defs": {}}) is None
    assert strict_form({"$ref": 5}) is None


@pytest.mark.parametrize(
    "odd",
    [
        {"type": "object", "properties": {"a": {"anyOf": {"type": "string"}}}, "required": ["a"]},
        {"type": "object", "properties": {}, "required": "a"},
        {"type": "object", "properties": [], "required": []},
        {"type": "object", "properties": {}, "required": [], "$defs": []},
        {"type": "object", "properties": {"a": "string"}, "required": ["a"]},
        {"type": "object"},  # any object at all: a free-form map
    ],
)
def test_a_damaged_schema_is_sent_without_strict(odd: dict[str, Any]) -> None:
    assert strict_form(odd) is None


def test_what_the_call_says_wins() -> None:
    schema = Fits.model_json_schema()
    assert schema_and_strict({"schema": schema, "strict": False}, auto=True) == {
        "schema": schema,
        "strict": False,
    }
    assert schema_and_strict({"schema": schema}, auto=False) == {"schema": schema}
    assert schema_and_strict({"schema": schema}, auto=True)["strict"] is True


# A random JSON schema, of the keywords strict mode knows and some it does not.
LEAF = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean"])},
    optional={"description": st.text(max_size=5), "minLength": st.just(1)},
)


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def build(props: dict[str, Any], drop: bool, extra: Any) -> dict[str, Any]:
        names = sorted(props)
        node: dict[str, Any] = {"type": "object", "properties": props}
        node["required"] = names[1:] if drop and names else names
        if extra is not None:
            node["additionalProperties"] = extra
        return node

    return st.one_of(
        st.builds(
            build,
            st.dictionaries(st.text("abc", min_size=1, max_size=3), children, max_size=3),
            st.booleans(),
            st.sampled_from([None, None, False, True]),
        ),
        st.builds(lambda item: {"type": "array", "items": item}, children),
        st.builds(lambda options: {"anyOf": options}, st.lists(children, min_size=1, max_size=2)),
    )


SCHEMA = st.recursive(LEAF, _objects, max_leaves=12)


def _every_object(node: Any) -> list[dict[str, Any]]:
    """Every object schema (a node with properties) anywhere in ``node``."""
    if isinstance(node, list):
        return [o for value in node for o in _every_object(value)]
    if not isinstance(node, dict):
        return []
    here = [node] if "properties" in node else []
    return here + [o for value in node.values() for o in _every_object(value)]


@given(SCHEMA)
def test_a_strict_schema_keeps_every_rule_of_strict_mode(schema: Any) -> None:
    root = {"type": "object", "properties": {"r": schema}, "required": ["r"]}
    strict = strict_form(root)
    if strict is None:
        return
    assert strict_form(strict) == strict  # nothing left to change
    for node in _every_object(strict):
        assert node["additionalProperties"] is False
        assert set(node["required"]) == set(node["properties"])
    assert "minLength" not in repr(strict)
    # ...and nothing but additionalProperties was added to what the call asked for
    assert _without_closed(strict) == _without_closed(root)


def _without_closed(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_closed(v) for k, v in node.items() if k != "additionalProperties"}
    if isinstance(node, list):
        return [_without_closed(v) for v in node]
    return node


def _request(**fmt: Any) -> sl.Request:
    schema = {"type": "json_schema", "name": "Fits", "schema": Fits.model_json_schema(), **fmt}
    return sl.Request(
        provider="openai", model="gpt-4o", messages=[sl.user("x")], response_format=schema
    )


def test_chat_completions_and_responses_send_strict_where_it_fits() -> None:
    chat = encode_body(_request(), Dialect())["response_format"]["json_schema"]
    assert chat["strict"] is True and chat["schema"]["additionalProperties"] is False
    responses = encode_responses(_request(), Dialect(provider="openai-responses"))
    assert responses["text"]["format"]["strict"] is True
    compatible = encode_body(_request(), Dialect(provider="groq", auto_strict=False))
    assert "strict" not in compatible["response_format"]["json_schema"]
    off = encode_body(_request(strict=False), Dialect())["response_format"]["json_schema"]
    assert off["strict"] is False and "additionalProperties" not in off["schema"]


async def test_chat_json_asks_openai_for_strict_and_not_a_compatible_server() -> None:
    async with Emulator() as emu:
        answer = (
            '{"name": "n", "kind": "a", "inner": {"x": 1, "tags": []}, "many": [], "maybe": null}'
        )
        emu.push(Behavior(text=answer, times=2))
        settings = emu.settings(providers={"groq": {"base_url": emu.openai_base_url}})
        async with sl.Client(settings) as client:
            for model in ("openai:gpt-4o", "groq:llama-3.3-70b-versatile"):
                value = await client.chat_json(model, [sl.user("x")], schema=Fits)
                assert isinstance(value, Fits) and value.inner.x == 1
        sent = [r.body["response_format"]["json_schema"] for r in emu.requests]
    assert sent[0]["strict"] is True and sent[0]["schema"] == strict_form(Fits.model_json_schema())
    assert "strict" not in sent[1] and sent[1]["schema"] == Fits.model_json_schema()


# ------------------------------------------------------------------ strict tools


def weather(city: str, unit: Literal["C", "F"]) -> str:
    """The weather in a city."""
    return f"20{unit} in {city}"


def forecast(city: str, days: int = 3) -> str:
    """A forecast (days is optional: strict mode would make it required)."""
    return f"{days} days of sun in {city}"


def test_a_tool_whose_parameters_fit_is_what_the_openai_sdk_sends() -> None:
    import openai

    class Args(BaseModel):
        city: str
        inner: Inner

    sdk = openai.pydantic_function_tool(Args, name="args")["function"]
    ours = tool_fields(sl.ToolSpec("args", parameters=Args.model_json_schema()), auto=True)
    assert ours["strict"] is True and sdk["strict"] is True
    assert ours["parameters"] == sdk["parameters"]


def test_tools_are_strict_where_their_parameters_fit() -> None:
    tools = [sl.tool(weather).spec, sl.tool(forecast).spec]
    fixed = sl.ToolSpec("fixed", parameters=tools[0].parameters, strict=False)
    request = sl.Request(
        provider="openai", model="gpt-4o", messages=[sl.user("x")], tools=[*tools, fixed]
    )
    chat = [t["function"] for t in encode_body(request, Dialect())["tools"]]
    assert chat[0]["strict"] is True and chat[0]["parameters"]["additionalProperties"] is False
    assert "strict" not in chat[1] and chat[1]["parameters"] == tools[1].parameters
    assert chat[2]["strict"] is False and chat[2]["parameters"] == tools[0].parameters
    responses = encode_responses(request, Dialect(provider="openai-responses"))["tools"]
    assert [t["strict"] for t in responses] == [True, False, False]
    compatible = encode_body(request, Dialect(provider="groq", auto_strict=False))["tools"]
    assert ["strict" in t["function"] for t in compatible] == [False, False, True]


async def test_a_tool_loop_sends_strict_tools_to_openai() -> None:
    call = {"name": "weather", "arguments": {"city": "Paris", "unit": "C"}}
    async with Emulator() as emu:
        emu.push(Behavior(tool_calls=[call]), Behavior(text="It is 20C."))
        async with sl.Client(emu.settings()) as client:
            result = await client.chat_with_tools(
                "openai:gpt-4o", [sl.user("Weather in Paris?")], tools=[weather]
            )
        assert result.text == "It is 20C."
        sent = [r.body["tools"][0]["function"] for r in emu.requests]
    assert all(t["strict"] is True for t in sent) and len(sent) == 2


def test_a_tool_annotation_naming_nothing_is_a_config_error() -> None:
    def broken(city: Missing) -> str:  # type: ignore[name-defined]  # noqa: F821
        return city  # type: ignore[no-any-return]

    with pytest.raises(sl.ConfigError, match="'broken': an annotation names something"):
        sl.tool(broken)
