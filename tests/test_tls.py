"""TLS that fits a company's trust: a CA bundle of its own (globally or per
provider), the operating system's store, and client certificates for mutual
TLS, against the emulator over TLS with a throw-away CA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._http import tls as _tls
from steadyllm.emulator import Emulator

from .netservers import server_tls

trustme = pytest.importorskip("trustme")


@pytest.fixture(autouse=True)
def _fresh_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_tls, "_contexts", {})  # each test builds the contexts it names


@pytest.fixture
async def origin(ca: Any) -> AsyncIterator[Emulator]:
    async with Emulator(ssl=await server_tls(ca)) as emu:
        yield emu


async def ask(emu: Emulator, **settings: Any) -> sl.Response:
    client = sl.Client(emu.settings(**settings), retry=sl.RetryPolicy(max_retries=2))
    try:
        return await client.chat("openai:gpt-4o-mini", [sl.user("over TLS")])
    finally:
        await client.aclose()


async def test_a_ca_bundle_trusts_a_private_ca(origin: Emulator, bundle: str) -> None:
    assert (await ask(origin, ca_bundle=bundle)).text
    table = {"openai": {"ca_bundle": bundle}}
    assert (await ask(origin, providers=table)).text


async def test_an_untrusted_certificate_fails_at_once_and_says_what_to_set(
    origin: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(sl.LLMConnectionError) as caught:
        await ask(origin)
    error = caught.value
    assert not error.retryable and error.attempt == 1  # the same certificate fails again
    assert "LLM_CA_BUNDLE" in error.message and "SSL_CERT_FILE" in error.message
    other = await asyncio.to_thread(trustme.CA)  # a key is made: off the loop
    wrong = tmp_path / "other.pem"
    other.cert_pem.write_to_path(str(wrong))
    with pytest.raises(sl.LLMConnectionError) as caught:
        await ask(origin, providers={"openai": {"ca_bundle": str(wrong)}})
    assert f"the CA bundle {wrong} (from [providers.openai] ca_bundle)" in caught.value.message


async def test_the_system_store_through_truststore(
    origin: Emulator, bundle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(pytest.importorskip, "truststore")  # a heavy import: off the loop
    with pytest.raises(sl.LLMConnectionError) as caught:
        await ask(origin, tls_trust="system")
    assert "LLM_TLS_TRUST=system" in caught.value.message
    # On Linux the system store is OpenSSL's, which SSL_CERT_FILE points elsewhere.
    monkeypatch.setenv("SSL_CERT_FILE", bundle)
    monkeypatch.setattr(_tls, "_contexts", {})
    assert (await ask(origin, tls_trust="system")).text
    with pytest.raises(sl.ConfigError, match="two different trust stores"):
        await ask(origin, tls_trust="system", ca_bundle=bundle)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "no such file"), (b"not a certificate", "PEM certificates")],
)
async def test_a_bundle_that_cannot_be_used_is_a_config_error(
    origin: Emulator, tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "bundle.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(sl.ConfigError) as caught:
        await ask(origin, ca_bundle=str(path))
    assert problem in caught.value.message and "LLM_CA_BUNDLE" in caught.value.message


async def test_mutual_tls_with_a_client_certificate(ca: Any, bundle: str, tmp_path: Path) -> None:
    client_ca = await asyncio.to_thread(trustme.CA)  # keys are made: off the loop
    identity = await asyncio.to_thread(client_ca.issue_cert, "steadyllm-client@example.test")
    both = tmp_path / "client.pem"
    identity.private_key_and_cert_chain_pem.write_to_path(str(both))
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    identity.cert_chain_pems[0].write_to_path(str(cert))
    identity.private_key_pem.write_to_path(str(key))
    async with Emulator(ssl=await server_tls(ca, client_ca=client_ca)) as emu:
        with pytest.raises(sl.LLMConnectionError):
            await ask(emu, ca_bundle=bundle)  # no certificate: the server hangs up
        assert not emu.requests
        assert (await ask(emu, ca_bundle=bundle, client_cert=str(both))).text
        assert (await ask(emu, ca_bundle=bundle, client_cert=str(cert), client_key=str(key))).text
        table = {"openai": {"client_cert": str(cert), "client_key": str(key)}}
        assert (await ask(emu, ca_bundle=bundle, providers=table)).text
        assert len(emu.requests) == 3


async def test_a_client_key_that_does_not_fit_is_a_config_error(
    origin: Emulator, tmp_path: Path
) -> None:
    def two_identities() -> tuple[Any, Any]:  # keys are made: off the loop
        return trustme.CA().issue_cert("a.test"), trustme.CA().issue_cert("b.test")

    one, two = await asyncio.to_thread(two_identities)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    one.cert_chain_pems[0].write_to_path(str(cert))
    two.private_key_pem.write_to_path(str(key))
    with pytest.raises(sl.ConfigError) as caught:
        await ask(origin, client_cert=str(cert), client_key=str(key))
    assert "LLM_CLIENT_CERT" in caught.value.message and str(cert) in caught.value.message


def test_the_linux_system_store_is_found_where_truststore_finds_it(
    ca: Any, bundle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    # OpenSSL's paths hold nothing (the real function gives None for a path that is absent)
    empty = ssl.DefaultVerifyPaths(None, None, "", "", "", "")  # type: ignore[arg-type]
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: empty)
    monkeypatch.setattr(_tls, "CA_FILE_CANDIDATES", (str(tmp_path / "absent.pem"), bundle))
    context = _tls._system_store()  # the first candidate that exists
    assert [c["subject"] for c in context.get_ca_certs()] == [
        c["subject"] for c in ssl.create_default_context(cafile=bundle).get_ca_certs()
    ]
    hashed = tmp_path / "certs"
    hashed.mkdir()
    (hashed / "0123abcd.0").write_text(Path(bundle).read_text())
    with_dir = ssl.DefaultVerifyPaths(None, str(hashed), "", "", "", "")  # type: ignore[arg-type]
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: with_dir)
    used: list[bool] = []
    monkeypatch.setattr(ssl.SSLContext, "set_default_verify_paths", lambda _: used.append(True))
    _tls._system_store()  # a directory of hashed certificates: OpenSSL's own paths are used
    assert used == [True]
    monkeypatch.setattr(_tls, "CA_FILE_CANDIDATES", ())
    assert _tls._system_store().get_ca_certs() == []  # nowhere to look: verifies nothing
