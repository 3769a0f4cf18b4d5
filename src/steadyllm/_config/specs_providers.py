"""Providers: keys, base URLs and API versions of each provider.

Each setting is written once, here: its type (the annotation), variable,
default, meaning and range; ``Settings`` and the README table derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .spec import setting
from .specs_calls import _Calls

if TYPE_CHECKING:
    from .secret import Secret


@dataclass(frozen=True, slots=True)
class _Providers(_Calls):
    openai_api_key: Secret | None = setting(
        "OPENAI_API_KEY",
        None,
        "OpenAI API key.",
    )
    openai_base_url: str | None = setting(
        "OPENAI_BASE_URL",
        None,
        "OpenAI API base URL (default https://api.openai.com/v1).",
        kind="url",
    )
    openai_org_id: str | None = setting(
        "OPENAI_ORG_ID",
        None,
        "OpenAI organization, sent as `OpenAI-Organization` (as the official SDK does).",
    )
    openai_project_id: str | None = setting(
        "OPENAI_PROJECT_ID",
        None,
        "OpenAI project, sent as `OpenAI-Project`.",
    )
    anthropic_api_key: Secret | None = setting(
        "ANTHROPIC_API_KEY",
        None,
        "Anthropic API key.",
    )
    anthropic_base_url: str | None = setting(
        "ANTHROPIC_BASE_URL",
        None,
        "Anthropic API base URL (default https://api.anthropic.com).",
        kind="url",
    )
    anthropic_api_version: str = setting(
        "ANTHROPIC_API_VERSION",
        "2023-06-01",
        "`anthropic-version` header: 2023-06-01 (x-api-key) or 2026-10-21 (Bearer, no "
        "sampling parameters).",
    )
    azure_openai_api_key: Secret | None = setting(
        "AZURE_OPENAI_API_KEY",
        None,
        "Azure OpenAI key (sent as `api-key`).",
    )
    azure_openai_endpoint: str | None = setting(
        "AZURE_OPENAI_ENDPOINT",
        None,
        "Azure resource endpoint, e.g. https://NAME.openai.azure.com.",
        kind="url",
    )
    azure_openai_api_version: str = setting(
        "AZURE_OPENAI_API_VERSION",
        "2024-10-21",
        "Azure `api-version` for deployment URLs.",
    )
    azure_openai_ad_token: Secret | None = setting(
        "AZURE_OPENAI_AD_TOKEN",
        None,
        "Microsoft Entra ID token for Azure (sent as Bearer instead of `api-key`); in "
        "code, also a callable returning a token and its expiry.",
    )
    azure_openai_auth: str = setting(
        "AZURE_OPENAI_AUTH",
        "key",
        "`entra`: Entra ID tokens from azure-identity's DefaultAzureCredential.",
        kind="choice",
        choices=("key", "entra"),
    )
    openrouter_api_key: Secret | None = setting(
        "OPENROUTER_API_KEY",
        None,
        "OpenRouter API key.",
    )
    openrouter_base_url: str = setting(
        "OPENROUTER_BASE_URL",
        "https://openrouter.ai/api/v1",
        "OpenRouter base URL.",
        kind="url",
    )
    vllm_base_url: str = setting(
        "VLLM_BASE_URL",
        "http://localhost:8000/v1",
        "vLLM server base URL.",
        kind="url",
    )
    vllm_api_key: Secret | None = setting(
        "VLLM_API_KEY",
        None,
        "Key for a vLLM server started with --api-key.",
    )
    ollama_base_url: str = setting(
        "OLLAMA_BASE_URL",
        "http://localhost:11434/v1",
        "Ollama's OpenAI-compatible base URL.",
        kind="url",
    )
    llamacpp_base_url: str = setting(
        "LLAMACPP_BASE_URL",
        "http://localhost:8080/v1",
        "llama.cpp server base URL.",
        kind="url",
    )
    lmstudio_base_url: str = setting(
        "LMSTUDIO_BASE_URL",
        "http://localhost:1234/v1",
        "LM Studio server base URL.",
        kind="url",
    )
    compatible_base_url: str | None = setting(
        "COMPATIBLE_BASE_URL",
        None,
        "Base URL for `compatible:MODEL`, any other OpenAI-compatible server.",
        kind="url",
    )
    compatible_api_key: Secret | None = setting(
        "COMPATIBLE_API_KEY",
        None,
        "Key for `compatible:MODEL`, if the server wants one.",
    )
    groq_api_key: Secret | None = setting(
        "GROQ_API_KEY",
        None,
        "Groq API key, for `groq:MODEL`.",
    )
    deepseek_api_key: Secret | None = setting(
        "DEEPSEEK_API_KEY",
        None,
        "DeepSeek API key, for `deepseek:MODEL`.",
    )
    mistral_api_key: Secret | None = setting(
        "MISTRAL_API_KEY",
        None,
        "Mistral AI API key, for `mistral:MODEL`.",
    )
    xai_api_key: Secret | None = setting(
        "XAI_API_KEY",
        None,
        "xAI API key, for `xai:MODEL`.",
    )
    together_api_key: Secret | None = setting(
        "TOGETHER_API_KEY",
        None,
        "Together AI API key, for `together:MODEL`.",
    )
    fireworks_api_key: Secret | None = setting(
        "FIREWORKS_API_KEY",
        None,
        "Fireworks AI API key, for `fireworks:MODEL`.",
    )
    cerebras_api_key: Secret | None = setting(
        "CEREBRAS_API_KEY",
        None,
        "Cerebras API key, for `cerebras:MODEL`.",
    )
    gemini_api_key: Secret | None = setting(
        "GEMINI_API_KEY",
        None,
        "Gemini API key, sent as `x-goog-api-key` (never in the URL).",
    )
    google_api_key: Secret | None = setting(
        "GOOGLE_API_KEY",
        None,
        "Read for `gemini:MODEL` when GEMINI_API_KEY is not set (as google-genai does).",
    )
    gemini_base_url: str | None = setting(
        "GEMINI_BASE_URL",
        None,
        "Gemini API base URL (default https://generativelanguage.googleapis.com).",
        kind="url",
    )
    vertex_project: str | None = setting(
        "GOOGLE_CLOUD_PROJECT",
        None,
        "Google Cloud project for `vertex:MODEL`.",
    )
    vertex_location: str = setting(
        "GOOGLE_CLOUD_LOCATION",
        "us-central1",
        "Vertex AI location (`global` for the global endpoint).",
    )
    vertex_access_token: Secret | None = setting(
        "VERTEX_ACCESS_TOKEN",
        None,
        "OAuth access token for Vertex AI; in code, also a callable returning a token and "
        "its expiry. Unset: Application Default Credentials (the `vertex` extra).",
    )
    vertex_base_url: str | None = setting(
        "VERTEX_BASE_URL",
        None,
        "Vertex AI base URL (default https://LOCATION-aiplatform.googleapis.com).",
        kind="url",
    )
