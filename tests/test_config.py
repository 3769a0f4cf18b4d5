from __future__ import annotations

from pathlib import Path

import pytest

import steadyllm as sl
from steadyllm._config.settings import SETTINGS, settings_fields, settings_table_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_match_the_documented_values() -> None:
    s = sl.Settings.load(env={}, dotenv=False)
    assert s.timeout_ms == 30_000
    assert s.max_retries == 3
    assert s.circuit_breaker_failure_threshold == 5
    assert s.circuit_breaker_reset_timeout_ms == 60_000
    assert s.log_file_path == "./logs/llm.jsonl"
    assert s.enable_cache is False
    assert s.openai_api_key is None


def test_every_setting_has_a_field_and_a_spec() -> None:
    assert {spec.name for spec in SETTINGS} == settings_fields()


def test_precedence_code_over_env_over_dotenv_over_toml(tmp_path: Path) -> None:
    toml = tmp_path / "steadyllm.toml"
    toml.write_text(
        "timeout_ms = 1000\nmax_retries = 1\nlog_level = 'debug'\nenable_cache = true\n"
    )
    dotenv = tmp_path / ".env"
    dotenv.write_text("LLM_TIMEOUT_MS=2000\nLLM_MAX_RETRIES=2\n")
    env = {"LLM_TIMEOUT_MS": "3000"}
    s = sl.Settings.load(env=env, config_file=toml, dotenv=dotenv, timeout_ms=4000)
    assert s.timeout_ms == 4000 and s.sources["timeout_ms"] == "code"
    assert s.max_retries == 2 and s.sources["max_retries"] == ".env"
    assert s.log_level == "DEBUG" and s.sources["log_level"] == "toml"
    assert s.enable_cache is True
    s2 = sl.Settings.load(env=env, config_file=toml, dotenv=dotenv)
    assert s2.timeout_ms == 3000 and s2.sources["timeout_ms"] == "env"


def test_steadyllm_toml_and_dotenv_in_the_working_directory_are_found(tmp_path: Path) -> None:
    (tmp_path / "steadyllm.toml").write_text('[aliases]\nfast = "fake:echo"\n')
    (tmp_path / ".env").write_text(
        'OPENAI_API_KEY="sk-from-dotenv-123456"\nexport LOG_TO_FILE=yes\n'
    )
    s = sl.Settings.load(env={})
    assert s.aliases == {"fast": "fake:echo"}
    assert s.openai_api_key is not None and s.openai_api_key.get() == "sk-from-dotenv-123456"
    assert s.log_to_file is True


def test_config_file_false_skips_the_working_directory_toml(tmp_path: Path) -> None:
    (tmp_path / "steadyllm.toml").write_text("max_retries = 9\n")
    assert sl.Settings.load(env={}, dotenv=False).max_retries == 9
    assert sl.Settings.load(env={}, dotenv=False, config_file=False).max_retries == 3


def test_config_file_from_the_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text("max_retries = 7\n")
    s = sl.Settings.load(env={"STEADYLLM_CONFIG": str(path)}, dotenv=False)
    assert s.max_retries == 7


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LLM_TIMEOUT_MS": "0"},
            r"LLM_TIMEOUT_MS \(from env\): out of range; expected an integer from 1 to 86400000",
        ),
        ({"LLM_TIMEOUT_MS": "fast"}, r"invalid value 'fast' for LLM_TIMEOUT_MS"),
        ({"LLM_MAX_RETRIES": "-1"}, r"LLM_MAX_RETRIES.*from 0 to 100"),
        ({"ENABLE_LLM_CACHE": "maybe"}, r"ENABLE_LLM_CACHE.*true/false"),
        ({"LOG_LEVEL": "LOUD"}, r"LOG_LEVEL.*DEBUG/INFO/WARNING/ERROR/CRITICAL"),
        ({"OPENAI_BASE_URL": "api.openai.com"}, r"OPENAI_BASE_URL.*http:// or https://"),
        ({"MAX_COST_PER_REQUEST_USD": "-0.5"}, r"MAX_COST_PER_REQUEST_USD.*out of range"),
        ({"CIRCUIT_BREAKER_FAILURE_THRESHOLD": "0"}, r"CIRCUIT_BREAKER_FAILURE_THRESHOLD.*from 1"),
        ({"LLM_RATE_LIMIT_PER_MINUTE": "nan"}, r"LLM_RATE_LIMIT_PER_MINUTE"),
    ],
)
def test_invalid_values_name_the_setting_and_what_is_accepted(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(sl.ConfigError, match=message):
        sl.Settings.load(env=env, dotenv=False)


def test_a_bad_secret_value_is_never_echoed() -> None:
    with pytest.raises(sl.ConfigError) as info:
        sl.Settings.load(env={}, dotenv=False, openai_api_key=12345678)
    assert "12345678" not in str(info.value)
    assert "(hidden)" in str(info.value)


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    toml = tmp_path / "other.toml"
    toml.write_text("timeout = 5\n")
    with pytest.raises(
        sl.ConfigError, match=r"unknown setting 'timeout' in .*did you mean 'timeout_ms'"
    ):
        sl.Settings.load(env={}, config_file=toml, dotenv=False)
    with pytest.raises(sl.ConfigError, match="unknown setting 'retries'"):
        sl.Settings.load(env={}, dotenv=False, retries=2)


def test_toml_syntax_errors_and_missing_files_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("timeout_ms = \n")
    with pytest.raises(sl.ConfigError, match="not valid TOML"):
        sl.Settings.load(env={}, config_file=bad, dotenv=False)
    with pytest.raises(sl.ConfigError, match="does not exist"):
        sl.Settings.load(env={}, config_file=tmp_path / "nope.toml", dotenv=False)
    with pytest.raises(sl.ConfigError, match=r"\.env file .* does not exist"):
        sl.Settings.load(env={}, dotenv=tmp_path / "nope.env")


def test_toml_values_are_type_checked(tmp_path: Path) -> None:
    toml = tmp_path / "steadyllm.toml"
    toml.write_text("max_retries = 2.5\n")
    with pytest.raises(sl.ConfigError, match=r"max_retries in .*not a whole number"):
        sl.Settings.load(env={}, config_file=toml, dotenv=False)
    toml.write_text("enable_cache = 1\n")
    with pytest.raises(sl.ConfigError, match="enable_cache"):
        sl.Settings.load(env={}, config_file=toml, dotenv=False)
    toml.write_text("timeout_ms = true\n")
    with pytest.raises(sl.ConfigError, match="timeout_ms"):
        sl.Settings.load(env={}, config_file=toml, dotenv=False)


@pytest.mark.parametrize("aliases", [{"fast": "no-colon"}, ["fast"], {"fast": 3}])
def test_aliases_must_map_names_to_provider_model(aliases: object) -> None:
    with pytest.raises(sl.ConfigError, match="provider:model"):
        sl.Settings.load(env={}, dotenv=False, aliases=aliases)


def test_bool_spellings() -> None:
    for raw, expected in [("1", True), ("TRUE", True), ("on", True), ("no", False), ("0", False)]:
        assert (
            sl.Settings.load(env={"LOG_TO_CONSOLE": raw}, dotenv=False).log_to_console is expected
        )


def test_empty_environment_values_count_as_unset() -> None:
    assert sl.Settings.load(env={"LLM_TIMEOUT_MS": ""}, dotenv=False).timeout_ms == 30_000


def test_secrets_never_show_in_repr_or_describe() -> None:
    key = "sk-test-secret-value-0001"
    s = sl.Settings.load(env={"ANTHROPIC_API_KEY": key}, dotenv=False)
    assert key not in repr(s)
    assert key not in str(s.describe())
    assert s.anthropic_api_key == sl.Secret(key)
    assert hash(s.anthropic_api_key) == hash(sl.Secret(key))


def test_replace_validates_like_load() -> None:
    s = sl.Settings.load(env={}, dotenv=False)
    assert s.replace(max_retries="5").max_retries == 5
    assert s.replace(aliases={"a": "fake:echo"}).aliases == {"a": "fake:echo"}
    with pytest.raises(sl.ConfigError, match="max_retries"):
        s.replace(max_retries=-2)
    with pytest.raises(sl.ConfigError, match="unknown setting"):
        s.replace(bogus=1)


def test_readme_settings_table_is_generated_from_the_code() -> None:
    readme = (ROOT / "README.md").read_text()
    assert settings_table_markdown() in readme, (
        "README settings table is stale: run `.venv/bin/python scripts/sync_readme.py`"
    )


def test_a_password_in_a_base_url_never_shows() -> None:
    s = sl.Settings.load(
        env={"OPENAI_BASE_URL": "https://user:hunter22@gw.example/v1"}, dotenv=False
    )
    assert s.openai_base_url == "https://user:hunter22@gw.example/v1"
    assert "hunter22" not in repr(s)
    rows = {name: shown for name, _, shown, _ in s.describe()}
    assert rows["openai_base_url"] == "https://user:[REDACTED]@gw.example/v1"


# ------------------------------------------------------------------ a newcomer's start (issue 16)


def test_client_reads_the_environment_like_the_vendor_sdks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LLM_MAX_RETRIES", "7")
    (tmp_path / ".env").write_text("LLM_TIMEOUT_MS=1234\n")
    client = sl.Client()
    assert client.settings.max_retries == 7 and client.settings.timeout_ms == 1234
    assert sl.Client(env=False).settings.max_retries == sl.Settings().max_retries
    explicit = sl.Settings.load(env={}, dotenv=False, config_file=False)
    assert sl.Client(explicit).settings is explicit


def test_from_env_takes_every_constructor_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from steadyllm._resilience.breaker import BreakerPolicy

    changes: list[str] = []
    policy = BreakerPolicy(failure_threshold=1)
    client = sl.Client.from_env(
        retry=sl.RetryPolicy(max_retries=0),
        breaker=policy,
        on_circuit_change=lambda k, o, n: changes.append(n),
        on_cost_alert=lambda total, limit: None,
        max_retries=3,
    )
    assert client.retry.max_retries == 0 and client.resilience.breakers.policy is policy
    with sl.SyncClient.from_env(breaker=policy) as sync:
        assert sync.resilience.breakers.policy is policy


#: Upper-case names in messages that are not steadyllm settings, and what they are.
NOT_SETTINGS = {
    "SSL_CERT_FILE": "OpenSSL's CA bundle variable",
    "CERTIFICATE_VERIFY_FAILED": "OpenSSL's verification error code",
    "STEADYLLM_CONFIG": "the path of steadyllm.toml (read before the table)",
    "XDG_CACHE_HOME": "the XDG cache directory",
    "RUN_ID": "a CLI metavar",
    "HTTPS_PROXY": "the standard proxy variable every HTTP client reads",
    "HTTP_PROXY": "the standard proxy variable every HTTP client reads",
    "ALL_PROXY": "the standard proxy variable every HTTP client reads",
    "NO_PROXY": "the standard proxy variable every HTTP client reads",
    "REQUEST_METHOD": "set in a CGI script (httpoxy: HTTP_PROXY is then ignored)",
    "ACME_API_KEY": "an example api_key_env of a [providers.NAME] table",
    "API_KEY_INVALID": "Google's ErrorInfo reason for a wrong key",
    "HARM_CATEGORY_HATE_SPEECH": "a Gemini safety category",
    "HARM_CATEGORY_DANGEROUS_CONTENT": "a Gemini safety category",
}


def _google_vocabulary() -> dict[str, str]:
    """Gemini's finish reasons and Google's status words: wire values, not settings."""
    from steadyllm.providers.gemini.decode import _FINISH, _STATUS

    return dict.fromkeys([*_FINISH, *_STATUS], "Google API vocabulary")


NOT_SETTINGS.update(_google_vocabulary())


def test_every_variable_a_message_names_is_a_setting() -> None:
    """An error that says "raise CONNECT_TIMEOUT_MS" for LLM_CONNECT_TIMEOUT_MS sends
    the user to a variable that does nothing: every upper-case name in a string of the
    package (docstrings aside) must be a setting of the table, or a known outsider."""
    import ast
    import re

    envs = {spec.env for spec in SETTINGS}
    token = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
    package = Path(sl.__file__).parent
    unknown: dict[str, str] = {}
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {
            ast.get_docstring(node, clean=False)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in docstrings:
                    continue
                for name in token.findall(node.value):
                    if name not in envs and name not in NOT_SETTINGS:
                        unknown[name] = f"{path.relative_to(package)}:{node.lineno}"
    assert unknown == {}, f"names that are not settings: {unknown}"
    assert "LLM_CONNECT_TIMEOUT_MS" in envs


def test_a_setting_whose_type_names_no_kind_must_say_it() -> None:
    from dataclasses import dataclass

    from steadyllm._config.spec import setting, specs_of

    @dataclass(frozen=True)
    class Odd:
        ratio: complex = setting("ODD_RATIO", 0j, "A type settings cannot parse.")

    with pytest.raises(TypeError, match="needs kind="):
        specs_of(Odd)


def test_each_setting_default_is_the_field_default() -> None:
    """Written once: the table's default is the dataclass field's own default."""
    from dataclasses import fields

    defaults = {f.name: f.default for f in fields(sl.Settings)}
    assert all(spec.default == defaults[spec.name] for spec in SETTINGS)
    assert sl.Settings().timeout_ms == SPECS["timeout_ms"].default == 30_000


SPECS = {spec.name: spec for spec in SETTINGS}
