"""A provider's transport as its settings describe it: the proxy it goes
through, the TLS it trusts and shows, and the headers its table adds.

A ``[providers.NAME]`` table overrides the global settings for that provider
(``proxy`` over ``LLM_PROXY`` over the proxy variables, ``ca_bundle`` over
``LLM_CA_BUNDLE``, and so on); docs/networking.md has the whole order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._http.proxy import ProxyRules, proxy_rules
from .._http.tls import TLSConfig
from .._http.transport import HTTPTransport

if TYPE_CHECKING:
    from .._config.provider_tables import ProviderOptions
    from .._config.settings import Settings


def _options(settings: Settings, provider: str) -> ProviderOptions | None:
    return settings.providers.get(provider)


def provider_proxies(settings: Settings, provider: str) -> ProxyRules | None:
    """Which proxy each origin of ``provider`` goes through."""
    table = _options(settings, provider)
    explicit, source = settings.proxy, "LLM_PROXY"
    if table is not None and table.proxy is not None:
        explicit, source = table.proxy, f"[providers.{provider}] proxy"
    return proxy_rules(
        settings.proxy_env, trust_env=settings.trust_env, explicit=explicit, explicit_source=source
    )


def provider_tls(settings: Settings, provider: str) -> TLSConfig:
    """What ``provider``'s connections trust and which client certificate they show."""
    table = _options(settings, provider)
    here = f"[providers.{provider}]"
    ca, ca_source = settings.ca_bundle, "LLM_CA_BUNDLE"
    cert, key, cert_source = settings.client_cert, settings.client_key, "LLM_CLIENT_CERT"
    trust = settings.tls_trust
    if table is not None:
        if table.ca_bundle is not None:
            ca, ca_source = table.ca_bundle, f"{here} ca_bundle"
        if table.client_cert is not None:
            cert, key, cert_source = table.client_cert, table.client_key, f"{here} client_cert"
        trust = table.tls_trust or trust
    return TLSConfig(ca, trust, cert, key, ca_source, cert_source)


def provider_transport(settings: Settings, provider: str) -> HTTPTransport:
    return HTTPTransport(
        connect_timeout=settings.connect_timeout_ms / 1000.0,
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_body_bytes,
        proxies=provider_proxies(settings, provider),
        tls=provider_tls(settings, provider),
    )


def provider_headers(settings: Settings, provider: str) -> dict[str, str]:
    """The headers ``[providers.NAME] headers`` adds to every request."""
    table = _options(settings, provider)
    return {} if table is None else {k.lower(): v for k, v in table.headers.items()}
