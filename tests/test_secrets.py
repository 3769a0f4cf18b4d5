"""No API key may appear in any error, log line or repr."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._cli.main import main
from steadyllm._core.redact import _PATTERNS, _pattern_sub, get_logger, redact, register_secret

KEYS = {
    "OPENAI_API_KEY": "sk-proj-LEAKCHECK0123456789abcdef",
    "ANTHROPIC_API_KEY": "sk-ant-api03-LEAKCHECKzyxwvu987654",
    "AZURE_OPENAI_API_KEY": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
}


def assert_clean(text: str) -> None:
    for key in KEYS.values():
        assert key not in text
        assert key[6:20] not in text  # no fragment either


async def test_a_full_fault_run_leaks_no_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    openai_key, anthropic_key, azure_key = KEYS.values()
    faults: list[sl.FakeReply | sl.FakeFault] = [
        sl.FakeFault("server_error", message=f"upstream said: Authorization: Bearer {openai_key}"),
        sl.FakeFault(
            "rate_limit", message=f"x-api-key={anthropic_key} over limit", retry_after=0.1
        ),
        sl.FakeReply("recovered"),
        sl.FakeFault("authentication", message=f"Incorrect API key provided: {azure_key}"),
        sl.FakeReply("a b c", cut_after=1),
    ]
    caplog.set_level(logging.DEBUG, logger="steadyllm")
    client = sl.Client.from_env(providers={"fake": sl.FakeProvider(faults)}, clock=sl.FakeClock())
    seen: list[str] = [repr(client.settings), str(client.settings.describe())]

    r = await client.chat("fake:m", [sl.user("hi")])
    seen += [repr(r), str(r.to_dict())]
    with pytest.raises(sl.AuthenticationError) as info:
        await client.chat("fake:m", [sl.user("hi")])
    err = info.value
    seen += [
        str(err),
        repr(err),
        str(err.to_dict()),
        str(err.args),
        str(pickle.loads(pickle.dumps(err))),
    ]
    async with client.stream("fake:m", [sl.user("hi")]) as s:
        with pytest.raises(sl.StreamInterruptedError) as cut:
            async for _ in s:
                pass
    seen += [str(cut.value), repr(cut.value.partial)]
    seen += [rec.getMessage() for rec in caplog.records]
    assert any("retrying" in rec.getMessage() for rec in caplog.records)  # logs were produced
    for text in seen:
        assert_clean(text)
    assert "[REDACTED]" in str(err)


def test_a_redis_url_with_a_password_is_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    s = sl.Settings.load(
        env={"STEADYLLM_REDIS_URL": "redis://:redispass123@h:6379/0"}, dotenv=False
    )
    assert "redispass123" not in repr(s) and "redispass123" not in str(s.describe())
    assert s.redis_url is not None and s.redis_url.get().endswith("@h:6379/0")


def test_cli_config_hides_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    assert main(["config"]) == 0
    out = capsys.readouterr()
    assert_clean(out.out + out.err)
    assert "Secret('********')" in out.out


def test_logging_through_the_library_logger_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("my-custom-token-value")
    logger = get_logger("steadyllm.test")
    with caplog.at_level(logging.INFO, logger="steadyllm.test"):
        logger.info("sending with %s", "my-custom-token-value")
    assert caplog.records[0].getMessage() == "sending with [REDACTED]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [REDACTED]"),
        ("bearer abcdefgh1234", "bearer [REDACTED]"),
        ('{"api-key": "0123456789abcdef"}', '{"api-key": "[REDACTED]"}'),
        ("key sk-abcdefghijklmnop!", "key [REDACTED]!"),
        ("nothing secret here", "nothing secret here"),
        ("a short sk-abc stays", "a short sk-abc stays"),
        ("redis://:hunter2pw@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"),
        (
            "rediss://app:s3cret@h/1 and https://example.com/a",
            "rediss://app:[REDACTED]@h/1 and https://example.com/a",
        ),
    ],
)
def test_key_shaped_text_is_masked_even_when_unregistered(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_short_values_are_not_registered_as_secrets() -> None:
    register_secret("abc")
    assert redact("abc abc") == "abc abc"


async def test_a_full_fault_run_over_http_leaks_no_key_in_logs_errors_or_reprs(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import io

    from steadyllm._metering.observe import configure_logging, remove_console
    from steadyllm.emulator import Behavior, Emulator

    keys: dict[str, Any] = {
        "openai_api_key": "sk-proj-FULLRUN0123456789abcdef",
        "anthropic_api_key": "sk-ant-api03-FULLRUNzyxwvu987654",
        "azure_openai_api_key": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    }
    log = tmp_path / "llm.jsonl"
    console = io.StringIO()
    configure_logging("DEBUG", True, console)
    caplog.set_level(logging.DEBUG, logger="steadyllm")
    seen: list[str] = []
    echo = f"echo {keys['openai_api_key']} Bearer {keys['azure_openai_api_key']}"
    try:
        async with Emulator() as emu:
            settings = emu.settings(
                **keys,
                log_to_file=True,
                log_file_path=str(log),
                log_prompts=True,
                retry_base_delay_ms=1,
                retry_max_delay_ms=2,
                fallbacks={"openai:m": ["anthropic:c"]},
            )
            async with sl.Client(settings) as client:
                for fault in (
                    "status",
                    "rate_limit",
                    "overloaded",
                    "html",
                    "auth",
                    "quota",
                    "context_length",
                    "drop",
                    "malformed",
                    "error_event",
                ):
                    for model in ("openai:m", "anthropic:c", "azure:d"):
                        emu.push(
                            Behavior(
                                fault=fault,
                                status=500 if fault == "status" else None,
                                after_chunks=1,
                                retry_after_ms=1,
                                message=echo,
                            )
                        )
                        try:
                            async with client.stream(model, [sl.user("stream me")]) as s:
                                seen.append(repr(await s.final_response()))
                        except sl.LLMError as exc:
                            seen += [str(exc), repr(exc), str(exc.to_dict()), repr(exc.partial)]
                seen += [repr(client.settings), str(client.costs.summary())]
    finally:
        remove_console()
    seen += [log.read_text(), console.getvalue(), *(r.getMessage() for r in caplog.records)]
    assert log.read_text().count("\n") == 30 and console.getvalue()
    for text in seen:
        for key in keys.values():
            assert key not in text and key[8:20] not in text


@given(
    st.lists(
        st.sampled_from(
            [
                "Bearer ",
                "BEARER\t",
                "api-key: ",
                "Api_Key=",
                "x-api-\u212aey:",
                "authorization: ",
                "sk-",
                "rk-",
                "://user:",
                "@",
                "abcdefghijkl",
                "0123456789",
                " ",
                '"',
                "\u017f",
                "\u0130",
                "x",
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_the_marker_shortcut_never_changes_what_is_masked(text: str) -> None:
    slow = _PATTERNS.sub(_pattern_sub, text)  # the pattern run unconditionally
    assert redact(text) == slow


def test_the_request_log_scrubs_every_outside_value(tmp_path: Any) -> None:
    from steadyllm._metering.observe import RequestLog, read_log

    register_secret("sk-registered-secret-value-42")

    class Opaque:
        def __str__(self) -> str:
            return "token sk-registered-secret-value-42"

    log = RequestLog(tmp_path / "calls.jsonl")
    log.write(
        {
            "schema": 1,
            "finish_reason": "weird Bearer abcdefghijklmnop",
            "request_id": "req sk-registered-secret-value-42",
            "metadata": {"nested": ["sk-registered-secret-value-42", {"x": Opaque()}], "n": 3},
            "error_message": None,
            "unknown_object": Opaque(),
        }
    )
    log.close()
    text = (tmp_path / "calls.jsonl").read_text()
    assert "sk-registered" not in text and "abcdefghijklmnop" not in text
    (record,) = read_log(tmp_path / "calls.jsonl")
    assert record["metadata"]["n"] == 3 and record["finish_reason"] == "weird Bearer [REDACTED]"


# ------------------------------------------------------------------ echoed secrets (issue 13)


async def _echo_server(reply: Any) -> tuple[Any, int]:
    """A loopback server whose every answer is ``reply(head_text)``: (status, headers, body)."""
    import asyncio

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        length = next(
            (
                int(ln.split(":")[1])
                for ln in head.split("\r\n")
                if ln.lower().startswith("content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        status, headers, body = reply(head)
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode("latin-1")
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_password_in_a_base_url_is_masked_even_when_the_server_echoes_it(
    tmp_path: Any,
) -> None:
    import base64
    import json
    from urllib.parse import quote

    password = "p@ss/w0rd-LEAKCHECK"
    token = base64.b64encode(f"bob:{password}".encode()).decode()

    def reply(head: str) -> tuple[int, dict[str, str], bytes]:
        echoed = f"raw {quote(password, safe='')} decoded {password} basic {token} head {head}"
        return 500, {}, json.dumps({"error": {"message": echoed, "type": "server_error"}}).encode()

    server, port = await _echo_server(reply)
    log = tmp_path / "calls.jsonl"
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        compatible_base_url=f"http://bob:{quote(password, safe='')}@127.0.0.1:{port}/v1",
        max_retries=0,
        log_to_file=True,
        log_file_path=str(log),
    )
    try:
        async with sl.Client(settings) as client:
            with pytest.raises(sl.ServerError) as info:
                await client.chat("compatible:m", [sl.user("x")])
    finally:
        server.close()
        await server.wait_closed()
    err = info.value
    seen = [
        str(err),
        repr(err),
        str(err.body),
        str(pickle.loads(pickle.dumps(err))),
        repr(settings),
    ]
    seen.append(log.read_text())
    for text in seen:
        for form in (password, quote(password, safe=""), token):
            assert form not in text
    assert "[REDACTED]" in str(err)


async def test_a_key_echoed_in_the_error_body_or_request_id_is_masked() -> None:
    import json

    key = KEYS["OPENAI_API_KEY"]
    register_secret(key)

    def reply(head: str) -> tuple[int, dict[str, str], bytes]:
        body = {"error": {"message": "bad", "type": key, "code": key, "param": f"k={key}"}}
        return 401, {"x-request-id": key}, json.dumps(body).encode()

    server, port = await _echo_server(reply)
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        openai_api_key=key,
        openai_base_url=f"http://127.0.0.1:{port}/v1",
        max_retries=0,
    )
    try:
        async with sl.Client(settings) as client:
            with pytest.raises(sl.AuthenticationError) as info:
                await client.chat("openai:gpt-4o-mini", [sl.user("x")])
    finally:
        server.close()
        await server.wait_closed()
    err = info.value
    copy = pickle.loads(pickle.dumps(err))
    for text in (str(err.body), str(err.request_id), str(err), str(copy), str(copy.body)):
        assert_clean(text)


def test_the_request_object_repr_masks_credentials() -> None:
    from steadyllm._http.request import HTTPRequest

    key = KEYS["ANTHROPIC_API_KEY"]
    request = HTTPRequest(
        "POST",
        "https://u:secretpw123@h/v1",
        {
            "Authorization": f"Bearer {key}",
            "api-key": key,
            "x-api-key": key,
            "proxy-authorization": "Basic Zm9vOmJhcg==",
        },
        b'{"x": 1}',
    )
    text = repr(request)
    assert_clean(text)
    assert "Zm9vOmJhcg" not in text and "secretpw123" not in text and "8 bytes" in text


async def test_a_bad_header_error_carries_no_request_bytes_in_its_context() -> None:
    from steadyllm._http.request import HTTPRequest
    from steadyllm._http.transport import HTTPTransport

    key = KEYS["OPENAI_API_KEY"]
    request = HTTPRequest(
        "POST", "http://127.0.0.1:9/v1", {"authorization": f"Bearer {key}", "x-label": "café ☕"}
    )
    with pytest.raises(sl.ConfigError, match="'x-label' header") as info:
        await HTTPTransport().send(request)
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert_clean(str(info.value))


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://[::1/v1", "check the base URL"),
        ("http://" + "a" * 64 + ".example.com/v1", "at most 63 characters"),
    ],
)
def test_urls_that_cannot_be_parsed_are_config_errors(url: str, needle: str) -> None:
    from steadyllm._http import request as _request

    with pytest.raises(sl.ConfigError, match=needle):
        _request.target_of(url)
    with pytest.raises(sl.ConfigError, match="compatible_base_url"):
        sl.Settings.load(env={}, dotenv=False, config_file=False, compatible_base_url=url)


def test_a_key_given_as_text_in_code_is_kept_as_a_secret() -> None:
    settings = sl.Settings(openai_api_key="sk-in-code-123456")  # type: ignore[arg-type]
    assert isinstance(settings.openai_api_key, sl.Secret)
    assert "sk-in-code" not in repr(settings)
    with pytest.raises(sl.ConfigError, match=r"Settings\(openai_api_key=...\)"):
        sl.Settings(openai_api_key=12345)  # type: ignore[arg-type]
