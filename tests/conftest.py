"""Shared fixtures: the project's own emulators on free loopback ports, real clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from connector.coverbase.client import CoverbaseClient
from connector.emulators.coverbase_app import CoverbaseEmulator, CoverbaseFaults
from connector.emulators.fixtures import DEMO_API_KEY
from connector.emulators.server import ServerThread
from connector.http.retrying import RetrySettings

os.environ.setdefault("DAGSTER_HOME", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".dagster"))

FAST_RETRY = RetrySettings(max_retries=6, backoff_initial=0.001, backoff_max=0.01, max_total_wait=30)


class VirtualTime:
    """Injected clock + sleep: retry and pause logic run without waiting in real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class RunningCoverbase:
    emu: CoverbaseEmulator
    server: ServerThread
    api_key: str

    @property
    def url(self) -> str:
        return self.server.url

    def state(self) -> dict:
        return self.emu.store.snapshot()[self.emu.store.main_org.id]

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def requests(self, since: int = 0) -> list[dict]:
        return list(self.emu.log[since:])

    def client(self, **kw) -> CoverbaseClient:
        kw.setdefault("retry", FAST_RETRY)
        return CoverbaseClient(self.url, self.api_key, **kw)


def start_coverbase(**kw) -> RunningCoverbase:
    faults = kw.pop("faults", None)
    emu = CoverbaseEmulator([DEMO_API_KEY], foreign_api_key="ak_test_foreign_org",
                            faults=CoverbaseFaults.model_validate(faults or {}), **kw)
    server = ServerThread(emu.app).start()
    return RunningCoverbase(emu, server, DEMO_API_KEY)


@pytest.fixture
def coverbase() -> Iterator[RunningCoverbase]:
    running = start_coverbase()
    yield running
    running.server.stop()


@pytest.fixture
def cb(coverbase: RunningCoverbase) -> Iterator[CoverbaseClient]:
    with coverbase.client() as client:
        yield client


# --- ServiceNow ------------------------------------------------------------------------------

from connector.emulators import fixtures as _fx  # noqa: E402
from connector.emulators import sn_dataset  # noqa: E402
from connector.emulators.servicenow_app import ServiceNowEmulator, ServiceNowFaults  # noqa: E402
from connector.servicenow.client import ServiceNowClient  # noqa: E402

SN_FAST_RETRY = RetrySettings(max_retries=8, backoff_initial=0.001, backoff_max=0.01, max_total_wait=30)


@dataclass
class RunningServiceNow:
    emu: ServiceNowEmulator
    server: ServerThread

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, **kw) -> ServiceNowClient:
        kw.setdefault("retry", SN_FAST_RETRY)
        if not kw.get("client_id"):
            kw.setdefault("username", _fx.DEMO_SN_USER)
            kw.setdefault("password", _fx.DEMO_SN_PASSWORD)
        return ServiceNowClient(self.url, **kw)

    def oauth_client(self, **kw) -> ServiceNowClient:
        return self.client(client_id=_fx.DEMO_SN_CLIENT_ID, client_secret=_fx.DEMO_SN_CLIENT_SECRET, **kw)


def start_servicenow(dataset: str = "small", *, faults: dict | None = None, certfile=None, keyfile=None,
                     **kw) -> RunningServiceNow:
    emu = ServiceNowEmulator(sn_dataset.build(dataset), username=_fx.DEMO_SN_USER, password=_fx.DEMO_SN_PASSWORD,
                             client_id=_fx.DEMO_SN_CLIENT_ID, client_secret=_fx.DEMO_SN_CLIENT_SECRET,
                             faults=ServiceNowFaults.model_validate(faults or {}), **kw)
    server = ServerThread(emu.app, certfile=certfile, keyfile=keyfile).start()
    return RunningServiceNow(emu, server)


@pytest.fixture
def servicenow() -> Iterator[RunningServiceNow]:
    running = start_servicenow()
    yield running
    running.server.stop()


@pytest.fixture
def sn(servicenow: RunningServiceNow) -> Iterator[ServiceNowClient]:
    with servicenow.client() as client:
        yield client
