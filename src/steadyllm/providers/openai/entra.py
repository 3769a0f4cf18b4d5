"""Microsoft Entra ID for Azure OpenAI: tokens from azure-identity's
``DefaultAzureCredential`` (environment, workload and managed identity, the
Azure CLI...) for the Cognitive Services scope, as the openai SDK's
``get_bearer_token_provider`` does. azure-identity is optional and heavy: it
is looked up when the provider is made, and imported (in a worker thread) on
the first token fetch.
"""

from __future__ import annotations

from typing import Any

from ..._config.rotating import TokenProvider
from ..._core.errors import ConfigError

#: The scope Azure OpenAI accepts tokens for.
SCOPE = "https://cognitiveservices.azure.com/.default"


def entra_token_provider() -> TokenProvider:
    import importlib.util

    try:
        found = importlib.util.find_spec("azure.identity") is not None
    except (ImportError, ValueError):  # no azure package at all
        found = False
    if not found:
        raise ConfigError(
            "AZURE_OPENAI_AUTH=entra needs azure-identity: pip install 'steadyllm[azure]' "
            "(or pass a token callable as azure_openai_ad_token)"
        )
    credential: list[Any] = []

    def fetch() -> Any:  # runs in a worker thread: the credential may block on I/O
        if not credential:
            from azure.identity import DefaultAzureCredential  # type: ignore[import-not-found]

            credential.append(DefaultAzureCredential())
        return credential[0].get_token(SCOPE)  # an AccessToken: .token, .expires_on

    return TokenProvider(fetch, what="Microsoft Entra ID token (AZURE_OPENAI_AUTH=entra)")
