"""Which proxy, if any, a request goes through: proxy URLs, ``NO_PROXY`` and the
standard environment variables, read as requests and httpx read them.

Pure: no I/O. ``ProxyRules.choose(target)`` is asked once per distinct origin
(the transport remembers the answer). Where implementations differ, the rules
follow curl, requests and httpx: a loopback origin is proxied like any other
unless ``NO_PROXY`` says otherwise (Go's localhost exemption is not copied); a
``NO_PROXY`` suffix matches only at a label boundary; a ``host:port`` entry
matches only that port; lower-case variables win over upper-case ones, and
``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` says the process is a CGI
script (httpoxy, as urllib does).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .._config.urls import PROXY_SCHEMES
from .._core.errors import ConfigError
from .._core.redact import register_url_credentials

#: A per-provider ``proxy`` that means "no proxy, whatever the environment says".
DIRECT = "direct"

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Proxy:
    """One proxy server. ``shown`` is its URL without credentials, ``source`` where
    it was configured (``HTTPS_PROXY``, ``LLM_PROXY``, ``[providers.openai] proxy``),
    both for messages; ``authorization`` the ``Proxy-Authorization`` value."""

    scheme: str
    host: str
    port: int
    source: str
    authorization: str | None = None
    #: user and password, for a SOCKS5 proxy (the Basic header is HTTP only).
    username: str | None = None
    password: str | None = None

    @property
    def shown(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def describe(self) -> str:
        return f"the proxy {self.shown} (from {self.source})"

    def __repr__(self) -> str:  # never the credentials
        return f"Proxy({self.shown!r}, source={self.source!r})"


def parse_proxy(url: str, source: str) -> Proxy:
    """A proxy URL as curl and requests accept it: ``http://user:pass@host:port``;
    without a scheme, ``http://`` is meant. A bad URL is a ``ConfigError`` naming
    ``source`` and never the password."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    register_url_credentials(text)
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise ConfigError(f"invalid proxy URL in {source}: {_problem(exc)}") from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise ConfigError(
            f"invalid proxy URL in {source}: scheme {scheme!r} is not one of "
            f"{', '.join(p + '://' for p in PROXY_SCHEMES)}"
        )
    if not host:
        raise ConfigError(f"invalid proxy URL in {source}: it names no host")
    default = {"http": 80, "https": 443}.get(scheme, 1080)
    user = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    authorization = None
    if user is not None and scheme in ("http", "https"):
        import base64

        pair = f"{user}:{password or ''}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return Proxy(scheme, host.lower(), port or default, source, authorization, user, password)


def _problem(exc: ValueError) -> str:
    text = str(exc)
    return "the port is not a number from 0 to 65535" if "port" in text.lower() else text


class NoProxy:
    """The hosts ``NO_PROXY`` exempts: ``*``; names (``example.com`` and
    ``.example.com`` both match ``example.com`` and ``api.example.com``, never
    ``badexample.com``); IP addresses; CIDR ranges; any of them with ``:port``."""

    __slots__ = ("everything", "names", "networks", "text")

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.everything = False
        self.names: list[tuple[str, int | None]] = []
        self.networks: list[tuple[_Network, int | None]] = []
        for raw in text.replace(" ", ",").split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                self.everything = True
                continue
            host, port = _split_port(entry)
            try:
                self.networks.append((ipaddress.ip_network(host, strict=False), port))
            except ValueError:
                self.names.append((host.lstrip(".").rstrip("."), port))

    def matches(self, host: str, port: int) -> bool:
        if self.everything:
            return True
        host = host.lower().rstrip(".")
        address = _address(host)
        if address is not None:
            for network, only in self.networks:
                if (only is None or only == port) and address in network:
                    return True
            return False
        for name, only in self.names:
            if (only is None or only == port) and (host == name or host.endswith("." + name)):
                return True
        return False

    def __bool__(self) -> bool:
        return self.everything or bool(self.names or self.networks)


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port``, ``v6`` (a bare IPv6 address has colons of its own)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def _address(host: str) -> _Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ProxyRules:
    """A proxy per origin scheme (None: direct) and the hosts that bypass them."""

    http: Proxy | None = None
    https: Proxy | None = None
    bypass: NoProxy | None = None

    def choose(self, tls: bool, host: str, port: int) -> Proxy | None:
        proxy = self.https if tls else self.http
        if proxy is None or (self.bypass is not None and self.bypass.matches(host, port)):
            return None
        return proxy


def environment_proxies(env: Mapping[str, str]) -> dict[str, str]:
    """Which variable of ``env`` sets each proxy, as urllib reads them: ``{"https":
    "https_proxy", "no": "NO_PROXY"}``. Lower case wins, an empty value is unset,
    and a CGI script's ``HTTP_PROXY`` (a request header, httpoxy) is ignored."""
    found: dict[str, str] = {}
    for name in ("http", "https", "all", "no"):
        for variable in (f"{name.upper()}_PROXY", f"{name}_proxy"):  # lower case last: it wins
            if name == "http" and variable == "HTTP_PROXY" and "REQUEST_METHOD" in env:
                continue  # httpoxy: in a CGI script HTTP_PROXY is a request header
            value = env.get(variable)
            if value is not None and value.strip():
                found[name] = variable
    return found


def proxy_rules(
    env: Mapping[str, str],
    *,
    trust_env: bool = True,
    explicit: str | None = None,
    explicit_source: str = "LLM_PROXY",
) -> ProxyRules | None:
    """The rules for one provider: ``explicit`` (a setting, ``direct`` for none) over
    the environment's variables; ``NO_PROXY`` applies to both while ``trust_env``."""
    bypass = None
    chosen = environment_proxies(env) if trust_env else {}
    if "no" in chosen:
        bypass = NoProxy(env[chosen["no"]])
    if explicit is not None:
        if explicit.strip().lower() == DIRECT:
            return None
        proxy = parse_proxy(explicit, explicit_source)
        return ProxyRules(proxy, proxy, bypass)
    if not chosen.keys() - {"no"}:
        return None
    every = parse_proxy(env[chosen["all"]], chosen["all"]) if "all" in chosen else None
    http = parse_proxy(env[chosen["http"]], chosen["http"]) if "http" in chosen else every
    https = parse_proxy(env[chosen["https"]], chosen["https"]) if "https" in chosen else every
    return ProxyRules(http, https, bypass)
