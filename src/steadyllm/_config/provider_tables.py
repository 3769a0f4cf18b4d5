"""``[providers.NAME]`` tables: network, header and wire options of one provider.

    [providers.openai]
    proxy = "http://proxy.corp.example:3128"     # or "direct"
    ca_bundle = "/etc/ssl/corp-ca.pem"
    client_cert = "/etc/ssl/me.pem"
    client_key = "/etc/ssl/me.key"
    tls_trust = "system"
    headers = { "OpenAI-Beta" = "assistants=v2" }

    [providers.acme]                             # any OpenAI-compatible vendor
    base_url = "https://api.acme.example/v1"
    api_key_env = "ACME_API_KEY"
    max_tokens_field = "max_tokens"
    stream_usage = false
    ignored = ["parallel_tool_calls"]
    prices = "together"

Each network key overrides the global setting of the same meaning (``LLM_PROXY``,
``LLM_CA_BUNDLE``, ...) for that provider only. The wire keys (``base_url`` and
below) define a compatible provider of that name, or adjust a compatible
preset (``groq``, ``vllm``...). ``NAME`` is a provider as model strings name it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._core.checks import check_headers
from .._core.errors import ConfigError, InvalidRequestError
from .._core.redact import register_url_credentials
from .rotating import TokenProvider
from .secret import Secret
from .urls import proxy_url, valid_host


@dataclass(frozen=True, slots=True)
class ProviderOptions:
    """One provider's table; None (or empty) means "the global setting"."""

    proxy: str | None = None
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    tls_trust: str | None = None
    #: Sent with every request of this provider (a call's ``headers=`` win).
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Wire options of an OpenAI-compatible provider (a preset's own when None).
    base_url: str | None = None
    api_key: Secret | None = None
    #: The variable ``api_key`` was read from (named when it is not set).
    api_key_env: str | None = None
    max_tokens_field: str | None = None
    stream_usage: bool | None = None
    ignored: frozenset[str] | None = None
    #: The genai-prices provider id its models are priced under.
    prices: str | None = None

    @property
    def defines_wire(self) -> bool:
        """Whether the table says anything about the wire (not only the network)."""
        return any(getattr(self, key) is not None for key in WIRE_KEYS)

    def with_key_from(self, *sources: Mapping[str, str]) -> ProviderOptions:
        """This table with ``api_key_env`` looked up in ``sources`` (first set wins)."""
        if self.api_key_env is None or self.api_key is not None:
            return self
        for source in sources:
            value = source.get(self.api_key_env)
            if value:
                return replace(self, api_key=Secret(value))
        return self

    def __repr__(self) -> str:  # a proxy URL may carry a password
        from .._core.redact import redact

        set_ = {k: getattr(self, k) for k in _PARSERS if getattr(self, k)}
        return redact(f"ProviderOptions({set_!r})")


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"invalid {key} in {where}: expected a non-empty string")
    return value


def _choice(*accepted: str) -> Callable[[Any, str, str], str]:
    def parse(value: Any, key: str, where: str) -> str:
        if value not in accepted:
            raise ConfigError(f"invalid {key} in {where}: expected {' or '.join(accepted)}")
        return str(value)

    return parse


def _base_url(value: Any, key: str, where: str) -> str:
    text = _text(value, key, where).strip()
    if not text.startswith(("http://", "https://")) or not valid_host(text):
        raise ConfigError(f"invalid {key} in {where}: expected an http:// or https:// URL")
    register_url_credentials(text)
    return text


def _env_name(value: Any, key: str, where: str) -> str:
    text = _text(value, key, where)
    if not text.replace("_", "").isalnum():
        raise ConfigError(f"invalid {key} in {where}: expected a variable name like ACME_API_KEY")
    return text


def _bool(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"invalid {key} in {where}: expected true or false")
    return value


def _names(value: Any, key: str, where: str) -> frozenset[str]:
    if not isinstance(value, list | tuple | frozenset | set) or not all(
        isinstance(v, str) and v for v in value
    ):
        raise ConfigError(f"invalid {key} in {where}: expected a list of option names")
    return frozenset(value)


def _proxy(value: Any, key: str, where: str) -> str:
    text = _text(value, key, where)

    def bad(reason: str) -> ConfigError:
        return ConfigError(
            f"invalid value {text!r} for proxy in {where}; expected a proxy URL (http://, "
            "https://, socks5://, socks5h://) or direct"
        )

    return proxy_url(text.strip(), bad)


def _headers(value: Any, key: str, where: str) -> dict[str, str]:
    try:
        check_headers(value)
    except InvalidRequestError as exc:
        raise ConfigError(f"invalid {exc.message} in {where}") from None
    return dict(value)


def _secret(value: Any, key: str, where: str) -> Secret:
    if isinstance(value, Secret):
        return value
    if callable(value):  # rotation, as for every key setting
        return TokenProvider(value, what=f"{where} api_key")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"invalid {key} in {where}: expected a non-empty string (hidden)")
    return Secret(value.strip())


#: Each key of a table and how its value is checked.
_PARSERS: dict[str, Callable[[Any, str, str], Any]] = {
    "proxy": _proxy,
    "ca_bundle": _text,
    "client_cert": _text,
    "client_key": _text,
    "tls_trust": _choice("default", "system"),
    "headers": _headers,
    "base_url": _base_url,
    "api_key": _secret,
    "api_key_env": _env_name,
    "max_tokens_field": _choice("max_tokens", "max_completion_tokens"),
    "stream_usage": _bool,
    "ignored": _names,
    "prices": _text,
}
WIRE_KEYS = ("base_url", "api_key", "api_key_env", "max_tokens_field", "stream_usage", "ignored")


def provider_tables(raw: Any, where: str) -> dict[str, ProviderOptions]:
    """``{name: {key: value}}``, checked key by key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"invalid providers in {where}: expected [providers.NAME] tables")
    out: dict[str, ProviderOptions] = {}
    known = ", ".join(_PARSERS)
    for name, table in raw.items():
        here = f"[providers.{name}] in {where}"
        if isinstance(table, ProviderOptions):
            out[str(name)] = table
            continue
        if not isinstance(table, Mapping):
            raise ConfigError(f"invalid {here}: expected a table of {known}")
        unknown = set(table) - set(_PARSERS)
        if unknown:
            raise ConfigError(f"unknown key {sorted(unknown)[0]!r} in {here}; known: {known}")
        values = {key: _PARSERS[key](value, key, here) for key, value in table.items()}
        out[str(name)] = ProviderOptions(**values)
    return out
