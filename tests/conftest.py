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

FAST_RETRY = RetrySettings(max_retries=6, backoff_initial=0.001, backoff_max=0.01, max_total_wait=30,
                           rate_limit_default_wait=0.01)


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
    api_key = kw.pop("api_key", DEMO_API_KEY)
    emu = CoverbaseEmulator([api_key], foreign_api_key="ak_test_foreign_org",
                            faults=CoverbaseFaults.model_validate(faults or {}), **kw)
    server = ServerThread(emu.app).start()
    return RunningCoverbase(emu, server, api_key)


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

SN_FAST_RETRY = RetrySettings(max_retries=8, backoff_initial=0.001, backoff_max=0.01, max_total_wait=30,
                              rate_limit_default_wait=0.01)


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
    creds = {"username": _fx.DEMO_SN_USER, "password": _fx.DEMO_SN_PASSWORD, "client_id": _fx.DEMO_SN_CLIENT_ID,
             "client_secret": _fx.DEMO_SN_CLIENT_SECRET}
    creds.update({k: kw.pop(k) for k in list(kw) if k in creds})
    emu = ServiceNowEmulator(sn_dataset.build(dataset), faults=ServiceNowFaults.model_validate(faults or {}),
                             **creds, **kw)
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


# --- sync engine harness ---------------------------------------------------------------------

from connector.config import ConnectorConfig, parse_config  # noqa: E402
from connector.sources.servicenow import ServiceNowSource  # noqa: E402
from connector.state import StateDB  # noqa: E402
from connector.sync.engine import PushOptions, SyncEngine  # noqa: E402

WRITE_METHODS = {"POST", "PATCH", "DELETE", "PUT"}


class Harness:
    """Both emulators, a state DB in tmp_path and an engine wired to them."""

    def __init__(self, tmp_path, *, dataset: str = "small", config: dict | None = None,
                 cb_faults: dict | None = None, sn_faults: dict | None = None, sn_client: dict | None = None,
                 cb_client: dict | None = None) -> None:
        self.cb = start_coverbase(faults=cb_faults)
        self.sn = start_servicenow(dataset, faults=sn_faults)
        self.cfg = parse_config(config or {}) if not isinstance(config, ConnectorConfig) else config
        self.state_path = tmp_path / "state.db"
        self.state = StateDB(self.state_path)
        self.cb_client = self.cb.client(**(cb_client or {}))
        kw = dict(sn_client or {})
        self.sn_client = self.sn.oauth_client(**kw) if kw.pop("oauth", False) else self.sn.client(**kw)
        self.engine = SyncEngine(state=self.state, coverbase=self.cb_client,
                                 source=ServiceNowSource(self.sn_client, self.cfg), config=self.cfg)

    def run(self, **kw):
        options = PushOptions(dry_run=kw.pop("dry_run", False), allow_mass_changes=kw.pop("allow_mass_changes", False),
                              retry_rejected=kw.pop("retry_rejected", False))
        return self.engine.run(options=options, **kw).report

    def cb_state(self) -> dict:
        return self.cb.state()

    def mark(self) -> int:
        return len(self.cb.emu.log)

    def writes_since(self, mark: int) -> list[dict]:
        return [e for e in self.cb.emu.log[mark:] if e["method"] in WRITE_METHODS and e["path"].startswith("/v1")]

    def close(self) -> None:
        self.cb_client.close()
        self.sn_client.close()
        self.state.close()
        self.cb.server.stop()
        self.sn.server.stop()


@pytest.fixture
def harness(tmp_path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()
