"""What a URL setting must be: a host DNS can carry; a proxy URL curl would take."""

from __future__ import annotations

from collections.abc import Callable

from .._core.errors import ConfigError
from .._core.redact import register_url_credentials

#: The schemes a proxy URL may have; socks ones need the ``socks`` extra.
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def proxy_url(text: str, bad: Callable[[str], ConfigError]) -> str:
    """A proxy URL as curl takes it (no scheme means http://), or ``direct``."""
    if text.lower() == "direct":
        return "direct"
    url = text if "://" in text else "http://" + text
    register_url_credentials(url)  # before any message could show the password
    scheme = url.partition("://")[0].lower()
    if scheme not in PROXY_SCHEMES or not valid_host(url):
        raise bad("")
    from urllib.parse import urlsplit

    try:
        _ = urlsplit(url).port
    except ValueError:
        raise bad("the port is not a number from 0 to 65535") from None
    return text


def valid_host(url: str) -> bool:
    """The URL parses and names a host whose labels DNS can carry."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:  # an unclosed IPv6 bracket, a bad port
        return False
    if not host:
        return False
    return ":" in host or (len(host) <= 253 and all(len(p) <= 63 for p in host.split(".")))
