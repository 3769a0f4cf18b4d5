"""The cassette file: real HTTP exchanges recorded at the transport, as YAML a
person can read and review in a pull request.

    version: 1
    exchanges:
    - request:
        method: POST
        url: https://api.openai.com/v1/chat/completions
        headers: {authorization: '[REDACTED]', content-type: application/json}
        body: {model: gpt-4o-mini, messages: [...]}        # parsed JSON, or text
      response:
        status: 200
        headers: {content-type: text/event-stream, x-request-id: req_...}
        chunks:                                            # as they arrived
        - {at: 0.412, text: "data: {...}\\n\\n"}
        - {at: 0.433, base64: ...}                         # bytes that are not UTF-8

Response bodies are kept byte for byte (the chunks joined are the body the
transport handed over, decompressed); request bodies are parsed, for
readability and matching. Secrets are scrubbed before anything is stored:
authentication and cookie headers, credentials in URLs, key-like query
parameters, and every value ``redact`` knows (keys, tokens, proxy passwords).
A file is written whole or not at all (a temporary file, then a rename).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .._core import fastjson as _json
from .._core.errors import ConfigError
from .._core.redact import redact, scrub

VERSION = 1
MASK = "[REDACTED]"
#: Request headers never stored (their value is replaced by MASK).
SECRET_REQUEST_HEADERS = frozenset(
    {"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie", "x-goog-api-key"}
)
SECRET_RESPONSE_HEADERS = frozenset({"set-cookie"})
#: Headers that describe the wire form, not the body the transport handed over.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})
#: Query parameters that carry credentials (Gemini's ``key``, Azure SAS ``sig``).
SECRET_PARAMS = frozenset({"key", "api_key", "api-key", "apikey", "token", "sig", "signature"})


@dataclass(slots=True)
class Exchange:
    """One request and the response it got."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    #: (seconds after sending, bytes) per piece of the body, in arrival order.
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    #: False when the caller stopped reading before the body ended (an abandoned stream).
    complete: bool = True
    #: How the connection failed mid-body, replayed as the same failure after the chunks.
    error: str | None = None
    #: Replayed already in this session (each exchange plays once).
    played: bool = False

    @property
    def body_bytes(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)


def scrub_url(url: str) -> str:
    """``url`` without credentials in its authority or key-like query parameters."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs])
    return redact(parts._replace(netloc=netloc, query=query).geturl())


def scrub_headers(headers: dict[str, str], secret: frozenset[str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in WIRE_HEADERS:
            continue
        out[lower] = MASK if lower in secret else redact(value)
    return out


def parse_body(body: bytes) -> Any:
    """A request body as stored: parsed JSON (secrets scrubbed), else text, else base64."""
    if not body:
        return None
    try:
        return scrub(_json.loads(body))
    except ValueError:
        pass
    try:
        return redact(body.decode("utf-8"))
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}


def _chunk_to_yaml(at: float, chunk: bytes) -> dict[str, Any]:
    try:
        return {"at": round(at, 4), "text": redact(chunk.decode("utf-8"))}
    except UnicodeDecodeError:
        return {"at": round(at, 4), "base64": base64.b64encode(chunk).decode("ascii")}


def _chunk_from_yaml(raw: Any, where: str) -> tuple[float, bytes]:
    if not isinstance(raw, dict) or not isinstance(raw.get("at", 0.0), int | float):
        raise ConfigError(f"{where}: a chunk must be {{at: seconds, text: ...}}")
    if isinstance(raw.get("text"), str):
        return float(raw.get("at", 0.0)), raw["text"].encode("utf-8")
    if isinstance(raw.get("base64"), str):
        return float(raw.get("at", 0.0)), base64.b64decode(raw["base64"])
    raise ConfigError(f"{where}: a chunk needs text or base64")


def to_document(exchanges: list[Exchange]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "exchanges": [
            {
                "request": {
                    "method": e.method,
                    "url": e.url,
                    "headers": e.headers,
                    "body": e.body,
                },
                "response": {
                    "status": e.status,
                    "headers": e.response_headers,
                    **({} if e.complete else {"complete": False}),
                    **({} if e.error is None else {"error": redact(e.error)}),
                    "chunks": [_chunk_to_yaml(at, chunk) for at, chunk in e.chunks],
                },
            }
            for e in exchanges
        ],
    }


def from_document(document: Any, where: str) -> list[Exchange]:
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise ConfigError(f"{where} is not a steadyllm cassette (version: {VERSION})")
    exchanges = document.get("exchanges") or []
    if not isinstance(exchanges, list):
        raise ConfigError(f"{where}: exchanges must be a list")
    out = []
    for number, raw in enumerate(exchanges, 1):
        here = f"{where}, exchange {number}"
        try:
            request, response = raw["request"], raw["response"]
            out.append(
                Exchange(
                    str(request["method"]),
                    str(request["url"]),
                    dict(request.get("headers") or {}),
                    request.get("body"),
                    int(response["status"]),
                    dict(response.get("headers") or {}),
                    [_chunk_from_yaml(c, here) for c in response.get("chunks") or []],
                    bool(response.get("complete", True)),
                    None if response.get("error") is None else str(response["error"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{here} is malformed ({type(exc).__name__}: {exc})") from None
    return out


def load(path: Path) -> list[Exchange]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cassette {path} is not valid YAML: {exc}") from None
    return from_document(document, f"cassette {path}")


def save(path: Path, exchanges: list[Exchange]) -> None:
    """Write the whole cassette, or nothing: a temporary file renamed over the old."""
    import yaml

    text = yaml.dump(
        to_document(exchanges), Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=100
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text("# steadyllm cassette: recorded HTTP exchanges, secrets scrubbed\n" + text)
    os.replace(temporary, path)


def _dumper() -> Any:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> Any:
        # Streams read line by line, as on the wire; text YAML would fold or strip
        # (other line breaks, control characters) goes double-quoted, escaped.
        block = "\n" in value and value.replace("\n", "").isprintable()
        style = "|" if block else (None if value.isprintable() else '"')
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper
