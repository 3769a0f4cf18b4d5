"""The TLS a connection verifies with: which CAs it trusts and which client
certificate it shows, built once per distinct configuration and process.

Loading a CA store costs 10-30 ms, so a context is built on the first TLS
connection that needs it, not at import or when a client is made, and shared
by every transport with the same ``TLSConfig``. The default is the standard
library's default context, which honours ``SSL_CERT_FILE`` and
``SSL_CERT_DIR``; ``ca_bundle`` replaces the store with one PEM file;
``trust="system"`` asks the operating system through truststore (Windows and
macOS keychains, the distribution's store on Linux). A file that cannot be
read, or a client key that does not match its certificate, is a
``ConfigError`` naming the setting that gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core.errors import ConfigError

if TYPE_CHECKING:
    import ssl

#: TLS trust sources, the values of LLM_TLS_TRUST.
TRUSTS = ("default", "system")


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """What to trust and what to show. Each ``*_source`` names the setting a value
    came from, for error messages (``LLM_CA_BUNDLE``, ``[providers.openai] ca_bundle``)."""

    ca_bundle: str | None = None
    trust: str = "default"
    client_cert: str | None = None
    client_key: str | None = None
    ca_source: str = "LLM_CA_BUNDLE"
    cert_source: str = "LLM_CLIENT_CERT"

    def hint(self) -> str:
        """What to change when a server's certificate does not verify."""
        if self.ca_bundle is not None:
            return (
                f"the CA bundle {self.ca_bundle} (from {self.ca_source}) does not include "
                "the CA that issued it; add that CA's certificate to the bundle"
            )
        if self.trust == "system":
            return (
                "the operating system's trust store (LLM_TLS_TRUST=system) does not trust "
                "it; install the issuing CA there, or set LLM_CA_BUNDLE to a PEM bundle"
            )
        return (
            "if it is issued by a private CA (a corporate proxy, say), set LLM_CA_BUNDLE "
            "(or SSL_CERT_FILE) to a PEM bundle that includes it, or LLM_TLS_TRUST=system "
            "to use the operating system's trust store"
        )


_contexts: dict[TLSConfig, ssl.SSLContext] = {}


def tls_context(config: TLSConfig) -> ssl.SSLContext:
    """The context for ``config``, built on first use and kept for the process."""
    found = _contexts.get(config)
    if found is None:
        found = _build(config)
        _contexts[config] = found
    return found


def _build(config: TLSConfig) -> ssl.SSLContext:
    import ssl

    if config.trust == "system":
        if config.ca_bundle is not None:
            raise ConfigError(
                f"LLM_TLS_TRUST=system and a CA bundle ({config.ca_source}) are two "
                "different trust stores; set one of them"
            )
        context: ssl.SSLContext = _system_store()
    elif config.ca_bundle is not None:
        try:
            context = ssl.create_default_context(cafile=config.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot use the CA bundle {config.ca_bundle} (from {config.ca_source}): "
                f"{_reason(exc)}; it must be a readable file of PEM certificates"
            ) from None
    else:
        context = ssl.create_default_context()
    if config.client_cert is not None:
        _load_client_cert(context, config)
    context.set_alpn_protocols(["http/1.1"])
    return context


#: Where Linux distributions keep their CA bundle, when OpenSSL's own paths are empty
#: (the list truststore uses, after certifi-system-store).
CA_FILE_CANDIDATES = (
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
)


def _system_store() -> ssl.SSLContext:
    """The operating system's trust store. On Windows and macOS, truststore asks the
    OS per connection. On Linux the store is files OpenSSL reads, and truststore would
    load them again for every connection (~100 ms, on the event loop): they are loaded
    once here instead, found as truststore finds them."""
    import os
    import re
    import ssl
    import sys

    if sys.platform in ("win32", "darwin"):  # pragma: no cover - the CI runs on Linux
        try:
            import truststore
        except ImportError:
            raise ConfigError(
                "LLM_TLS_TRUST=system needs the truststore package: pip install truststore"
            ) from None
        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    paths = ssl.get_default_verify_paths()
    hashed = re.compile(r"^[0-9a-fA-F]{8}\.[0-9]$")
    capath_has_certs = bool(paths.capath) and any(
        hashed.match(name) for name in os.listdir(str(paths.capath))
    )
    if paths.cafile or capath_has_certs:
        context.set_default_verify_paths()
    else:
        found = next((f for f in CA_FILE_CANDIDATES if os.path.isfile(f)), None)
        if found is not None:
            context.load_verify_locations(cafile=found)
    return context


def _load_client_cert(context: ssl.SSLContext, config: TLSConfig) -> None:
    import ssl

    assert config.client_cert is not None
    try:
        # An encrypted key would make OpenSSL prompt on the terminal: fail instead.
        context.load_cert_chain(config.client_cert, config.client_key, password=_no_password)
    except (OSError, ssl.SSLError) as exc:
        key = f" and key {config.client_key}" if config.client_key else ""
        raise ConfigError(
            f"cannot use the client certificate {config.client_cert}{key} (from "
            f"{config.cert_source}): {_reason(exc)}; it must be a PEM certificate with "
            "its private key (in the same file, or in the key setting), unencrypted"
        ) from None


def _no_password() -> bytes:
    raise ConfigError("the client key is encrypted; steadyllm needs an unencrypted key file")


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    return str(reason).replace("_", " ").lower()
