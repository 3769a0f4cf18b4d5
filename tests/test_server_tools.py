"""Server tools as first-class options: ``sl.web_search()``, ``sl.web_fetch()``
and ``sl.code_execution()`` in ``tools=[...]`` go out in each wire's own shape,
the one the provider accepted in real recorded requests (pydantic-ai cassettes,
tests/fixtures/recorded/server_tools.json, picked by
scripts/pick_server_tool_requests.py), or are refused with a typed error before
anything is sent. Over HTTP against the emulator, Anthropic's web fetch and
code execution come back as blocks (never tool calls), streamed and not, and a
tool loop offers them on every turn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._cache.entry import cache_key
from steadyllm._core.types import Request
from steadyllm.emulator import Behavior, Emulator
from steadyllm.providers.anthropic.decode import usage_from as anthropic_usage
from steadyllm.providers.anthropic.dialect import Dialect as AnthropicDialect
from steadyllm.providers.anthropic.encode import encode_body as anthropic_body
from steadyllm.providers.gemini.dialect import Dialect as GeminiDialect
from steadyllm.providers.gemini.encode import encode_body as gemini_body
from steadyllm.providers.openai.dialect import Dialect as ChatDialect
from steadyllm.providers.openai.encode import encode_body as chat_body
from steadyllm.providers.responses.encode import encode_body as responses_body

from .test_recorded_anthropic import serve_bytes
from .wire import FIXTURES

RECORDED = json.loads((FIXTURES / "recorded" / "server_tools.json").read_text())
ANTHROPIC = "anthropic:claude-sonnet-4-5"


def _location(raw: dict[str, Any] | None) -> sl.UserLocation | None:
    if not raw:
        return None
    fields = raw.get("approximate", raw)  # Chat Completions nests it once more
    return sl.UserLocation(**{k: v for k, v in fields.items() if k != "type"})


def _recorded_tool(api: str, declared: dict[str, Any]) -> sl.ServerTool | None:
    """The sl tool a recorded declaration stands for; None for one with a field
    steadyllm has no option for."""
    kind = str(declared.get("type", ""))
    if api == "anthropic":
        args = {k: v for k, v in declared.items() if k not in ("type", "name") and v is not None}
        if kind.startswith("web_search_"):
            return sl.web_search(**{**args, "user_location": _location(args.get("user_location"))})
        if kind.startswith("web_fetch_"):
            citations = bool(args.pop("citations", {}).get("enabled"))
            return sl.web_fetch(**args, citations=citations)
        return sl.code_execution()
    if api == "gemini":
        if "googleSearch" in declared:
            return sl.web_search()
        return sl.web_fetch() if "urlContext" in declared else sl.code_execution()
    if api == "openrouter":
        p = declared["parameters"]
        return sl.web_search(
            max_uses=p.get("max_uses"),
            allowed_domains=p.get("allowed_domains"),
            blocked_domains=p.get("excluded_domains"),
            user_location=_location(p.get("user_location")),
            context_size=p.get("search_context_size"),
        )
    if kind == "code_interpreter":
        return sl.code_execution()
    if set(declared) - {"type", "search_context_size", "filters", "user_location"}:
        return None  # e.g. external_web_access: no steadyllm option
    return sl.web_search(
        context_size=declared.get("search_context_size"),
        allowed_domains=(declared.get("filters") or {}).get("allowed_domains"),
        user_location=_location(declared.get("user_location")),
    )


def _sent(api: str, model: str, tool: sl.ServerTool) -> Any:
    """What steadyllm sends for ``tool``: the declaration, or Chat Completions'
    ``web_search_options``."""
    provider = {"chat": "openai", "responses": "openai-responses"}.get(api, api)
    request = Request(provider, model, [sl.user("x")], server_tools=[tool])
    if api == "anthropic":
        (entry,) = anthropic_body(request, AnthropicDialect())["tools"]
        return entry
    if api == "gemini":
        (entry,) = gemini_body(request, GeminiDialect())["tools"]
        return entry
    if api == "responses":
        (entry,) = responses_body(request, ChatDialect(provider="openai-responses"))["tools"]
        return entry
    body = chat_body(request, ChatDialect(provider=api if api == "openrouter" else "openai"))
    return body["tools"][0] if api == "openrouter" else body["web_search_options"]


def _api(entry: dict[str, Any]) -> str:
    host = entry["uri"].split("/")[2]
    if host == "openrouter.ai":
        return "openrouter"
    if host == "api.openai.com":
        return "responses" if entry["uri"].endswith("/responses") else "chat"
    return "anthropic" if host == "api.anthropic.com" else "gemini"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def test_each_recorded_declaration_is_the_one_steadyllm_sends() -> None:
    checked: dict[str, int] = {}
    for entry in RECORDED:
        api = _api(entry)
        declarations = entry["tools"] or [entry["web_search_options"]]
        for declared in declarations:
            tool = _recorded_tool(api, declared if api != "chat" else {})
            if api == "chat":
                tool = sl.web_search(
                    context_size=declared.get("search_context_size"),
                    user_location=_location(declared.get("user_location")),
                )
            if tool is None:
                continue
            sent, expected = _sent(api, entry["model"] or "m", tool), _without_nulls(declared)
            if api == "anthropic" and tool.kind == "code_execution":
                # the cassettes pin a newer version; steadyllm sends the one the
                # SDK types as generally available, under the same name
                assert sent == {"type": "code_execution_20250825", "name": "code_execution"}
                assert expected["name"] == "code_execution"
            else:
                assert sent == expected, entry["source"]
            checked[api] = checked.get(api, 0) + 1
    assert set(checked) == {"anthropic", "gemini", "responses", "chat", "openrouter"}
    assert sum(checked.values()) >= 40, checked


def test_a_recorded_web_fetch_is_counted() -> None:
    name = "anthropic__test_anthropic_web_fetch_tool_stream__0.sse"
    data = (FIXTURES / "recorded" / "corpus" / name).read_text()
    delta = next(
        json.loads(line[6:])
        for line in data.splitlines()
        if line.startswith("data: ") and '"message_delta"' in line
    )
    usage = anthropic_usage(delta["usage"], sl.Usage(), "claude-sonnet-4-0")
    assert (usage.web_fetch_requests, usage.web_search_requests) == (1, 0)
    assert (usage + usage).web_fetch_requests == 2


@pytest.mark.parametrize(
    ("ref", "tool", "words"),
    [
        ("anthropic:m", sl.web_search(context_size="low"), "takes no context_size"),
        ("anthropic:m", sl.web_fetch(allowed_domains=["a.b"], blocked_domains=["c.d"]), "not both"),
        ("openai-responses:m", sl.web_fetch(), "runs no web_fetch"),
        ("openai-responses:m", sl.web_search(max_uses=2), "takes no max_uses"),
        ("openai-responses:m", sl.web_search(blocked_domains=["x.com"]), "blocked_domains"),
        ("openai:gpt-4o-search-preview", sl.code_execution(), "openai-responses:MODEL"),
        ("openai:gpt-4o-search-preview", sl.web_search(allowed_domains=["a.b"]), "allowed_do"),
        ("azure:gpt-4o", sl.web_search(), "azure's Chat Completions runs no web_search"),
        ("groq:llama", sl.web_search(), "groq's Chat Completions runs no web_search"),
        ("gemini:gemini-2.5-flash", sl.web_search(blocked_domains=["x.com"]), "blocked_d"),
        ("gemini:gemini-2.5-flash", sl.web_fetch(citations=True), "takes no citations"),
        ("gemini:gemini-2.5-flash", sl.web_search(max_uses=1), "takes no max_uses"),
    ],
)
async def test_an_option_a_provider_cannot_take_is_refused_before_sending(
    ref: str, tool: sl.ServerTool, words: str
) -> None:
    async with Emulator() as emu:
        async with sl.Client(emu.settings(max_retries=0)) as client:
            with pytest.raises(sl.InvalidRequestError, match=words) as caught:
                await client.chat(ref, [sl.user("x")], tools=[tool])
            assert not caught.value.retryable
        assert emu.requests == []


def test_vertex_can_leave_domains_out_of_google_search() -> None:
    tool = sl.web_search(blocked_domains=["example.com"])
    request = Request("vertex", "gemini-2.5-flash", [sl.user("x")], server_tools=[tool])
    body = gemini_body(request, GeminiDialect(provider="vertex"))
    assert body["tools"] == [{"googleSearch": {"excludeDomains": ["example.com"]}}]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: sl.web_search(max_uses=0), "max_uses=0"),
        (lambda: sl.web_search(max_uses=True), "max_uses=True"),
        (lambda: sl.web_fetch(max_content_tokens=-5), "max_content_tokens=-5"),
        (lambda: sl.web_search(allowed_domains="a.com"), "list of domain names"),
        (lambda: sl.web_search(context_size="huge"), "'low', 'medium' or 'high'"),  # type: ignore[arg-type]
        (lambda: sl.web_search(user_location={"city": "x"}), "sl.UserLocation"),  # type: ignore[arg-type]
    ],
)
def test_bad_options_are_typed_errors(make: Any, words: str) -> None:
    with pytest.raises(sl.InvalidRequestError, match=words):
        make()


async def test_a_server_tool_given_twice_or_a_stray_object_is_refused() -> None:
    async with sl.Client(sl.Settings()) as client:
        with pytest.raises(sl.InvalidRequestError, match="given twice"):
            await client.chat("fake:echo", [sl.user("x")], tools=[sl.web_search()] * 2)
        stray: Any = {"type": "web_search"}
        with pytest.raises(sl.InvalidRequestError, match="server tools"):
            await client.chat("fake:echo", [sl.user("x")], tools=[stray])


def test_server_tools_key_the_cache_and_add_to_the_prompt_estimate() -> None:
    from steadyllm._metering.tokens import estimate_request_tokens

    plain = Request("anthropic", "m", [sl.user("x")])
    searching = Request("anthropic", "m", [sl.user("x")], server_tools=[sl.web_search()])
    narrow = Request(
        "anthropic", "m", [sl.user("x")], server_tools=[sl.web_search(allowed_domains=["a.b"])]
    )
    assert len({cache_key(plain), cache_key(searching), cache_key(narrow)}) == 3
    assert estimate_request_tokens(searching) > estimate_request_tokens(plain)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


async def _ask(client: sl.Client, streamed: bool, text: str, **options: Any) -> sl.Response:
    if not streamed:
        return await client.chat(ANTHROPIC, [sl.user(text)], **options)
    async with client.stream(ANTHROPIC, [sl.user(text)], **options) as s:
        return await s.final_response()


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_web_fetch_and_code_execution_come_back_as_blocks(
    emulator: Emulator, streamed: bool
) -> None:
    emulator.push(Behavior(text="The page says hello; the sum is 4."))
    tools = [sl.web_fetch(max_uses=2, citations=True), sl.code_execution()]
    async with sl.Client(emulator.settings()) as client:
        r = await _ask(client, streamed, "read https://example.com/a.html and add 2+2", tools=tools)
        again = await client.chat(
            ANTHROPIC, [sl.user("read it"), r.message, sl.user("thanks")], tools=tools
        )
    declared = emulator.requests[0].body["tools"]
    assert declared == [
        {
            "type": "web_fetch_20250910",
            "name": "web_fetch",
            "max_uses": 2,
            "citations": {"enabled": True},
        },
        {"type": "code_execution_20250825", "name": "code_execution"},
    ]
    blocks = [p for p in r.parts if isinstance(p, sl.ServerToolPart)]
    assert [(b.kind, b.name) for b in blocks] == [
        ("server_tool_use", "web_fetch"),
        ("web_fetch_tool_result", None),
        ("server_tool_use", "bash_code_execution"),
        ("bash_code_execution_tool_result", None),
    ]
    assert blocks[0].input == {"url": "https://example.com/a.html"}
    assert blocks[1].content["url"] == "https://example.com/a.html"
    assert blocks[3].content["return_code"] == 0 and r.tool_calls == []
    assert (r.usage.web_fetch_requests, r.usage.web_search_requests) == (1, 0)
    assert r.text == "The page says hello; the sum is 4." and r.finish_reason == "stop"
    sent_back = emulator.requests[1].body["messages"][1]["content"]
    assert [b["type"] for b in sent_back[:4]] == [b.kind for b in blocks]
    assert again.finish_reason == "stop"


async def test_a_tool_loop_offers_server_tools_on_every_turn(emulator: Emulator) -> None:
    emulator.push(
        Behavior(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 2}}]),
        Behavior(text="Searched, and 2 + 2 = 4."),
    )

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    async with sl.Client(emulator.settings()) as client:
        result = await client.chat_with_tools(
            ANTHROPIC, [sl.user("search, then add 2 and 2")], tools=[add, sl.web_search()]
        )
    assert result.response.text == "Searched, and 2 + 2 = 4."
    assert [e.result for e in result.executions] == [4]
    for sent in emulator.requests:
        names = [t["name"] for t in sent.body["tools"]]
        assert names == ["add", "web_search"]
    # the first turn's search blocks went back with its text and tool call
    history = emulator.requests[1].body["messages"][1]["content"]
    assert [b["type"] for b in history] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
        "tool_use",
    ]
    assert result.usage.web_search_requests == 2


def test_the_anthropic_sdk_parses_the_emulated_fetch_and_code_run() -> None:
    anthropic = pytest.importorskip("anthropic")
    from steadyllm.emulator import _render, _reply, _server_tools

    body = {
        "messages": [{"role": "user", "content": "fetch https://example.com and run it"}],
        "tools": [
            {"type": "web_fetch_20250910", "name": "web_fetch"},
            {"type": "code_execution_20250825", "name": "code_execution"},
        ],
    }
    blocks = _server_tools.blocks(body)
    reply = _reply.Reply(
        "done", [], "stop", 10, 5, 0, 0, 0, "claude", "msg_1", server_blocks=blocks
    )
    message = anthropic.types.Message.model_validate(_render.AnthropicRender().message(reply))
    assert [b.type for b in message.content] == [
        "server_tool_use",
        "web_fetch_tool_result",
        "server_tool_use",
        "bash_code_execution_tool_result",
        "text",
    ]
    assert message.container is not None and message.container.id.startswith("container_")
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_fetch_requests == 1


async def test_openai_refuses_web_search_on_a_model_without_it_as_recorded() -> None:
    # The 400 OpenAI sent to gpt-4o given web_search_options (pydantic-ai cassette
    # test_openai_web_search_tool_model_not_supported.yaml, in the corpus).
    name = "openai__test_openai_web_search_tool_model_not_supported__0.json"
    reply = (FIXTURES / "recorded" / "corpus" / name).read_bytes()
    seen: list[bytes] = []
    server, url = await serve_bytes(reply, seen, status=400, content_type="application/json")
    async with server:
        key = sl.Secret("sk-test")
        settings = sl.Settings(openai_base_url=url, openai_api_key=key, max_retries=0)
        async with sl.Client(settings) as client:
            with pytest.raises(
                sl.InvalidRequestError, match="Web search options not supported"
            ) as caught:
                await client.chat("openai:gpt-4o", [sl.user("x")], tools=[sl.web_search()])
    assert not caught.value.retryable
    sent = json.loads(seen[0].split(b"\r\n\r\n", 1)[1])
    assert sent["web_search_options"] == {} and "tools" not in sent


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_raw_tools_in_extra_ride_beside_the_declared_ones(provider: str) -> None:
    raw = {"type": "web_search_20260209", "name": "web_search"}
    spec = sl.ToolSpec("add", "Add.", {"type": "object", "properties": {}})
    request = Request(provider, "m", [sl.user("x")], tools=[spec], extra={"tools": [raw], "n": 1})
    if provider == "anthropic":
        body = anthropic_body(request, AnthropicDialect())
        assert [t.get("name") for t in body["tools"]] == ["add", "web_search"]
    else:
        body = chat_body(request, ChatDialect())
        assert [t.get("type") for t in body["tools"]] == ["function", "web_search_20260209"]
    assert body["n"] == 1 and body["tools"][-1] == raw
    alone = Request(provider, "m", [sl.user("x")], extra={"tools": [raw]})
    encode = anthropic_body if provider == "anthropic" else chat_body
    dialect: Any = AnthropicDialect() if provider == "anthropic" else ChatDialect()
    assert encode(alone, dialect)["tools"] == [raw]


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_the_responses_api_built_in_tools_come_back_as_items(
    emulator: Emulator, streamed: bool
) -> None:
    emulator.push(Behavior(text="Searched and ran it."), Behavior(text="ok"))
    model = "openai-responses:gpt-4.1"
    tools = [sl.web_search(context_size="low"), sl.code_execution()]
    ask = [sl.user("weather in Lyon")]
    async with sl.Client(emulator.settings()) as client:
        if streamed:
            async with client.stream(model, ask, tools=tools) as stream:
                kinds = [type(e).__name__ async for e in stream]
            r = stream.response
            assert r is not None and "PartDone" in kinds
        else:
            r = await client.chat(model, ask, tools=tools)
        again = await client.chat(model, [*ask, r.message, sl.user("thanks")], tools=tools)
    assert emulator.requests[0].body["tools"] == [
        {"type": "web_search", "search_context_size": "low"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
    ]
    search, run = (p for p in r.parts if isinstance(p, sl.ServerToolPart))
    assert (search.kind, search.wire) == ("web_search_call", "responses")
    assert search.block["action"]["query"] == "weather in Lyon"
    assert run.kind == "code_interpreter_call" and run.block["outputs"][0]["logs"]
    assert r.text == "Searched and ran it." and r.tool_calls == []
    sent_back = [i.get("type") for i in emulator.requests[1].body["input"]]
    assert sent_back[1:3] == ["web_search_call", "code_interpreter_call"]
    assert again.text == "ok"


def test_the_openai_sdk_parses_the_emulated_built_in_tool_items() -> None:
    openai = pytest.importorskip("openai")
    from steadyllm.emulator import _render_responses, _reply, _responses

    body = {"tools": [{"type": "web_search"}, {"type": "code_interpreter"}]}
    items = _responses.builtin_items(body, "weather in Lyon")
    reply = _reply.Reply("done", [], "stop", 10, 5, 0, 0, 0, "gpt-4.1", "resp_1")
    reply.builtin_items = items
    render = _render_responses.ResponsesRender()
    # the SDK's own types for what is new here: the items and their stream events
    # (its Response type also wants fields the emulator leaves out, as its client,
    # which builds replies unvalidated, does not)
    item_type = openai._models.TypeAdapter(openai.types.responses.ResponseOutputItem)
    output = [item_type.validate_python(o) for o in render.completion(reply)["output"]]
    assert [o.type for o in output] == ["web_search_call", "code_interpreter_call", "message"]
    head, content, tail = render.stream(reply, Behavior(), True)
    event_type = openai._models.TypeAdapter(openai.types.responses.ResponseStreamEvent)
    names = []
    for frame in (*head, *content, *tail):
        data = json.loads(bytes(frame).split(b"data: ", 1)[1])
        names.append(data["type"])
        # (an item added in progress has no action yet, as in the recorded streams,
        # where the SDK's type wants one: only finished items are checked)
        checked = ("response.output_item.done", "response.web_search_call.")
        if data["type"].startswith((*checked, "response.code_interpreter_call.")):
            event_type.validate_python(data)
    assert "response.web_search_call.searching" in names
    assert "response.code_interpreter_call.interpreting" in names
    assert names[-1] == "response.completed"


def test_tools_given_as_any_iterable_keep_every_tool() -> None:
    from steadyllm._client.plan import split_tools

    spec = sl.ToolSpec("add")
    specs, server = split_tools(iter([spec, sl.web_search(), sl.code_execution()]))
    assert specs == [spec] and [t.kind for t in server] == ["web_search", "code_execution"]
    assert split_tools(t for t in [spec]) == ([spec], [])
