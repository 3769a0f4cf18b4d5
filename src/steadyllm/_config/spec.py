"""What a setting is: ``SettingSpec`` (name, variable, kind, default, meaning,
range), and ``setting()``, which declares one as a field of ``Settings``.

A setting is written once, as a field of one of the ``specs_*`` dataclasses:
its annotation is its type, and ``setting(...)`` holds the rest. ``Settings``
inherits them all; ``specs_of(Settings)`` reads them back as the table that
parsing, error messages, ``steadyllm config`` and the README all use, so none
of them can drift from the field.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "str", "secret", "url", "proxy", "level", "choice"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DAY_MS = 86_400_000
#: The kind an annotation gives, when ``setting()`` names none (url, level, choice).
_KINDS: dict[str, Kind] = {
    "Secret": "secret",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "str",
}


@dataclass(frozen=True, slots=True)
class SettingSpec:
    name: str
    env: str
    kind: Kind
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    #: Accepted values of a "choice" setting.
    choices: tuple[str, ...] = ()

    def accepted(self) -> str:
        if self.kind == "bool":
            return "true/false (also 1/0, yes/no, on/off)"
        if self.kind == "level":
            return "/".join(LOG_LEVELS)
        if self.kind in ("int", "float"):
            lo = "" if self.minimum is None else _number(self.minimum)
            hi = "" if self.maximum is None else _number(self.maximum)
            noun = "an integer" if self.kind == "int" else "a number"
            if lo and hi:
                return f"{noun} from {lo} to {hi}"
            return f"{noun} >= {lo}" if lo else noun
        if self.kind == "url":
            return "an http:// or https:// URL with a valid host"
        if self.kind == "proxy":
            return "a proxy URL (http://, https://, socks5://, socks5h://) or direct"
        if self.kind == "choice":
            return " or ".join(self.choices)
        return "text"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def setting(
    env: str,
    default: Any,
    doc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    kind: Kind | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    """A field of ``Settings``: read from ``env``, ``default`` when unset, ``doc`` in
    the README. ``kind`` is needed only where the annotation does not say it."""
    meta = {"env": env, "doc": doc, "minimum": minimum, "maximum": maximum, "kind": kind}
    return field(default=default, metadata={"setting": {**meta, "choices": choices}})


def _kind(annotation: object) -> Kind:
    text = str(annotation).replace(" | None", "")
    try:
        return _KINDS[text]
    except KeyError:
        raise TypeError(f"a setting of type {annotation!r} needs kind=") from None


def spec_of(f: Field[Any]) -> SettingSpec | None:
    """The setting a field declares, or None for a field that is not one."""
    meta = f.metadata.get("setting")
    if meta is None:
        return None
    default = None if f.default is MISSING else f.default
    return SettingSpec(
        f.name,
        meta["env"],
        meta["kind"] or _kind(f.type),
        default,
        meta["doc"],
        meta["minimum"],
        meta["maximum"],
        meta["choices"],
    )


def specs_of(cls: type) -> tuple[SettingSpec, ...]:
    """Every setting ``cls`` declares, in declaration order (base classes first)."""
    found = (spec_of(f) for f in fields(cls))
    return tuple(s for s in found if s is not None)
