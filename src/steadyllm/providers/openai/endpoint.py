"""Where and how to send a Chat Completions (or Responses) request: URL and
authentication.

api.openai.com and compatible servers take ``POST {base_url}/chat/completions``
(``/responses`` for the Responses API, ``/embeddings`` for embeddings)
with a Bearer key (optional for local servers); Azure takes ``api-key`` (or an
Entra token) and either the v1 URL or the classic deployment URL plus
``api-version``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..._config.settings import Secret
from ..._core.types import Request
from ..._http.request import HTTPRequest

OPENAI_BASE_URL = "https://api.openai.com/v1"


def _base_headers(request: Request, extra: Mapping[str, str]) -> dict[str, str]:
    headers = {"content-type": "application/json", **extra}
    if request.stream:
        headers["accept"] = "text/event-stream"
    return headers


def path_of(request: Request, path: str) -> str:
    """An embeddings call goes to ``/embeddings`` whichever API the model string names;
    a token count to the API's own count route (the Responses API's ``/input_tokens``)."""
    if request.embed:
        return "/embeddings"
    return path + "/input_tokens" if request.count else path


@dataclass(slots=True)
class OpenAIEndpoint:
    """``POST {base_url}/chat/completions`` with a Bearer key (optional for local servers)."""

    provider: str
    base_url: str
    api_key: Secret | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: ``/chat/completions``, or ``/responses`` for the Responses API.
    path: str = "/chat/completions"

    def request(self, request: Request, body: bytes) -> HTTPRequest:
        headers = _base_headers(request, self.headers)
        if self.api_key is not None:
            headers["authorization"] = f"Bearer {self.api_key.get()}"
        url = self.base_url.rstrip("/") + path_of(request, self.path)
        return HTTPRequest("POST", url, headers, body)


@dataclass(slots=True)
class AzureEndpoint:
    """Azure OpenAI: the model name is the deployment. ``api_version="v1"`` uses
    ``{endpoint}/openai/v1/chat/completions`` (model in the body); any dated version
    uses ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=``."""

    base_url: str
    api_key: Secret | None = None
    api_version: str = "2024-10-21"
    ad_token: Secret | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    provider: str = "azure"
    path: str = "/chat/completions"

    def request(self, request: Request, body: bytes) -> HTTPRequest:
        headers = _base_headers(request, self.headers)
        if self.ad_token is not None:
            headers["authorization"] = f"Bearer {self.ad_token.get()}"
        elif self.api_key is not None:
            headers["api-key"] = self.api_key.get()
        root, path = self.base_url.rstrip("/"), path_of(request, self.path)
        if self.api_version == "v1":
            return HTTPRequest("POST", f"{root}/openai/v1{path}", headers, body)
        url = f"{root}/openai/deployments/{request.model}{path}"
        return HTTPRequest("POST", url, headers, body, params={"api-version": self.api_version})
