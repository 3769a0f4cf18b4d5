"""Application Default Credentials for Vertex AI: google-auth's ``default()``
(a service account key, workload identity, the metadata server, ``gcloud auth
application-default login``) for the cloud-platform scope, refreshed in a worker
thread by the ``TokenProvider`` (ahead of expiry, one refresh at a time).
google-auth is optional: looked up when the provider is made, imported on the
first fetch.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from ..._config.rotating import Token, TokenProvider
from ..._core.errors import ConfigError

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def adc_token_provider() -> TokenProvider:
    import importlib.util

    try:
        found = importlib.util.find_spec("google.auth") is not None
    except (ImportError, ValueError):  # no google namespace package at all
        found = False
    if not found:
        raise ConfigError(
            "provider 'vertex' needs VERTEX_ACCESS_TOKEN, or google-auth for Application "
            "Default Credentials: pip install 'steadyllm[vertex]'"
        )
    credentials: list[Any] = []

    def fetch() -> Token:  # in a worker thread: refreshing does blocking I/O
        import google.auth  # type: ignore[import-untyped, unused-ignore]
        from google.auth.transport.requests import Request  # type: ignore[import-untyped, unused-ignore]

        if not credentials:
            found_credentials, _project = google.auth.default(scopes=[SCOPE])
            credentials.append(found_credentials)
        credentials[0].refresh(Request())
        expiry = credentials[0].expiry  # naive UTC, as google-auth keeps it
        expires = expiry.replace(tzinfo=UTC).timestamp() if expiry else 0.0
        return Token(str(credentials[0].token), expires)

    return TokenProvider(fetch, what="Google Application Default Credentials token")
