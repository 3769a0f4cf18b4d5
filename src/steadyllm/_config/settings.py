"""Settings: from code, then environment (and ``.env``), then ``steadyllm.toml``.

Every setting is declared once, as a field of a ``specs_*`` dataclass (type,
variable, default, range, meaning); ``SETTINGS`` reads them back, and parsing,
validation, the README table and the CLI all use it, so they cannot drift
apart. A bad value raises ``ConfigError``
naming the setting, where it came from, and what is accepted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .._core.errors import ConfigError
from .._core.redact import redact
from .model_table import parse_models
from .prices import parse_prices
from .provider_tables import ProviderOptions, provider_tables
from .rotating import TokenProvider
from .secret import Secret as Secret
from .spec import specs_of
from .specs_state import _State
from .values import parse_value


@dataclass(frozen=True, slots=True)
class Settings(_State):
    """Resolved settings; build with ``Settings.load()``. Secrets are ``Secret``s.

    Each setting is a field declared once in a ``specs_*`` module (the chain of
    bases: calls, providers, resilience, metering, state); the tables below are
    ``steadyllm.toml`` tables, not settings."""

    #: Short names for models: ``{"fast": "openai:gpt-4o-mini"}`` (TOML ``[aliases]``).
    aliases: Mapping[str, str] = field(default_factory=dict)
    #: Fallback chains: ``{"openai:gpt-4o": ["anthropic:claude-sonnet-4-5", "ollama:llama3"]}``
    #: (TOML ``[fallbacks]``; a value may also be written ``"a -> b"``).
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Per-model (or per-provider) rate limits: ``{"openai:gpt-4o": {"rpm": 500, "tpm": 30000}}``
    #: (TOML ``[limits."openai:gpt-4o"]``); they override the LLM_* defaults.
    limits: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Local prices, USD per million tokens: ``{"openai:gpt-4o-mini": {"input": 0.15,
    #: "output": 0.6, "cache_read": 0.075}}`` (TOML ``[prices."..."]``); exact key or prefix.
    prices: Mapping[str, Any] = field(default_factory=dict)
    #: Model facts that override the bundled ones (TOML ``[models."vllm:qwen3"]``:
    #: context_window, max_output_tokens, ...); see ``sl.model_info``.
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Per-provider network and header options (TOML ``[providers.openai]``: proxy,
    #: ca_bundle, client_cert, client_key, tls_trust, headers); see ``ProviderOptions``.
    providers: Mapping[str, ProviderOptions] = field(default_factory=dict)
    #: The proxy variables of the environment at load (HTTPS_PROXY, no_proxy, ...),
    #: read while ``trust_env``; not settings of steadyllm's own.
    proxy_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Where each value came from (``code``, ``env``, ``.env``, ``toml``), for ``steadyllm config``.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for spec in _SECRETS:  # Settings(openai_api_key="sk-..."): wrapped as load() does
            value = getattr(self, spec.name)
            if value is not None and not isinstance(value, Secret | TokenProvider):
                object.__setattr__(
                    self, spec.name, parse_value(spec, value, f"Settings({spec.name}=...)")
                )

    @classmethod
    def load(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        config_file: str | os.PathLike[str] | bool | None = None,
        dotenv: str | os.PathLike[str] | bool = True,
        **overrides: Any,
    ) -> Settings:
        """Resolve settings: ``overrides`` > environment > ``.env`` > TOML > defaults.

        ``config_file`` defaults to ``$STEADYLLM_CONFIG`` or ``./steadyllm.toml`` if it
        exists (``False`` to skip); ``dotenv`` to ``./.env`` if it exists (``False`` to skip).
        """
        environ = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        tables: dict[str, Any] = {}
        toml_path = _toml_path(config_file, environ)
        if toml_path is not None:
            table = _read_toml(Path(toml_path))
            for name, parse_table in TABLES.items():
                if name in table:
                    tables[name] = parse_table(table.pop(name), f"[{name}] in {toml_path}")
                    sources[name] = "toml"
            for key, raw in table.items():
                spec = SPECS_BY_NAME.get(key)
                if spec is None:
                    raise _unknown(key, f" in {toml_path}")
                values[key] = parse_value(spec, raw, f"{key} in {toml_path}")
                sources[key] = "toml"

        dotenv_values = _read_dotenv(dotenv)
        for spec in SETTINGS:
            for source, mapping in (("env", environ), (".env", dotenv_values)):
                raw = mapping.get(spec.env)
                if raw is not None and raw != "":
                    values[spec.name] = parse_value(spec, raw, f"{spec.env} (from {source})")
                    sources[spec.name] = source
                    break

        for key, raw in overrides.items():
            if key in TABLES:
                parsed_table = TABLES[key](raw, f"Settings.load({key}=...)")
                tables[key] = {**tables.get(key, {}), **parsed_table}
                sources[key] = "toml + code" if key in sources else "code"
                continue
            spec = SPECS_BY_NAME.get(key)
            if spec is None:
                raise _unknown(key, "")
            values[key] = parse_value(spec, raw, key)
            sources[key] = "code"
        if "providers" in tables:  # api_key_env: read where every other key is read
            tables["providers"] = {
                name: options.with_key_from(environ, dotenv_values)
                for name, options in tables["providers"].items()
            }
        return cls(**values, **tables, proxy_env=_proxy_env(environ), sources=sources)

    def replace(self, **overrides: Any) -> Settings:
        """A copy with some settings changed, each validated like ``load`` does."""
        parsed: dict[str, Any] = {}
        for key, raw in overrides.items():
            if key in TABLES:
                parsed[key] = TABLES[key](raw, key)
                continue
            spec = SPECS_BY_NAME.get(key)
            if spec is None:
                raise _unknown(key, "")
            parsed[key] = parse_value(spec, raw, key)
        return replace(self, **parsed, sources={**self.sources, **dict.fromkeys(parsed, "code")})

    def __repr__(self) -> str:
        # Secrets repr themselves masked; redact() also masks a password in a base URL.
        body = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return redact(f"Settings({body})")

    def describe_tables(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """(table, source, [(key, value shown safely)]) for every table of the TOML
        file, in the order of ``TABLES`` (an empty list when the table is not set)."""
        out = []
        for name in TABLES:
            rows: list[tuple[str, str]] = []
            for key, value in sorted(getattr(self, name).items()):
                if isinstance(value, tuple | list):
                    shown = " -> ".join(str(v) for v in value)
                elif isinstance(value, Mapping):
                    shown = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
                else:
                    shown = str(value)
                rows.append((key, redact(shown)))
            out.append((name, self.sources.get(name, "default") if rows else "not set", rows))
        return out

    def describe(self) -> list[tuple[str, str, str, str]]:
        """(setting, variable, value shown safely, source) for every setting."""
        rows = []
        for spec in SETTINGS:
            value = getattr(self, spec.name)
            # redact(): a base URL may carry a password (https://user:pass@host)
            shown = "(not set)" if value is None else redact(str(value))
            rows.append((spec.name, spec.env, shown, self.sources.get(spec.name, "default")))
        return rows


#: Every setting, in declaration order: the one table the rest reads.
SETTINGS = specs_of(Settings)
SPECS_BY_NAME = {s.name: s for s in SETTINGS}
_SECRETS = tuple(s for s in SETTINGS if s.kind == "secret")


def _toml_path(
    config_file: str | os.PathLike[str] | bool | None, environ: Mapping[str, str]
) -> str | os.PathLike[str] | None:
    """The steadyllm.toml to read: the one named, $STEADYLLM_CONFIG, or ./steadyllm.toml."""
    if config_file is False:
        return None
    path: str | os.PathLike[str] | None = None
    if config_file is None or config_file is True:
        path = environ.get("STEADYLLM_CONFIG")
    else:
        path = config_file
    if path is None and Path("steadyllm.toml").is_file():
        path = "steadyllm.toml"
    return path


def _unknown(key: str, where: str) -> ConfigError:
    import difflib

    close = difflib.get_close_matches(key, SPECS_BY_NAME, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return ConfigError(
        f"unknown setting {key!r}{where}{hint} Known settings: "
        + ", ".join(SPECS_BY_NAME)
        + ", and the [aliases], [fallbacks], [limits], [prices], [models] and [providers] "
        "tables"
    )


def _aliases(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and ":" in v for k, v in raw.items()
    ):
        raise ConfigError(
            f'invalid aliases in {where}: expected a table of name = "provider:model"'
        )
    return dict(raw)


def _fallbacks(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    bad = ConfigError(
        f'invalid fallbacks in {where}: expected "provider:model" = ["provider:model", ...] '
        'or "provider:model" = "provider:model -> provider:model"'
    )
    if not isinstance(raw, Mapping):
        raise bad
    out: dict[str, tuple[str, ...]] = {}
    for model, chain in raw.items():
        items = [p.strip() for p in chain.split("->")] if isinstance(chain, str) else chain
        if (
            not isinstance(model, str)
            or not isinstance(items, list | tuple)
            or not items
            or not all(isinstance(m, str) and m.strip() for m in items)  # aliases resolve per call
        ):
            raise bad
        out[model] = tuple(items)
    return out


_LIMIT_KEYS = ("rpm", "tpm", "rpd", "tpd")


def _limits(raw: Any, where: str) -> dict[str, dict[str, int]]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"invalid limits in {where}: expected tables of rpm/tpm/rpd/tpd")
    out: dict[str, dict[str, int]] = {}
    for key, table in raw.items():
        if (
            not isinstance(table, Mapping)
            or not table
            or set(table) - set(_LIMIT_KEYS)
            or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in table.values()
            )
        ):
            raise ConfigError(
                f"invalid limits for {key!r} in {where}: use whole numbers >= 1 for "
                f"{', '.join(_LIMIT_KEYS)}"
            )
        out[str(key)] = dict(table)
    return out


def _prices(raw: Any, where: str) -> dict[str, Any]:

    parse_prices(raw, where)  # validate now; the client builds its price book from the table
    return dict(raw)


TABLES: dict[str, Any] = {
    "aliases": _aliases,
    "fallbacks": _fallbacks,
    "limits": _limits,
    "prices": _prices,
    "models": parse_models,
    "providers": provider_tables,
}

#: The environment variables a proxy is configured by (either case), and CGI's marker.
_PROXY_VARIABLES = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "request_method"}
)


def _proxy_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.lower() in _PROXY_VARIABLES}


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when there is a file to read

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist; create it or unset STEADYLLM_CONFIG"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _read_dotenv(dotenv: str | os.PathLike[str] | bool) -> dict[str, str]:
    if dotenv is False:
        return {}
    path = Path(".env") if dotenv is True else Path(dotenv)
    if not path.is_file():
        if dotenv is not True:
            raise ConfigError(f".env file {path} does not exist")
        return {}
    from dotenv import dotenv_values  # lazy: only when a .env file exists

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def settings_table_markdown() -> str:
    """The README's settings table, generated from ``SETTINGS``."""
    lines = [
        "| variable | setting (code / TOML) | default | accepted | meaning |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = (
            "—"
            if s.default is None
            else f"`{str(s.default).lower() if s.kind == 'bool' else s.default}`"
        )
        lines.append(f"| `{s.env}` | `{s.name}` | {default} | {s.accepted()} | {s.doc} |")
    return "\n".join(lines)


def settings_fields() -> set[str]:
    return {f.name for f in fields(Settings)} - {
        "aliases",
        "fallbacks",
        "limits",
        "prices",
        "models",
        "providers",
        "proxy_env",
        "sources",
    }
