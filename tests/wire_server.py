"""A loopback HTTP/1.1 server for transport tests: it parses requests with h11 (an HTTP
implementation independent of http.client) and answers byte for byte what each test writes."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable

import h11

Handler = Callable[[socket.socket, h11.Request, bytes], bool]  # returns False to close the connection


class WireServer:
    """Accepts connections on a free loopback port; each request goes to ``handler``."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[tuple[h11.Request, bytes]] = []
        self.closed = threading.Event()  # set each time the server closes a connection
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            parser = h11.Connection(h11.SERVER)
            while True:
                request, body = self._read_request(sock, parser)
                if request is None:
                    return
                self.requests.append((request, body))
                if not self.handler(sock, request, body):
                    return
                parser = h11.Connection(h11.SERVER)  # the handler wrote raw bytes: start afresh
        except (OSError, h11.RemoteProtocolError):
            return
        finally:
            sock.close()
            self.closed.set()

    @staticmethod
    def _read_request(sock: socket.socket, parser: h11.Connection) -> tuple[h11.Request | None, bytes]:
        request, body = None, bytearray()
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                parser.receive_data(data)
                if not data and request is None:
                    return None, b""
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None, b""

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.listener.close()


def answer(body: bytes = b"{}", *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
            + extra + b"\r\n" + body)


def sends(raw: bytes, *, keep_open: bool = True) -> Handler:
    """A handler that answers every request with ``raw``, then keeps the connection or closes it."""
    def handler(sock: socket.socket, request: h11.Request, body: bytes) -> bool:
        sock.sendall(raw)
        return keep_open

    return handler
