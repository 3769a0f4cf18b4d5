"""``[providers.NAME]`` tables: network and header options of one provider.

    [providers.openai]
    proxy = "http://proxy.corp.example:3128"     # or "direct"
    ca_bundle = "/etc/ssl/corp-ca.pem"
    client_cert = "/etc/ssl/me.pem"
    client_key = "/etc/ssl/me.key"
    tls_trust = "system"
    headers = { "OpenAI-Beta" = "assistants=v2" }

Each key overrides the global setting of the same meaning (``LLM_PROXY``,
``LLM_CA_BUNDLE``, ...) for that provider only. ``NAME`` is a provider as
model strings name it (``openai``, ``azure``, ``vllm``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._core.checks import check_headers
from .._core.errors import ConfigError, InvalidRequestError
from .urls import proxy_url


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

    def __repr__(self) -> str:  # a proxy URL may carry a password
        from .._core.redact import redact

        set_ = {k: getattr(self, k) for k in _KEYS if getattr(self, k)}
        return redact(f"ProviderOptions({set_!r})")


_KEYS = ("proxy", "ca_bundle", "client_cert", "client_key", "tls_trust", "headers")


def provider_tables(raw: Any, where: str) -> dict[str, ProviderOptions]:
    """``{name: {key: value}}``, checked key by key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"invalid providers in {where}: expected [providers.NAME] tables")
    out: dict[str, ProviderOptions] = {}
    for name, table in raw.items():
        here = f"[providers.{name}] in {where}"
        if isinstance(table, ProviderOptions):
            out[str(name)] = table
            continue
        if not isinstance(table, Mapping):
            raise ConfigError(f"invalid {here}: expected a table of {', '.join(_KEYS)}")
        unknown = set(table) - set(_KEYS)
        if unknown:
            raise ConfigError(
                f"unknown key {sorted(unknown)[0]!r} in {here}; known: {', '.join(_KEYS)}"
            )
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key == "headers":
                values[key] = _headers(value, here)
                continue
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"invalid {key} in {here}: expected a non-empty string")
            if key == "tls_trust" and value not in ("default", "system"):
                raise ConfigError(f"invalid tls_trust in {here}: expected default or system")
            values[key] = _proxy(value, f"proxy in {here}") if key == "proxy" else value
        out[str(name)] = ProviderOptions(**values)
    return out


def _proxy(text: str, where: str) -> str:
    def bad(reason: str) -> ConfigError:
        return ConfigError(
            f"invalid value {text!r} for {where}; expected a proxy URL (http://, https://, "
            "socks5://, socks5h://) or direct"
        )

    return proxy_url(text.strip(), bad)


def _headers(value: Any, where: str) -> dict[str, str]:
    try:
        check_headers(value)
    except InvalidRequestError as exc:
        raise ConfigError(f"invalid {exc.message} in {where}") from None
    return dict(value)
