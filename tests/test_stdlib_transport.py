"""The http.client transport (connector/http/stdlib_transport.py) against a loopback server that
parses requests with h11, an HTTP implementation independent of http.client, and answers byte for
byte what each test writes: so the transport is judged by what went over the wire."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator

import h11
import httpx
import pytest
import trustme

from connector.http.stdlib_transport import StdlibTransport
from tests.wire_server import Handler, WireServer, answer, sends


def keep_alive(sock: socket.socket, request: h11.Request, body: bytes) -> bool:
    sock.sendall(answer(b'{"ok": true}'))
    return True


@pytest.fixture
def serve() -> Iterator[Callable[..., WireServer]]:
    servers: list[WireServer] = []

    def start(handler: Handler = keep_alive, **kw) -> WireServer:
        servers.append(WireServer(handler, **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def client(max_connections: int = 4, **kw) -> httpx.Client:
    return httpx.Client(transport=StdlibTransport(verify=True, max_connections=max_connections), **kw)


def test_sequential_requests_share_one_kept_alive_connection(serve):
    server = serve()
    with client() as c:
        for _ in range(5):
            assert c.get(server.url()).json() == {"ok": True}
    assert server.connections == 1


def test_the_request_arrives_as_sent_headers_and_json_body(serve):
    server = serve()
    with client() as c:
        c.post(server.url("/v1/vendors?x=a%20b"), json={"name": "Acme"}, headers={"Idempotency-Key": "sn:v:1"})
    request, body = server.requests[0]
    assert request.method == b"POST" and request.target == b"/v1/vendors?x=a%20b"
    assert dict(request.headers)[b"idempotency-key"] == b"sn:v:1"
    assert dict(request.headers)[b"host"] == f"127.0.0.1:{server.port}".encode()
    assert body == b'{"name":"Acme"}'


def test_a_streamed_upload_without_a_length_is_sent_chunked_and_arrives_whole(serve):
    server = serve()
    parts = [b"a" * 70_000, b"", b"b" * 3, b"c" * 100_000]
    with client() as c:
        c.post(server.url("/upload"), content=iter(parts))
    request, body = server.requests[0]
    assert dict(request.headers)[b"transfer-encoding"] == b"chunked"
    assert body == b"".join(parts)


def test_a_large_response_streams_in_pieces_and_the_connection_is_reused(serve):
    big = bytes(range(256)) * 4096  # 1 MiB

    server = serve(sends(answer(big)))
    with client() as c:
        with c.stream("GET", server.url()) as resp:
            pieces = list(resp.iter_raw())
        assert b"".join(pieces) == big and len(pieces) > 1
        assert c.get(server.url()).content == big
    assert server.connections == 1


def test_a_chunked_response_is_read_whole(serve):
    server = serve(sends(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"))
    with client() as c:
        assert c.get(server.url()).content == b"hello world"
        assert c.get(server.url()).content == b"hello world"
    assert server.connections == 1


@pytest.mark.parametrize("length, sent", [(100, 10), (500_000, 70_000)], ids=["small body", "streamed body"])
def test_a_body_cut_short_is_a_protocol_error_not_a_short_answer(serve, length, sent):
    lying = answer(b"x" * sent).replace(f"Content-Length: {sent}".encode(), f"Content-Length: {length}".encode())
    server = serve(sends(lying, keep_open=False))
    with client() as c, pytest.raises(httpx.RemoteProtocolError):
        c.get(server.url())


def test_a_connection_the_server_closed_while_idle_is_not_used_again(serve):
    def answer_then_close(sock, request, body):
        sock.sendall(answer(b'{"ok": true}'))  # says nothing of closing, then closes
        return False

    server = serve(answer_then_close)
    with client() as c:
        assert c.post(server.url(), json={}).status_code == 200
        assert server.closed.wait(10)
        # A POST on the dead connection would be "maybe sent"; the pool must see the close first.
        assert c.post(server.url(), json={}).status_code == 200
    assert server.connections == 2


def test_connection_close_from_the_server_is_honoured(serve):
    server = serve(sends(answer(b"{}", extra=b"Connection: close\r\n"), keep_open=False))
    with client() as c:
        for _ in range(3):
            assert c.get(server.url()).status_code == 200
    assert server.connections == 3


def test_a_server_that_hangs_up_without_answering_is_a_protocol_error(serve):
    server = serve(lambda sock, request, body: False)
    with client() as c, pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        c.post(server.url(), json={})


def test_no_answer_within_the_read_timeout_is_a_read_timeout(serve):
    release = threading.Event()

    def silent(sock, request, body):
        release.wait(10)
        return False

    server = serve(silent)
    try:
        with client(timeout=httpx.Timeout(5.0, read=0.2)) as c, pytest.raises(httpx.ReadTimeout):
            c.get(server.url())
    finally:
        release.set()


def test_a_refused_connection_is_a_connect_error_so_nothing_was_sent():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with client() as c, pytest.raises(httpx.ConnectError):
        c.get(f"http://127.0.0.1:{port}/")


def test_every_connection_in_use_makes_the_next_request_wait_then_time_out(serve):
    server = serve()
    with client(max_connections=1, timeout=httpx.Timeout(5.0, pool=0.2)) as c:
        with c.stream("GET", server.url()):  # holds the only connection until closed
            with pytest.raises(httpx.PoolTimeout):
                c.get(server.url())
        assert c.get(server.url()).status_code == 200  # given back once the first response closed


def test_only_http_and_https_are_spoken():
    with client() as c, pytest.raises(httpx.UnsupportedProtocol):
        c.get("ftp://127.0.0.1/file")


def test_tls_verification_cannot_be_switched_off():
    with pytest.raises(ValueError, match="cannot be switched off"):
        StdlibTransport(verify=False, max_connections=1)


def test_https_is_verified_against_the_given_ca_and_refused_without_it(serve):
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    server = serve(tls=server_ctx)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    with httpx.Client(transport=StdlibTransport(verify=trusting, max_connections=2)) as c:
        assert c.get(server.url()).json() == {"ok": True}
    with client() as c, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        c.get(server.url())


def test_a_non_ascii_response_header_arrives_as_its_bytes_and_frees_the_connection(serve):
    disposition = 'Content-Disposition: attachment; filename="café.csv"\r\n'.encode()
    server = serve(sends(answer(b"{}", extra=disposition)))
    with client(max_connections=1, timeout=httpx.Timeout(5.0, pool=0.5)) as c:
        resp = c.get(server.url())
        assert resp.headers.raw[-1] == (b"Content-Disposition", 'attachment; filename="café.csv"'.encode())
        assert c.get(server.url()).status_code == 200  # the only permit came back


def test_a_response_closed_unread_closes_its_connection_at_once(serve):
    server = serve()
    with client() as c:
        with c.stream("GET", server.url()) as resp:
            pass
        # resp (and so the transport's objects) still alive: the socket must be closed all the same
        assert server.closed.wait(5)
        assert resp.is_closed


def test_a_connection_whose_body_ended_in_a_protocol_error_is_not_used_again(serve):
    answers = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", answer()]

    def handler(sock, request, body):
        sock.sendall(answers.pop(0))
        return True  # the server carries on: only the client can tell the framing broke

    server = serve(handler)
    with client() as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(server.url())
        assert c.get(server.url()).status_code == 200
    assert server.connections == 2


@pytest.mark.parametrize("informational", [b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
                                           b"HTTP/1.1 102 Processing\r\n\r\n"], ids=["103", "102"])
def test_informational_responses_before_the_final_one_are_skipped(serve, informational):
    server = serve(sends(informational + answer(b'{"ok": true}')))
    with client(timeout=httpx.Timeout(5.0, read=2.0)) as c:
        assert c.post(server.url(), json={}).json() == {"ok": True}
        assert c.post(server.url(), json={}).json() == {"ok": True}
    assert server.connections == 1


def test_a_304_that_names_a_chunked_coding_has_no_body(serve):
    server = serve(sends(b'HTTP/1.1 304 Not Modified\r\nETag: "1"\r\nTransfer-Encoding: chunked\r\n\r\n'))
    with client(timeout=httpx.Timeout(5.0, read=2.0)) as c:
        assert c.get(server.url()).status_code == 304
        assert c.get(server.url()).status_code == 304
    assert server.connections == 1


def test_conflicting_content_lengths_are_a_protocol_error_not_a_short_answer(serve):
    server = serve(sends(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 12\r\n\r\n{"ok": true}'))
    with client(timeout=httpx.Timeout(5.0, read=2.0)) as c, pytest.raises(httpx.RemoteProtocolError):
        c.get(server.url())


def test_a_repeated_identical_content_length_is_one_length(serve):
    server = serve(sends(b'HTTP/1.1 200 OK\r\nContent-Length: 12, 12\r\n\r\n{"ok": true}'))
    with client(timeout=httpx.Timeout(5.0, read=2.0)) as c:
        assert c.get(server.url()).json() == {"ok": True}


def test_an_answer_sent_before_the_upload_was_read_is_returned_not_a_write_error():
    listener = socket.create_server(("127.0.0.1", 0))
    hung_up = threading.Event()

    def refuse_upload():
        sock, _ = listener.accept()
        with sock:
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            sock.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        hung_up.set()  # closed with the upload unread: the client's next writes fail

    def upload():
        yield b"x" * 65536
        assert hung_up.wait(5)
        for _ in range(1000):
            yield b"x" * 65536

    threading.Thread(target=refuse_upload, daemon=True).start()
    try:
        with client(timeout=httpx.Timeout(5.0)) as c:
            resp = c.post(f"http://127.0.0.1:{listener.getsockname()[1]}/upload", content=upload())
        assert resp.status_code == 413
    finally:
        listener.close()


def test_an_http_1_0_answer_is_reported_as_http_1_0_and_its_connection_closed(serve):
    # no Keep-Alive: HTTP/1.0 closes after the answer, whatever the server does next
    server = serve(sends(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
    with client() as c:
        assert c.get(server.url()).http_version == "HTTP/1.0"
        assert c.get(server.url()).status_code == 200
    assert server.connections == 2


def test_a_folded_header_arrives_as_one_line_without_line_breaks(serve):
    server = serve(sends(answer(b"{}", extra=b"X-Note: first part\r\n  second part\r\n")))
    with client() as c:
        assert c.get(server.url()).headers["x-note"] == "first part second part"


def test_a_header_value_that_would_split_the_request_is_refused_before_anything_is_sent(serve):
    server = serve()
    with client() as c, pytest.raises(httpx.LocalProtocolError, match="illegal header"):
        c.get(server.url(), headers={"X-Note": "a\r\nX-Injected: 1"})
    assert server.connections == 0

