"""Networks: proxies, the TLS trust store and client certificates.

Each setting is written once, here: its type (the annotation), variable,
default, meaning and range; ``Settings`` and the README table derive from it.
The standard proxy variables (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``,
``NO_PROXY``, either case) are not steadyllm settings: they are read as every
HTTP client reads them while ``LLM_TRUST_ENV`` is true (docs/networking.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import setting
from .specs_providers import _Providers


@dataclass(frozen=True, slots=True)
class _Network(_Providers):
    trust_env: bool = setting(
        "LLM_TRUST_ENV",
        True,
        "Use the proxy variables HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY.",
    )
    proxy: str | None = setting(
        "LLM_PROXY",
        None,
        "Proxy for every provider, over the proxy variables: http://, https://, "
        "socks5:// or socks5h:// (the `socks` extra), or `direct` for none.",
        kind="proxy",
    )
    ca_bundle: str | None = setting(
        "LLM_CA_BUNDLE",
        None,
        "PEM file of the CAs to trust, instead of the default store (SSL_CERT_FILE).",
    )
    tls_trust: str = setting(
        "LLM_TLS_TRUST",
        "default",
        "`system`: verify with the operating system's trust store (truststore).",
        kind="choice",
        choices=("default", "system"),
    )
    client_cert: str | None = setting(
        "LLM_CLIENT_CERT",
        None,
        "PEM client certificate for mutual TLS (with its key, or see LLM_CLIENT_KEY).",
    )
    client_key: str | None = setting(
        "LLM_CLIENT_KEY",
        None,
        "PEM private key of LLM_CLIENT_CERT, when it is a file of its own (unencrypted).",
    )
