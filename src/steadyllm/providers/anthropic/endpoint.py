"""Where and how to send a Messages request: URL and authentication per API
version (2026-10-21 authenticates with Bearer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..._config.settings import Secret
from ..._core.types import Request
from ..._http.request import HTTPRequest


def auth_headers(api_key: str, version: str) -> dict[str, str]:
    if version == "2023-06-01":
        return {"x-api-key": api_key, "anthropic-version": version}
    return {"authorization": f"Bearer {api_key}", "anthropic-version": version}


ANTHROPIC_BASE_URL = "https://api.anthropic.com"


@dataclass(slots=True)
class AnthropicEndpoint:
    """``POST {base_url}/v1/messages``, authenticated per API version."""

    api_key: Secret
    base_url: str = ANTHROPIC_BASE_URL
    version: str = "2023-06-01"
    headers: Mapping[str, str] = field(default_factory=dict)
    provider: str = "anthropic"

    def request(self, request: Request, body: bytes) -> HTTPRequest:
        headers = {
            "content-type": "application/json",
            **auth_headers(self.api_key.get(), self.version),
            **self.headers,
        }
        if request.stream:
            headers["accept"] = "text/event-stream"
        path = "/v1/messages/count_tokens" if request.count else "/v1/messages"
        return HTTPRequest("POST", self.base_url.rstrip("/") + path, headers, body)
