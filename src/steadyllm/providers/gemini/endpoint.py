"""Where and how to send a ``generateContent`` request.

The Gemini API takes ``POST {base}/v1beta/models/{MODEL}:generateContent`` (and
``:streamGenerateContent?alt=sse``; ``:batchEmbedContents`` for embeddings) with
the key in ``x-goog-api-key``, never in the URL, where proxies and logs would keep
it. Vertex AI takes
``POST {base}/v1/projects/{P}/locations/{L}/publishers/google/models/{MODEL}:...``
(``:predict`` for embeddings) with an OAuth bearer token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from ..._config.settings import Secret
from ..._core.types import Request
from ..._http.request import HTTPRequest

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"


def _method(request: Request, embed: str) -> tuple[str, dict[str, str]]:
    if request.embed:
        return embed, {}
    if request.count:
        return "countTokens", {}
    if request.stream:
        return "streamGenerateContent", {"alt": "sse"}
    return "generateContent", {}


def _model(request: Request) -> str:
    return quote(request.model.removeprefix("models/"), safe="-._~@")


def _headers(request: Request, extra: Mapping[str, str]) -> dict[str, str]:
    headers = {"content-type": "application/json", **extra}
    if request.stream:
        headers["accept"] = "text/event-stream"
    return headers


@dataclass(slots=True)
class GeminiEndpoint:
    base_url: str
    api_key: Secret | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    provider: str = "gemini"

    def request(self, request: Request, body: bytes) -> HTTPRequest:
        headers = _headers(request, self.headers)
        if self.api_key is not None:
            headers["x-goog-api-key"] = self.api_key.get()
        method, params = _method(request, "batchEmbedContents")
        url = f"{self.base_url.rstrip('/')}/v1beta/models/{_model(request)}:{method}"
        return HTTPRequest("POST", url, headers, body, params=params)


def vertex_base_url(location: str) -> str:
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


@dataclass(slots=True)
class VertexEndpoint:
    base_url: str
    project: str
    location: str
    token: Secret | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    provider: str = "vertex"

    def request(self, request: Request, body: bytes) -> HTTPRequest:
        headers = _headers(request, self.headers)
        if self.token is not None:
            headers["authorization"] = f"Bearer {self.token.get()}"
        method, params = _method(request, "predict")
        path = (
            f"/v1/projects/{quote(self.project, safe='')}/locations/{quote(self.location, safe='')}"
            f"/publishers/google/models/{_model(request)}:{method}"
        )
        return HTTPRequest("POST", self.base_url.rstrip("/") + path, headers, body, params=params)
