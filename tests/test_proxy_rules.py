"""Which proxy a request takes: proxy URLs, NO_PROXY and the environment's
variables, as curl, requests and httpx read them (pure functions, no network)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._http.proxy import NoProxy, environment_proxies, parse_proxy, proxy_rules
from steadyllm.providers._network import provider_headers, provider_proxies, provider_tls


def test_a_proxy_url_as_curl_takes_it() -> None:
    proxy = parse_proxy("proxy.corp.example:3128", "HTTPS_PROXY")
    assert (proxy.scheme, proxy.host, proxy.port, proxy.authorization) == (
        "http",
        "proxy.corp.example",
        3128,
        None,
    )
    assert parse_proxy("https://p.example", "X").port == 443
    assert parse_proxy("socks5h://p.example", "X").port == 1080
    assert parse_proxy("http://[::1]:8080", "X").shown == "http://[::1]:8080"


def test_credentials_become_basic_auth_and_stay_hidden() -> None:
    proxy = parse_proxy("http://us%40er:p%3Ass-word-9@p.example:3128", "HTTPS_PROXY")
    assert proxy.authorization == "Basic " + base64.b64encode(b"us@er:p:ss-word-9").decode()
    assert "word-9" not in repr(proxy) and "word-9" not in proxy.describe()
    assert proxy.describe() == "the proxy http://p.example:3128 (from HTTPS_PROXY)"
    socks = parse_proxy("socks5://me:socks-pass-1@p.example", "ALL_PROXY")
    assert (socks.username, socks.password, socks.authorization) == ("me", "socks-pass-1", None)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://p.example", "scheme 'ftp'"),
        ("http://user:hunter2-secret@p.example:99999", "port"),
        ("http://", "no host"),
    ],
)
def test_a_bad_proxy_url_is_a_config_error_naming_its_source(url: str, problem: str) -> None:
    with pytest.raises(sl.ConfigError) as caught:
        parse_proxy(url, "[providers.openai] proxy")
    assert problem in caught.value.message
    assert "[providers.openai] proxy" in caught.value.message
    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "host", "port", "bypassed"),
    [
        ("example.com", "example.com", 443, True),
        ("example.com", "api.example.com", 443, True),
        (".example.com", "example.com", 443, True),
        (".example.com", "api.example.com", 443, True),
        ("example.com", "badexample.com", 443, False),
        ("svc.test", "apisvc.test", 443, False),
        ("EXAMPLE.com", "Api.Example.COM.", 443, True),
        ("example.com:8443", "example.com", 8443, True),
        ("example.com:8443", "example.com", 443, False),
        ("10.1.2.3", "10.1.2.3", 80, True),
        ("10.1.2.3", "10.1.2.4", 80, False),
        ("10.0.0.0/8", "10.200.0.1", 80, True),
        ("10.0.0.0/8", "11.0.0.1", 80, False),
        ("10.0.0.0/8", "10.example.com", 80, False),
        ("::1", "::1", 80, True),
        ("[::1]:8080", "::1", 8080, True),
        ("[::1]:8080", "::1", 80, False),
        ("fd00::/8", "fd12::1", 80, True),
        ("*", "anything.example", 1, True),
        ("localhost", "127.0.0.1", 80, False),  # names are not resolved
        ("", "example.com", 80, False),
    ],
)
def test_no_proxy_entries(entry: str, host: str, port: int, bypassed: bool) -> None:
    assert NoProxy(f" a.invalid, {entry} ,").matches(host, port) is bypassed


labels = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


@given(name=st.lists(labels, min_size=1, max_size=3), prefix=labels, sub=labels)
def test_a_suffix_matches_only_at_a_label_boundary(name: list[str], prefix: str, sub: str) -> None:
    domain = ".".join(name)
    rules = NoProxy(domain)
    assert rules.matches(domain, 443) and rules.matches(f"{sub}.{domain}", 443)
    assert NoProxy("." + domain).matches(f"{sub}.{domain}", 443)
    assert not rules.matches(prefix + domain, 443)  # glued on: another name


def test_lower_case_variables_win_and_httpoxy_is_ignored() -> None:
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2", "NO_PROXY": "x"}
    assert environment_proxies(env) == {"https": "https_proxy", "no": "NO_PROXY"}
    assert environment_proxies({"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"}) == {}
    assert environment_proxies({"http_proxy": "http://p:1", "REQUEST_METHOD": "GET"}) == {
        "http": "http_proxy"
    }
    assert environment_proxies({"HTTPS_PROXY": "  "}) == {}


def test_all_proxy_fills_in_for_the_schemes_without_their_own() -> None:
    rules = proxy_rules({"ALL_PROXY": "http://every:1", "HTTP_PROXY": "http://plain:2"})
    assert rules is not None and rules.https is not None and rules.http is not None
    assert (rules.https.host, rules.https.source) == ("every", "ALL_PROXY")
    assert (rules.http.host, rules.http.source) == ("plain", "HTTP_PROXY")
    assert proxy_rules({"NO_PROXY": "x"}) is None
    assert proxy_rules({"HTTPS_PROXY": "http://p:1"}, trust_env=False) is None


def test_loopback_is_proxied_unless_no_proxy_says_so() -> None:
    rules = proxy_rules({"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://p:1"})
    assert rules is not None
    assert rules.choose(True, "127.0.0.1", 443) is not None
    assert rules.choose(False, "localhost", 80) is not None


def test_an_explicit_proxy_wins_and_direct_means_none() -> None:
    env = {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "internal.example"}
    rules = proxy_rules(env, explicit="http://mine:2")
    assert rules is not None
    chosen = rules.choose(True, "api.example", 443)
    assert chosen is not None and (chosen.host, chosen.source) == ("mine", "LLM_PROXY")
    assert rules.choose(True, "internal.example", 443) is None  # NO_PROXY still applies
    assert proxy_rules(env, explicit="DIRECT") is None


def settings(**values: object) -> sl.Settings:
    return sl.Settings.load(env={}, dotenv=False, config_file=False, **values)


def test_settings_keep_the_proxy_variables_and_provider_tables() -> None:
    loaded = sl.Settings.load(
        env={"https_proxy": "http://p.example:3128", "PATH": "/bin", "no_proxy": "x"},
        dotenv=False,
        config_file=False,
        providers={
            "openai": {"proxy": "socks5h://s.example", "headers": {"OpenAI-Beta": "v2"}},
            "azure": {"ca_bundle": "/etc/corp.pem", "tls_trust": "system"},
        },
    )
    assert loaded.proxy_env == {"https_proxy": "http://p.example:3128", "no_proxy": "x"}
    rules = provider_proxies(loaded, "openai")
    assert rules is not None and rules.https is not None
    assert rules.https.source == "[providers.openai] proxy"
    assert provider_proxies(loaded, "anthropic").https.source == "https_proxy"  # type: ignore[union-attr]
    assert provider_headers(loaded, "openai") == {"openai-beta": "v2"}
    tls = provider_tls(loaded, "azure")
    assert (tls.ca_bundle, tls.trust, tls.ca_source) == (
        "/etc/corp.pem",
        "system",
        "[providers.azure] ca_bundle",
    )
    assert provider_tls(loaded, "openai").ca_bundle is None


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"openai": {"proxi": "http://p"}}, "unknown key 'proxi'"),
        ({"openai": {"proxy": "ftp://p"}}, "expected a proxy URL"),
        ({"openai": {"proxy": ""}}, "non-empty string"),
        ({"openai": {"tls_trust": "mine"}}, "default or system"),
        ({"openai": {"headers": {"Authorization": "Bearer x"}}}, "set by steadyllm"),
        ({"openai": {"headers": {"x-a": "b\r\nc"}}}, "line breaks"),
        ({"openai": "http://p"}, "expected a table"),
        (["openai"], "[providers.NAME] tables"),
    ],
)
def test_a_bad_provider_table_is_refused(table: object, problem: str) -> None:
    with pytest.raises(sl.ConfigError) as caught:
        settings(providers=table)
    assert problem in caught.value.message


def test_a_bad_proxy_setting_hides_its_password() -> None:
    with pytest.raises(sl.ConfigError) as caught:
        settings(proxy="gopher://me:pw-that-is-secret@p.example")
    assert "expected a proxy URL" in caught.value.message
    assert "pw-that-is-secret" not in str(caught.value)
    assert settings(proxy="direct").proxy == "direct"
    shown = repr(settings(proxy="http://me:pw-that-is-secret@p.example:1"))
    assert "pw-that-is-secret" not in shown


def test_the_provider_table_reads_from_toml(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "steadyllm.toml"
    path.write_text('[providers.vllm]\nproxy = "direct"\nheaders = { "X-Team" = "search" }\n')
    loaded = sl.Settings.load(env={}, dotenv=False, config_file=path)
    assert loaded.providers["vllm"].proxy == "direct"
    assert provider_headers(loaded, "vllm") == {"x-team": "search"}
    tables = {name: rows for name, _, rows in loaded.describe_tables()}
    assert tables["providers"] and "search" in tables["providers"][0][1]
