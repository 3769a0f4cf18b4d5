"""Should the transport speak HTTP/2? What an HTTP/2 client costs for this
workload (one JSON request, one JSON answer, to one host) against HTTP/1.1
keep-alive, on the same TLS server.

Clients: httpx over HTTP/1.1, httpx over HTTP/2 (h2, the maintained HTTP/2
state machine httpx uses), and steadyllm's HTTP/1.1 transport. The server is
hypercorn (ALPN h2 and http/1.1, a throw-away trustme CA) in its own process
on the other core; the client is pinned to core 0. Reported: the client's CPU
per call one at a time (what a call costs the application), and calls per
second at 64 concurrent (bounded by the pure-Python server for every client).

Needs: pip install 'httpx[http2]' hypercorn trustme
Run:   python benchmarks/http2_choice.py
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

from transport_choice import HEADERS, PAYLOAD, free_port, measure, steadyllm_transport

from steadyllm._http.tls import TLSConfig

SERVER = """
import asyncio, sys
from hypercorn.asyncio import serve
from hypercorn.config import Config

BODY = b'{"id":"chatcmpl-bench","object":"chat.completion","choices":[{"index":0,' \\
    b'"message":{"role":"assistant","content":"No."},"finish_reason":"stop"}],' \\
    b'"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}'


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})


config = Config()
config.bind = [f"127.0.0.1:{sys.argv[1]}"]
config.certfile, config.keyfile = sys.argv[2], sys.argv[3]
config.alpn_protocols = ["h2", "http/1.1"]
config.accesslog = None
config.keep_alive_timeout = 60
config.keep_alive_max_requests = 10**9  # its default (1000) ends an HTTP/2 connection mid-run
print("ready", flush=True)
asyncio.run(serve(app, config))
"""


async def httpx_client(
    url: str, ca: str, http2: bool, n_seq: int, n_conc: int
) -> tuple[float, float]:
    import httpx

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    context = ssl.create_default_context(cafile=ca)
    async with httpx.AsyncClient(limits=limits, verify=context, http2=http2) as client:

        async def one() -> None:
            r = await client.post(url, content=PAYLOAD, headers=HEADERS)
            assert r.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            r.read()

        return await measure(one, n_seq, n_conc)


def _wait_listening(port: int) -> None:
    """hypercorn is told to serve after "ready": poll until it accepts."""
    import socket
    import time

    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("hypercorn did not start")


def main() -> None:
    import trustme

    ca = trustme.CA()
    folder = Path(tempfile.mkdtemp())
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    port = free_port()
    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            sys.executable,
            "-c",
            SERVER,
            str(port),
            str(folder / "cert.pem"),
            str(folder / "key.pem"),
        ],
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
    os.sched_setaffinity(0, {0})
    url = f"https://127.0.0.1:{port}/v1/chat/completions"
    bundle = str(folder / "ca.pem")
    clients = (
        ("httpx, HTTP/1.1", lambda n, c: httpx_client(url, bundle, False, n, c)),
        ("httpx, HTTP/2 (h2)", lambda n, c: httpx_client(url, bundle, True, n, c)),
        (
            "steadyllm transport, HTTP/1.1",
            lambda n, c: steadyllm_transport(url, n, c, TLSConfig(ca_bundle=bundle)),
        ),
    )
    try:
        _wait_listening(port)
        print("| client | CPU per call (µs), 1 at a time | calls/s at 64 concurrent |")
        print("|---|---|---|")
        for name, fn in clients * 2:
            per_call, rate = asyncio.run(fn(1000, 2000))
            print(f"| {name} | {per_call * 1e6:,.0f} | {rate:,.0f} |", flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
