"""Run an emulator app with uvicorn, in a thread (tests) or as the main process (CLI).

The listening socket is bound before the server starts, so the port is known at once and
early connections wait in the backlog: no polling for readiness, no sleep.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading

import uvicorn


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(app, log_level: str, certfile: str | None, keyfile: str | None) -> uvicorn.Config:
    return uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="off",
        ssl_certfile=certfile, ssl_keyfile=keyfile, timeout_keep_alive=30,
        h11_max_incomplete_event_size=64 * 1024,
    )


class ServerThread:
    """An emulator in a background thread of the current process."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning",
                 certfile: str | None = None, keyfile: str | None = None) -> None:
        self.sock = bind(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.scheme = "https" if certfile else "http"
        self.server = uvicorn.Server(_config(app, log_level, certfile, keyfile))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # don't wait out idle keep-alive connections of finished clients
        self.thread.join(timeout=30)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(app, host: str, port: int, *, name: str, log_level: str = "warning",
                  certfile: str | None = None, keyfile: str | None = None) -> None:
    """CLI entry: print the URL first (``--port 0`` lets a parent learn the port), then serve."""
    sock = bind(host, port)
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    print(f"{name} emulator listening on {scheme}://{shown}:{sock.getsockname()[1]}", flush=True)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    uvicorn.Server(_config(app, log_level, certfile, keyfile)).run(sockets=[sock])
