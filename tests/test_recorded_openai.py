"""Real recorded OpenAI Chat Completions traffic (tests/fixtures/recorded/SOURCES.md):
the request steadyllm builds for a PDF document is the one OpenAI accepted, and
the reply's extras (system_fingerprint, service_tier, usage details) are read."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.openai.decode import decode_response
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.encode import encode_body
from steadyllm.providers.openai.stream import StreamDecoder

from .test_recorded_anthropic import serve_bytes
from .wire import FIXTURES, assemble, run_stream

RECORDED = FIXTURES / "recorded" / "openai"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def test_a_pdf_document_goes_out_as_the_recorded_request_that_openai_accepted() -> None:
    sent = recorded("document_pdf_request.json")
    text, file = sent["messages"][0]["content"]
    pdf = base64.b64decode(file["file"]["file_data"].split(",", 1)[1])
    message = sl.user(text["text"], sl.document(data=pdf, title=file["file"]["filename"]))
    body = encode_body(Request(provider="openai", model="gpt-4o", messages=[message]), Dialect())
    assert body["messages"] == sent["messages"]


def test_the_recorded_reply_gives_its_text_usage_fingerprint_and_tier() -> None:
    raw = recorded("document_pdf_response.json")
    request = Request(provider="openai", model="gpt-4o", messages=[sl.user("x")])
    r = decode_response(request, 200, {}, json.dumps(raw).encode(), Dialect())
    assert r.text == 'The main content of the document is "Dummy PDF file."'
    assert (r.finish_reason, r.refusal, r.citations, r.logprobs) == ("stop", "", (), None)
    assert (r.system_fingerprint, r.service_tier) == ("fp_6b6e24b474", "default")
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (235, 13)
    assert r.model == "gpt-4o-2024-08-06"


def test_audio_input_tokens_are_counted_from_a_real_recording() -> None:
    name = "openai__test_audio_as_binary_content_input__0.json"
    data = (FIXTURES / "recorded" / "corpus" / name).read_bytes()
    request = Request(provider="openai", model="gpt-4o-audio-preview", messages=[sl.user("x")])
    usage = decode_response(request, 200, {}, data, Dialect()).usage
    assert (usage.prompt_tokens, usage.audio_prompt_tokens, usage.completion_tokens) == (64, 44, 9)
    assert (usage + usage).audio_prompt_tokens == 88
    assert usage.to_dict()["audio_prompt_tokens"] == 44


# Composed from the Chat Completions reference: logprobs are opt-in, per token, with
# the top alternatives; a stream carries them on each chunk's choice.
LOGPROBS: Any = {
    "content": [
        {"token": "Hel", "logprob": -0.01, "top_logprobs": [{"token": "Hel", "logprob": -0.01}]},
        {
            "token": "lo",
            "logprob": -0.2,
            "top_logprobs": [{"token": "lo", "logprob": -0.2}, {"token": "p", "logprob": -1.9}],
        },
    ],
    "refusal": None,
}
WHOLE: Any = {
    "id": "c1",
    "model": "gpt-4o",
    "system_fingerprint": "fp_1",
    "service_tier": "flex",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": LOGPROBS,
            "message": {"role": "assistant", "content": "Hello"},
        }
    ],
}


def chunk(delta: dict[str, Any], logprobs: Any = None, finish: str | None = None) -> bytes:
    body = {
        "id": "c1",
        "model": "gpt-4o",
        "system_fingerprint": "fp_1",
        "service_tier": "flex",
        "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


STREAM = (
    chunk({"role": "assistant", "content": "Hel"}, {"content": LOGPROBS["content"][:1]})
    + chunk({"content": "lo"}, {"content": LOGPROBS["content"][1:]})
    + chunk({}, None, "stop")
    + b"data: [DONE]\n\n"
)


def test_logprobs_fingerprint_and_tier_agree_streamed_or_not() -> None:
    request = Request(provider="openai", model="gpt-4o", messages=[sl.user("x")])
    whole = decode_response(request, 200, {}, json.dumps(WHOLE).encode(), Dialect())
    streamed = assemble(run_stream(StreamDecoder(request, Dialect(), {}), STREAM))
    for r in (whole, streamed):
        assert r.logprobs == (
            sl.TokenLogprob("Hel", -0.01, (("Hel", -0.01),)),
            sl.TokenLogprob("lo", -0.2, (("lo", -0.2), ("p", -1.9))),
        )
        assert (r.system_fingerprint, r.service_tier, r.text) == ("fp_1", "flex", "Hello")
    bad = {**WHOLE, "choices": [{**WHOLE["choices"][0], "logprobs": {"content": [{"x": 1}]}}]}
    with pytest.raises(sl.InvalidResponseError, match="logprobs"):
        decode_response(request, 200, {}, json.dumps(bad).encode(), Dialect())


async def test_more_than_one_choice_is_refused_before_sending() -> None:
    seen: list[bytes] = []
    server, url = await serve_bytes(STREAM, seen)
    settings = sl.Settings.load(
        env={}, dotenv=False, config_file=False, compatible_base_url=url + "/v1", max_retries=0
    )
    try:
        async with sl.Client(settings) as client:
            with pytest.raises(sl.InvalidRequestError, match="one choice per call"):
                await client.chat("compatible:m", [sl.user("x")], extra={"n": 3})
            async with client.stream(
                "compatible:m", [sl.user("x")], extra={"n": 1, "logprobs": True}
            ) as s:
                kinds = {type(e) async for e in s}
    finally:
        server.close()
        await server.wait_closed()
    assert len(seen) == 1 and sl.LogprobsDelta in kinds
    assert s.response.logprobs is not None and len(s.response.logprobs) == 2
