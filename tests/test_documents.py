"""Documents (PDF and plain text) as message parts: each provider gets them in its
own shape or refuses them with a typed error, and Anthropic's citations of them
come back typed on the reply's text, whole and streamed."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm._metering.tokens import estimate_prompt_tokens
from steadyllm.emulator import Behavior, Emulator
from steadyllm.providers.anthropic.encode import encode_messages
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.encode import encode_body

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MANUAL = "The pump needs oiling every 200 hours. Use SAE 30. Never run it dry."


def test_document_takes_exactly_one_source_of_a_kind_it_knows() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "exactly one of"),
        ({"data": PDF, "url": "https://x/a.pdf"}, "exactly one of"),
        ({"data": PDF, "media_type": "image/png"}, "sl.image"),
        ({"text": "x", "media_type": "application/pdf"}, "plain text"),
    ]
    for kwargs, message in cases:
        with pytest.raises(sl.InvalidRequestError, match=message):
            sl.document(**kwargs)
    assert sl.document(text="hi").media_type == "text/plain"
    assert sl.document(data=PDF).media_type == "application/pdf"


def test_anthropic_gets_document_blocks_for_every_source() -> None:
    parts = (
        sl.document(data=PDF, title="Spec"),
        sl.document(url="https://example.com/a.pdf"),
        sl.document(text=MANUAL, title="Manual", citations=True),
        sl.document(data=MANUAL.encode(), media_type="text/plain"),
        "What does it say?",
    )
    _, messages = encode_messages([sl.user(*parts)])
    blocks = messages[0]["content"]
    assert blocks[0] == {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(PDF).decode(),
        },
        "title": "Spec",
    }
    assert blocks[1] == {
        "type": "document",
        "source": {"type": "url", "url": "https://example.com/a.pdf"},
    }
    assert blocks[2] == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": MANUAL},
        "title": "Manual",
        "citations": {"enabled": True},
    }
    assert blocks[3]["source"] == {"type": "text", "media_type": "text/plain", "data": MANUAL}
    assert blocks[4] == {"type": "text", "text": "What does it say?"}


def request(*parts: Any) -> Request:
    return Request(provider="openai", model="gpt-4.1", messages=[sl.user(*parts)])


def test_chat_completions_gets_pdf_bytes_as_a_file_and_refuses_the_rest() -> None:
    body = encode_body(request(sl.document(data=PDF, title="spec.pdf"), "Summarise"), Dialect())
    assert body["messages"][0]["content"] == [
        {
            "type": "file",
            "file": {
                "filename": "spec.pdf",
                "file_data": "data:application/pdf;base64," + base64.b64encode(PDF).decode(),
            },
        },
        {"type": "text", "text": "Summarise"},
    ]
    refused = [
        (sl.document(url="https://x/a.pdf"), Dialect(), "PDF bytes only"),
        (sl.document(text=MANUAL), Dialect(), "PDF bytes only"),
        (sl.document(data=PDF, citations=True), Dialect(), "cannot cite"),
        (sl.document(data=PDF), Dialect(provider="azure", documents=False), "azure takes no"),
        (sl.document(data=PDF), Dialect(provider="vllm", documents=False), "vllm takes no"),
    ]
    for part, dialect, message in refused:
        with pytest.raises(sl.InvalidRequestError, match=message):
            encode_body(request(part, "x"), dialect)


async def test_a_document_outside_a_user_turn_is_refused() -> None:
    async with sl.Client(sl.Settings.load(env={}, dotenv=False, config_file=False)) as client:
        turn = sl.Message("assistant", (sl.document(text="x"),))
        with pytest.raises(sl.InvalidRequestError, match="images and documents go in user"):
            await client.chat("fake:m", [sl.user("q"), turn])


def test_documents_count_toward_the_prompt_estimate() -> None:
    bare = estimate_prompt_tokens([sl.user("x")])
    assert estimate_prompt_tokens([sl.user("x", sl.document(text=MANUAL))]) > bare + 20
    assert estimate_prompt_tokens([sl.user("x", sl.document(data=b"%" * 40_000))]) >= 10_000
    assert estimate_prompt_tokens([sl.user("x", sl.document(url="https://x/a.pdf"))]) > 1000


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_anthropic_cites_a_text_document_over_http(
    emulator: Emulator, streamed: bool
) -> None:
    emulator.push(Behavior(text="Oil it every 200 hours."))
    messages = [sl.user(sl.document(text=MANUAL, title="Pump", citations=True), "How often?")]
    async with sl.Client(emulator.settings()) as client:
        if streamed:
            async with client.stream("anthropic:claude-sonnet-4-5", messages) as s:
                cited = [e.citation async for e in s if isinstance(e, sl.CitationDelta)]
            r = s.response
            assert cited == list(r.citations)
        else:
            r = await client.chat("anthropic:claude-sonnet-4-5", messages)
    (citation,) = r.citations
    assert (citation.type, citation.document_index, citation.title) == ("char_location", 0, "Pump")
    assert citation.cited_text == "The pump needs oiling every 200 hours."
    assert (citation.start, citation.end) == (0, len(citation.cited_text))
    sent = emulator.requests[0].body["messages"][0]["content"][0]
    assert sent["citations"] == {"enabled": True} and sent["source"]["data"] == MANUAL


async def test_openai_gets_the_pdf_over_http(emulator: Emulator) -> None:
    async with sl.Client(emulator.settings()) as client:
        await client.chat("openai:gpt-4.1", [sl.user(sl.document(data=PDF), "Summarise")])
        with pytest.raises(sl.InvalidRequestError, match="takes no document"):
            await client.chat("azure:dep", [sl.user(sl.document(data=PDF), "Summarise")])
    (part, _) = emulator.requests[0].body["messages"][0]["content"]
    assert part["type"] == "file" and part["file"]["file_data"].endswith(
        base64.b64encode(PDF).decode()
    )
    assert len(emulator.requests) == 1  # the refused call sent nothing
