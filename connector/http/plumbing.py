"""What both API clients build the same way: options, TLS, gate, counted and logged transports.

Both clients take the same connection settings as keyword arguments (``HttpOptions``), with the
same names and meaning, and turn them into the same parts: a request gate, the gated
``ApiTransport`` for API calls, ungated transports for the side channels (ServiceNow's token
endpoint, Coverbase's presigned storage), timeouts and the run's deadline. ``Plumbing`` builds
those parts once so that neither client repeats the other's set-up, and ``set_deadline`` reaches
every part that waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Self, TypedDict

import httpx

from connector.deadline import Deadline
from connector.http.gate import RequestGate
from connector.http.requestlog import CallCounter, RequestHook
from connector.http.retrying import RetrySettings
from connector.http.transport import ApiTransport, http_transport, tls_verify

CONNECT_TIMEOUT = 15.0


class HttpOptions(TypedDict, total=False):
    """Connection settings, the same for both clients (each keyword may be left out)."""

    timeout: float  # read/write/pool timeout per exchange, seconds (connect: 15 s)
    max_concurrency: int  # requests in flight at most (the ceiling when adaptive)
    rate_limit_per_second: float | None  # client-side hard cap
    retry: RetrySettings | None  # None: the client's own defaults
    request_hook: RequestHook | None  # sees every exchange, secrets redacted
    ca_bundle: str | None  # extra CA file; verification is never switched off
    transport: httpx.BaseTransport | None  # tests: an httpx.MockTransport
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    deadline: Deadline | None  # the run's deadline; every wait is capped by it
    slot_timeout: float  # longest wait for a request slot
    adaptive_concurrency: bool  # AIMD between 1 and max_concurrency (connector/http/aimd.py)
    initial_concurrency: int | None  # the adaptive limit's start


OPTION_NAMES = frozenset(HttpOptions.__annotations__)


class Plumbing:
    """The parts of one client's request path, built from its ``HttpOptions``."""

    def __init__(self, options: HttpOptions, *, name: str, api: str, default_concurrency: int,
                 default_retry: RetrySettings, hook: Callable[[], RequestHook | None],
                 retry_after: Callable[[httpx.Response], float | None] | None = None) -> None:
        unknown = set(options) - OPTION_NAMES
        if unknown:  # a TypedDict does not check at run time; a misspelt setting must not pass silently
            raise TypeError(f"unknown {name} client option(s): {', '.join(sorted(unknown))}")
        self.api = api
        self.verify = tls_verify(options.get("ca_bundle"))
        self.retry = options.get("retry") or default_retry
        self.sleep = options.get("sleep", time.sleep)
        self.clock = options.get("clock", time.monotonic)
        self.deadline = options.get("deadline") or Deadline.never()
        self.max_concurrency = options.get("max_concurrency", default_concurrency)
        self.timeouts = httpx.Timeout(options.get("timeout", 120.0), connect=CONNECT_TIMEOUT)
        self.calls = CallCounter()
        self._given = options.get("transport")
        self._hook = hook
        self.gate = RequestGate(
            name=name, rate_limit_per_second=options.get("rate_limit_per_second"),
            max_concurrency=self.max_concurrency, sleep=self.sleep, clock=self.clock,
            slot_timeout=options.get("slot_timeout", 600.0), max_pause=self.retry.max_single_wait,
            deadline=self.deadline, adaptive=options.get("adaptive_concurrency", False),
            initial_concurrency=options.get("initial_concurrency"))
        self.transport = ApiTransport(
            self._inner(self.max_concurrency * 2), api=api, calls=self.calls, gate=self.gate, hook=hook,
            retry_after=retry_after, default_wait=self.retry.rate_limit_default_wait, deadline=self.deadline)
        self.transports = [self.transport]  # every transport built here: set_deadline reaches each

    def ungated(self, *, calls: CallCounter, max_connections: int,
                path_label: Callable[[httpx.Request], str] | None = None) -> ApiTransport:
        """A side channel: counted and logged like API calls, on its own connections, without the gate
        (so busy API slots can never starve it)."""
        t = ApiTransport(self._inner(max_connections), api=self.api, calls=calls, hook=self._hook,
                         path_label=path_label, deadline=self.deadline)
        self.transports.append(t)
        return t

    def set_deadline(self, deadline: Deadline) -> None:
        self.deadline = self.gate.deadline = deadline
        for t in self.transports:
            t.deadline = deadline

    def _inner(self, max_connections: int) -> httpx.BaseTransport:
        return self._given or http_transport(verify=self.verify, max_connections=max_connections)


class PlumbedClient:
    """What every client built on ``Plumbing`` offers the same way: its deadline, and closing."""

    plumbing: Plumbing

    @property
    def deadline(self) -> Deadline:
        return self.plumbing.deadline

    def set_deadline(self, deadline: Deadline) -> None:
        """Bound every wait of this client by the run's deadline."""
        self.plumbing.set_deadline(deadline)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
