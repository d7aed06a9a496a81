"""HTTP/1.1 exchanges over the standard library's ``http.client``, under httpx.

Why not httpx's default transport (httpcore + h11)? The connector is CPU-bound in its own process
(issue 16): with 32 threads posting vendors to the Coverbase emulator, httpcore + h11 cost 1.7-2.2 ms
of CPU per request and this transport 0.7-0.85 ms (``bench/transport.py`` prints both; with 8 threads
1.1-1.3 against 1.0 ms: httpcore scans its whole pool on every request). httpx stays the
client: requests, auth flows, decoding and the ``Response`` API are unchanged, and so are the
exception classes the retry layer reads (``ConnectError`` and ``ConnectTimeout`` mean nothing was
sent). ``http.client``, which the standard library maintains, opens the connections (TLS through
``ssl``, with the host name checked) and reads the answers (status line, headers, chunked and
length-delimited bodies).

What this module adds:

- the request is written here, in as few sends as possible: the head and a small body in one
  (``http.client`` sends them apart, which costs a packet and, on a kept-alive connection the server
  has just closed, turns "not answered" into a broken pipe halfway through the request); header
  names and values are checked before anything is sent;
- idle connections per origin, newest first, at most ``max_keepalive`` of them, each dropped after
  ``keepalive_expiry`` seconds idle or when the server has closed it (readable while idle);
- at most ``max_connections`` exchanges at once (``_slots``), each waiting for a connection at most
  the request's ``pool`` timeout (then ``httpx.PoolTimeout``: nothing was sent);
- timeouts from the request's ``timeout`` extension (connect, write, read);
- socket and parser errors mapped onto httpx's exception classes.

Requests that go through a proxy keep httpx's own transport (``ProxyAwareTransport``); setting
``CONNECTOR_HTTP_ENGINE=httpcore`` puts every request back on it.

Lock order (docs/architecture.md, "Locks and waits"): a ``_slots`` permit is taken inside a
request-gate slot, never the other way round, and is returned when the response body is closed;
``_lock`` is a leaf that guards the idle lists and is never held across I/O.
"""

from __future__ import annotations

import http.client
import re
import select
import ssl
import threading
import time

import httpx

CHUNK = 64 * 1024
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a method or a header name (RFC 9110 5.6.2)
_NOT_IN_VALUE = re.compile(rb"[\r\n\x00]")  # what would end a header line early, or split the request
DEFAULT_POOL_WAIT = 600.0  # when a request carries no pool timeout: a bound all the same

Origin = tuple[str, str, int]


def _server_closed(conn: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed by the server (or sent what no
    request asked for): it must not carry the next request."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


_FOLD = re.compile(r"\r?\n[ \t]*")


def _unfold(value: str) -> str:
    """A header folded over several lines (obs-fold, RFC 9112 5.2) as one line: http.client keeps the
    line breaks inside the value, and a CR or LF must never reach a header value we hand on."""
    return _FOLD.sub(" ", value) if "\n" in value or "\r" in value else value


class _Response(http.client.HTTPResponse):
    """``http.client``'s response, with the framing rules it gets wrong or leaves out."""

    def _read_status(self) -> tuple[str, int, str]:
        # http.client skips only 100 Continue and would hand back a 102 Processing or 103 Early Hints
        # as the answer (its body taken as empty, the real answer left unread): skip every interim
        # response but 101, which we never ask for (RFC 9110 15.2).
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            http.client.parse_headers(self.fp)

    def begin(self) -> None:
        super().begin()
        if self.length == 0:
            # 204, 304 and HEAD answers end at their headers, whatever Transfer-Encoding says (a 304
            # may name the coding the full answer would use, RFC 9112 6.1); http.client would read
            # a chunked body that never comes, until the read timeout.
            self.chunked = False
        elif not self.chunked:
            # http.client takes the first Content-Length and reads to EOF when it is not a plain
            # number: two different lengths gave a short answer, "12, 12" (a proxy merging repeats)
            # a wait for the read timeout. One length however repeated, else an error (RFC 9112 6.3).
            lengths = {v.strip() for field in self.headers.get_all("content-length", []) for v in field.split(",")}
            if len(lengths) > 1 or not all(v.isascii() and v.isdigit() for v in lengths):
                raise http.client.HTTPException(f"invalid Content-Length {', '.join(sorted(lengths))}")
            if lengths:
                self.length = int(lengths.pop())


class _Body(httpx.SyncByteStream):
    """A response body read from the connection as the caller asks; closing it hands the
    connection back to the pool when the whole body was read and the server keeps it open."""

    def __init__(self, pool: StdlibTransport, origin: Origin, conn: http.client.HTTPConnection,
                 resp: _Response, request: httpx.Request) -> None:
        self._pool, self._origin, self._conn, self._resp, self._request = pool, origin, conn, resp, request
        self._closed = False
        self._complete = False  # the body was read to its end without error

    def __iter__(self):
        resp = self._resp
        try:
            if not resp.chunked and resp.length is not None and resp.length <= CHUNK:
                body = resp.read()  # a JSON answer: one read, and IncompleteRead if the server cut it short
                if body:
                    yield body
            else:
                while chunk := resp.read(CHUNK):
                    yield chunk
                if resp.length:  # read(amt) returns b"" at a premature EOF instead of raising
                    raise httpx.RemoteProtocolError(
                        f"the server closed the connection with {resp.length} bytes of the body still to come",
                        request=self._request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"timed out reading the response body: {exc}", request=self._request) from exc
        except http.client.HTTPException as exc:  # IncompleteRead: the server cut the body short
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=self._request) from exc
        except OSError as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=self._request) from exc
        self._complete = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # isclosed() alone is not enough: http.client also closes the response on a malformed chunk,
        # and the socket behind it may still be open with the framing lost.
        reusable = self._complete and self._resp.isclosed() and not self._resp.will_close
        if not reusable:
            self._resp.close()
            self._conn.close()  # the response only closed its file: the socket is the connection's
        self._pool._check_in(self._origin, self._conn if reusable else None)


class StdlibTransport(httpx.BaseTransport):
    """Direct HTTP/1.1 connections (no proxy) with a bounded keep-alive pool."""

    def __init__(self, *, verify: ssl.SSLContext | bool, max_connections: int, max_keepalive: int | None = None,
                 keepalive_expiry: float = 5.0) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        if verify is False:
            raise ValueError("TLS verification cannot be switched off")
        self._ssl = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._max_keepalive = max_connections if max_keepalive is None else max_keepalive
        self._expiry = keepalive_expiry
        self._lock = threading.Lock()  # a leaf: guards _idle and _idle_count, never held across I/O
        self._idle: dict[Origin, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._idle_count = 0
        self._closed = False

    # -- the pool ------------------------------------------------------------------------------

    def _take_idle(self, origin: Origin) -> http.client.HTTPConnection | None:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                if not idle:
                    return None
                conn, since = idle.pop()
                self._idle_count -= 1
            if time.monotonic() - since < self._expiry and not _server_closed(conn):
                return conn
            conn.close()

    def _connect(self, origin: Origin, timeout: float | None, request: httpx.Request) -> http.client.HTTPConnection:
        scheme, host, port = origin
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request) from exc
        except OSError as exc:  # refused, unreachable, name not known, TLS handshake or certificate
            conn.close()
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from exc
        return conn

    def _check_in(self, origin: Origin, conn: http.client.HTTPConnection | None) -> None:
        """Give the exchange's permit back; keep ``conn`` for the next request when there is room."""
        try:
            if conn is not None:
                with self._lock:
                    if not self._closed and self._idle_count < self._max_keepalive:
                        self._idle.setdefault(origin, []).append((conn, time.monotonic()))
                        self._idle_count += 1
                        conn = None
                if conn is not None:
                    conn.close()
        finally:
            self._slots.release()

    # -- one exchange --------------------------------------------------------------------------

    @staticmethod
    def _head(request: httpx.Request) -> bytes:
        """The request line and headers, checked: nothing that could end a line early is sent."""
        method, target = request.method.encode("ascii", "replace"), request.url.raw_path
        if not _TOKEN.fullmatch(method) or not target or any(c in target for c in b" \r\n\x00"):
            raise httpx.LocalProtocolError(f"cannot send {request.method} {target!r}", request=request)
        lines = [b"%s %s HTTP/1.1" % (method, target)]
        for name, value in request.headers.raw:  # httpx set Host, Content-Length or Transfer-Encoding
            if not _TOKEN.fullmatch(name) or _NOT_IN_VALUE.search(value):
                raise httpx.LocalProtocolError(f"illegal header {name!r}", request=request)
            lines.append(b"%s: %s" % (name, value))
        lines.append(b"\r\n")
        return b"\r\n".join(lines)

    @staticmethod
    def _send(sock, head: bytes, request: httpx.Request, write_timeout: float | None) -> None:
        """Write the request: a small body goes with the head in one send; a streamed upload in
        pieces of at least ``CHUNK`` bytes where it can (the multipart head, a small file and the
        closing boundary are one send)."""
        sock.settimeout(write_timeout)
        if isinstance(request.stream, httpx.ByteStream):
            sock.sendall(head + request.content)
            return
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        pending = bytearray(head)
        for chunk in request.stream:  # type: ignore[union-attr]  # an upload streamed from disk
            if not chunk:
                continue
            piece = b"%X\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
            if len(pending) + len(piece) > CHUNK:
                sock.sendall(pending)
                pending.clear()
            if len(piece) >= CHUNK:
                sock.sendall(piece)
            else:
                pending += piece
        if chunked:
            pending += b"0\r\n\r\n"
        if pending:
            sock.sendall(pending)

    @staticmethod
    def _receive(sock, request: httpx.Request) -> _Response:
        resp = _Response(sock, method=request.method)
        try:
            resp.begin()
            return resp
        except BaseException as exc:
            resp.close()  # its file holds the socket open otherwise, until garbage collection
            if isinstance(exc, TimeoutError):
                raise httpx.ReadTimeout(f"timed out waiting for the response: {exc}", request=request) from exc
            if isinstance(exc, http.client.RemoteDisconnected):
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                                request=request) from exc
            if isinstance(exc, http.client.HTTPException):  # a status line or headers that do not parse
                raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request) from exc
            if isinstance(exc, OSError):
                raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
            raise

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}", request=request)
        origin: Origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout") or {}
        pool_wait = timeouts.get("pool")
        if not self._slots.acquire(timeout=DEFAULT_POOL_WAIT if pool_wait is None else pool_wait):
            raise httpx.PoolTimeout(f"no connection to {url.host} came free in time", request=request)
        conn: http.client.HTTPConnection | None = None
        try:
            head = self._head(request)
            conn = self._take_idle(origin) or self._connect(origin, timeouts.get("connect"), request)
            sock = conn.sock
            write_error: ConnectionError | None = None
            try:
                self._send(sock, head, request, timeouts.get("write"))
            except TimeoutError as exc:
                raise httpx.WriteTimeout(f"timed out sending the request: {exc}", request=request) from exc
            except ConnectionError as exc:
                # The server may have answered before reading the whole body (a 413, a 401) and
                # hung up: that answer is the outcome, as with httpcore, not a retryable WriteError.
                write_error = exc
            except OSError as exc:
                raise httpx.WriteError(f"{type(exc).__name__}: {exc}", request=request) from exc
            read_timeout = timeouts.get("read")
            if read_timeout != timeouts.get("write"):
                sock.settimeout(read_timeout)
            try:
                resp = self._receive(sock, request)
            except httpx.TransportError:
                if write_error is None:
                    raise
                raise httpx.WriteError(f"{type(write_error).__name__}: {write_error}",
                                       request=request) from write_error
            if write_error is not None:
                resp.will_close = True  # half a request went out: the connection carries no other
            # http.client decoded the header block as latin-1: encoding it back gives the bytes the
            # server sent (httpx would encode str values as ASCII and fail on a UTF-8 filename).
            headers = [(name.encode("latin-1"), _unfold(value).encode("latin-1")) for name, value in resp.getheaders()]
            return httpx.Response(resp.status, headers=headers, stream=_Body(self, origin, conn, resp, request),
                                  extensions={"http_version": b"HTTP/1.0" if resp.version == 10 else b"HTTP/1.1",
                                              "reason_phrase": (resp.reason or "").encode("latin-1", "replace")})
        except BaseException:
            if conn is not None:
                conn.close()
            self._slots.release()
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [c for conns in self._idle.values() for c, _ in conns]
            self._idle.clear()
            self._idle_count = 0
        for conn in idle:
            conn.close()
