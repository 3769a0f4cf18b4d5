"""What goes on the wire: the request, its target (URL parts, credentials,
TLS server name) and the request head, with the header checks that keep a
value from breaking the framing; and the transport's size limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlencode, urlsplit

from .._core.errors import ConfigError
from .._core.redact import redact, register_url_credentials

if TYPE_CHECKING:
    from .proxy import Proxy

#: Idle connections older than this are closed instead of reused: below the
#: keep-alive timeout of common servers (uvicorn 5 s is the exception; a
#: server that closes first is noticed at once, the socket reports it).
IDLE_SECONDS = 15.0


#: A streamed body buffered and not yet consumed beyond this pauses reading.
HIGH_WATER = 1 << 20


#: Defaults for what a server may send (settings LLM_MAX_HEADER_BYTES, LLM_MAX_BODY_BYTES).
MAX_HEADER_BYTES = 65_536


MAX_HEADER_LINES = 500  # as many as any API sends, many times over


MAX_BODY_BYTES = 256 << 20


#: Headers the transport writes itself; a caller's copy would be sent twice.
_OWN_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "proxy-authorization"}
)


#: Headers whose values are credentials: never shown in a repr.
SECRET_HEADERS = frozenset(
    {"authorization", "api-key", "x-api-key", "x-goog-api-key", "proxy-authorization"}
)


@dataclass(slots=True)
class HTTPRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    #: Extra query parameters (Azure's api-version).
    params: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        headers = {
            k: "[REDACTED]" if k.lower() in SECRET_HEADERS else redact(v)
            for k, v in self.headers.items()
        }
        return (
            f"HTTPRequest({self.method} {redact(self.url)!r}, headers={headers!r}, "
            f"body={len(self.body)} bytes)"
        )


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL means to the pool, parsed once per distinct URL."""

    origin: str  # scheme://host:port, for messages
    key: tuple[str, str, int]  # the pool a connection belongs to
    host: str
    port: int
    tls: bool
    host_header: str
    path: str  # path and query, percent-encoded
    #: ``authorization`` value from credentials in the URL (``https://user:pass@host``).
    basic_auth: str | None = None


_targets: dict[str, Target] = {}


def target_of(url: str) -> Target:
    found = _targets.get(url)
    if found is not None:
        return found
    register_url_credentials(url)
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # "http://[::1/v1": an unclosed IPv6 bracket
        problem = str(exc)
        parts = None
    if parts is None:
        raise ConfigError(
            f"cannot send a request to {redact(url)!r}: {problem}; check the base URL"
        )
    scheme = parts.scheme.lower()
    shown_url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # no credentials
    if scheme not in ("http", "https") or not hostname:
        raise ConfigError(
            f"cannot send a request to {shown_url!r}: a base URL must start with http:// or "
            "https:// and name a host"
        )
    host = hostname
    if (":" not in host and any(len(label) > 63 for label in host.split("."))) or len(host) > 253:
        raise ConfigError(
            f"the host in {shown_url!r} is not a valid name: each dot-separated part may "
            "have at most 63 characters, the whole at most 253"
        )
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"the port in {shown_url!r} is not a number from 0 to 65535") from None
    basic_auth = None
    if parts.username is not None:
        import base64

        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        basic_auth = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    default_port = port == (443 if scheme == "https" else 80)
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if default_port else f"{shown}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    found = Target(
        f"{scheme}://{host_header}",
        (scheme, host, port),
        host,
        port,
        scheme == "https",
        host_header,
        path,
        basic_auth,
    )
    if len(_targets) > 256:  # URLs are few (one per endpoint); never let them pile up
        _targets.clear()
    _targets[url] = found
    return found


def request_head(request: HTTPRequest, target: Target, forward: Proxy | None = None) -> bytes:
    """The request line and headers. Through a forwarding proxy (an http origin),
    the request line carries the absolute URL and the proxy's credentials follow."""
    path = target.path
    if request.params:
        path += ("&" if "?" in path else "?") + urlencode(request.params)
    if forward is not None:
        path = target.origin + path
    lines = [f"{request.method} {path} HTTP/1.1", f"host: {target.host_header}"]
    if forward is not None and forward.authorization is not None:
        lines.append(f"proxy-authorization: {forward.authorization}")
    gzip, auth = True, target.basic_auth
    for name, value in request.headers.items():
        lower = name.lower()
        if lower in _OWN_HEADERS:
            continue
        if lower == "accept-encoding":
            gzip = False
        elif lower == "authorization":
            auth = None  # the caller's wins over credentials in the URL
        lines.append(f"{name}: {value}")
    if gzip:
        lines.append("accept-encoding: gzip, deflate")
    if auth is not None:
        lines.append(f"authorization: {auth}")
    lines.append(f"content-length: {len(request.body)}")
    text = "\r\n".join(lines)
    # A line break inside a name or value would end the header early (and let the
    # rest be read as another header): one count proves there is none.
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise _bad_header(request, "contains a line break", _has_line_break)
    try:
        return (text + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        pass  # raised below: the UnicodeEncodeError holds the whole head, keys included
    raise _bad_header(request, "has characters HTTP headers cannot carry", _not_latin1)


def _has_line_break(text: str) -> bool:
    return "\r" in text or "\n" in text


def _not_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return True
    return False


def _bad_header(request: HTTPRequest, problem: str, bad: Callable[[str], bool]) -> ConfigError:
    for name, value in request.headers.items():
        if bad(name) or bad(value):
            # Never the value: it is usually an API key.
            return ConfigError(
                f"the {name!r} header {problem}; check the value it comes from (an API "
                "key read from a file often ends with a newline)"
            )
    # The request line cannot be the culprit: urlsplit drops line breaks, quote() encodes.
    raise AssertionError("a header check failed without a bad header")  # pragma: no cover
