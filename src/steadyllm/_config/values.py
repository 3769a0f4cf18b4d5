"""One setting's value, from whatever gave it (code, an environment variable, a
TOML file), converted to its kind and checked against its range; a bad value is
a ``ConfigError`` naming the setting, where the value came from, and what is
accepted (a credential's value is never shown)."""

from __future__ import annotations

from typing import Any

from .._core.errors import ConfigError
from .._core.redact import register_url_credentials
from .rotating import TokenProvider
from .secret import Secret
from .spec import LOG_LEVELS, SettingSpec
from .urls import proxy_url, valid_host

_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off"))


def parse_value(spec: SettingSpec, raw: Any, where: str) -> Any:
    """Convert and check one value; ``where`` names its origin in the error."""
    if raw is None:
        return None
    if spec.kind == "secret" and isinstance(raw, Secret):
        return raw
    if spec.kind == "secret" and callable(raw):  # rotation: fetched and refreshed per call
        return TokenProvider(raw, what=f"{spec.env} credential")

    def bad(reason: str = "") -> ConfigError:
        shown = "(hidden)" if spec.kind == "secret" else repr(raw)
        hint = f": {reason}" if reason else ""
        return ConfigError(f"invalid value {shown} for {where}{hint}; expected {spec.accepted()}")

    text = raw.strip() if isinstance(raw, str) else raw
    if spec.kind == "bool":
        if isinstance(text, bool):
            return text
        if isinstance(text, str) and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise bad()
    if spec.kind in ("int", "float"):
        if isinstance(text, bool):
            raise bad()
        try:
            number: float = int(text) if spec.kind == "int" else float(text)
        except (TypeError, ValueError):
            raise bad() from None
        if spec.kind == "int" and isinstance(text, float) and text != int(text):
            raise bad("not a whole number")
        if (
            number != number
            or (spec.minimum is not None and number < spec.minimum)
            or (spec.maximum is not None and number > spec.maximum)
        ):
            raise bad("out of range")
        return number
    if not isinstance(text, str) or not text:
        raise bad()
    if spec.kind == "choice":
        if text not in spec.choices:
            raise bad()
        return text
    if spec.kind == "level":
        if text.upper() not in LOG_LEVELS:
            raise bad()
        return text.upper()
    if spec.kind == "url":
        if not text.startswith(("http://", "https://")) or not valid_host(text):
            raise bad()
        register_url_credentials(text)  # a password in a base URL is a secret
    if spec.kind == "proxy":
        return proxy_url(text, bad)
    if spec.kind == "secret":
        return Secret(text)
    return text
