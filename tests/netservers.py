"""Real network servers for the proxy and TLS tests, each on a free loopback port:
tinyproxy (an HTTP forward proxy with CONNECT and Basic auth) and microsocks (a
SOCKS5 proxy), both from Debian's packages, which `make test` installs when
missing; a TLS front for tinyproxy (an ``https://`` proxy); and a server that
accepts connections and never answers. Started and stopped in worker threads,
so the event loop never blocks on a process."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return
        except OSError:
            time.sleep(0.02)  # a process starting: polled, not a race being papered over
    raise RuntimeError(f"{what} did not listen on {port}")


def need(program: str) -> str:
    """The program's path; under `make test` (which installs it) a missing one fails."""
    found = shutil.which(program)
    if found is None:
        if os.environ.get("STEADYLLM_TEST_SERVICES") == "required":
            pytest.fail(f"{program} is missing although `make test` installs it")
        pytest.skip(f"{program} is not installed: run the suite with `make test`")
    return found


class Tinyproxy:
    """tinyproxy on a free port; ``auth`` = (user, password) requires Basic auth."""

    def __init__(self, directory: Path, auth: tuple[str, str] | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.log = directory / f"tinyproxy-{self.port}.log"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            f'LogFile "{self.log}"',
            "LogLevel Info",
            "MaxClients 64",
        ]
        if auth is not None:
            lines.append(f"BasicAuth {auth[0]} {auth[1]}")
        self.config = directory / f"tinyproxy-{self.port}.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [need("tinyproxy"), "-d", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(self.port, self.process, "tinyproxy")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def requests(self) -> list[str]:
        """The request lines tinyproxy logged (``CONNECT 127.0.0.1:443 HTTP/1.1``)."""
        text = self.log.read_text() if self.log.exists() else ""
        return [
            line.split("): ", 1)[1]
            for line in text.splitlines()
            if "Request (file descriptor" in line and "): " in line
        ]


class Microsocks:
    """microsocks on a free port; ``auth`` = (user, password) requires them."""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.auth = auth
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [need("microsocks"), "-i", "127.0.0.1", "-p", str(self.port)]
        if self.auth is not None:
            command += ["-u", self.auth[0], "-P", self.auth[1]]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_listening(self.port, self.process, "microsocks")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


async def server_tls(ca: Any, *names: str, client_ca: Any = None) -> ssl.SSLContext:
    """A server context with a certificate of the test CA ``ca`` for ``names``
    (loopback by default); with ``client_ca``, clients must show one of its. Made in a
    thread: issuing a certificate makes a key, and a context reads the CA store."""
    return await asyncio.to_thread(_server_tls, ca, names, client_ca)


def _server_tls(ca: Any, names: tuple[str, ...], client_ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1", "localhost"))).configure_cert(context)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(context)
    return context


class TLSFront:
    """TLS in front of a plain TCP server: with tinyproxy behind, an https:// proxy."""

    def __init__(self, context: ssl.SSLContext, port: int) -> None:
        self.context = context
        self.backend = port
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> TLSFront:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0, ssl=self.context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        back_reader, back_writer = await asyncio.open_connection("127.0.0.1", self.backend)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, back_writer), pipe(back_reader, writer))


class Silent:
    """Accepts TCP connections and never says a word (a proxy that hangs)."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.accepted = 0
        self._held: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Silent:
        async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.accepted += 1
            self._held.append(writer)

        self.server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._held:
            writer.close()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
