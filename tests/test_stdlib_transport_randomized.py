"""The http.client transport under a seeded mix of what servers do, from several threads through a
small pool. Each request's fate is drawn from the seed and its number (so it does not depend on
thread timing); the invariants hold whatever the interleaving:

- every request ends, with its own body whole or with an httpx transport error;
- a request the server answered in full is never reported as failed, and one it cut short, hung up
  on or framed wrongly is never reported as a success;
- an error on a request that should have succeeded is only "disconnected without an answer" or
  "connection reset", and only for a request the server never read (a kept-alive connection closed
  under it);
- afterwards every connection permit is free again, and no more than the pool's size.

``STDLIB_TRANSPORT_SEEDS=1,2,3,...`` explores more seeds.
"""

from __future__ import annotations

import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import h11
import httpx
import pytest

from connector.http.stdlib_transport import StdlibTransport
from tests.wire_server import WireServer, answer

SEEDS = [int(s) for s in os.environ.get("STDLIB_TRANSPORT_SEEDS", "3,14,15").split(",")]
REQUESTS, THREADS, POOL = 200, 6, 3

FINE = ("ok", "big", "chunked", "conn-close", "silent-close", "early-hint", "http10")
BROKEN = ("truncated", "hang-up", "bad-chunk", "conflicting-length")


def body_of(i: int, kind: str) -> bytes:
    size = 200_000 + i if kind == "big" else 20 + i % 50
    return (f'{{"i": {i}, "pad": "'.encode() + b"x" * size + b'"}')


def fate(seed: int, i: int) -> str:
    return random.Random(seed * 100_003 + i).choice(FINE + BROKEN)


def respond(kind: str, body: bytes) -> tuple[bytes, bool]:
    """The bytes the server sends for a request of this kind, and whether it keeps the connection."""
    chunked = b"".join(b"%X\r\n%s\r\n" % (len(body[j:j + 7000]), body[j:j + 7000]) for j in range(0, len(body), 7000))
    return {
        "ok": (answer(body), True),
        "big": (answer(body), True),
        "chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n", True),
        "conn-close": (answer(body, extra=b"Connection: close\r\n"), False),
        "silent-close": (answer(body), False),  # closes without saying so: the pool must notice
        "early-hint": (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + answer(body), True),
        "http10": (b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body), False),
        "truncated": (answer(body).replace(b"Content-Length: ", b"Content-Length: 9"), False),
        "hang-up": (b"", False),
        "bad-chunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", True),
        "conflicting-length": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: %d\r\n\r\n%s"
                               % (len(body), body), False),  # the first length would be a short answer
    }[kind]


def unanswered(exc: Exception) -> bool:
    """The errors of a request sent on a kept-alive connection the server had just closed."""
    return ((isinstance(exc, httpx.RemoteProtocolError) and "without sending a response" in str(exc))
            or (isinstance(exc, httpx.ReadError) and "ConnectionResetError" in str(exc)))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_mix_of_server_behaviours_keeps_every_invariant(seed):
    read_by_server: set[int] = set()
    lock = threading.Lock()

    def handler(sock, request: h11.Request, body: bytes) -> bool:
        i = int(request.target.decode().rsplit("/", 1)[1])
        with lock:
            read_by_server.add(i)
        raw, keep = respond(fate(seed, i), body_of(i, fate(seed, i)))
        sock.sendall(raw)
        return keep

    server = WireServer(handler)
    transport = StdlibTransport(verify=True, max_connections=POOL, keepalive_expiry=60)
    outcomes: dict[int, bytes | Exception] = {}

    def one(i: int) -> None:
        try:
            outcomes[i] = c.post(server.url(f"/r/{i}"), json={"i": i}).content
        except httpx.TransportError as exc:
            outcomes[i] = exc

    try:
        with httpx.Client(transport=transport, timeout=httpx.Timeout(10.0, pool=30.0)) as c:
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(one, range(REQUESTS)))
            assert sorted(outcomes) == list(range(REQUESTS))
            for i, got in outcomes.items():
                kind = fate(seed, i)
                if kind in BROKEN:
                    assert isinstance(got, Exception), f"request {i} ({kind}) came back as a success"
                elif isinstance(got, Exception):
                    assert unanswered(got), f"request {i} ({kind}): {got!r}"
                    assert i not in read_by_server, f"request {i} ({kind}) was answered, yet reported failed"
                else:
                    assert got == body_of(i, kind), f"request {i} ({kind}): wrong body"
            # Every permit came back: the pool's size in streams at once, and not one more.
            server.handler = lambda sock, request, body: sock.sendall(answer(b"{}")) or True
            with ExitStack() as held:
                for n in range(POOL):
                    held.enter_context(c.stream("GET", server.url(f"/r/{REQUESTS + n}")))
                with pytest.raises(httpx.PoolTimeout):
                    c.get(server.url("/r/0"), timeout=httpx.Timeout(10.0, pool=0.3))
    finally:
        server.close()
