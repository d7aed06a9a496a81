"""Dagster resources: one per API, plus the ledger. Secrets only ever arrive as ``dg.EnvVar``
(resolved at launch, shown by name in the UI, never stored in run config or event logs)."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from pydantic import Field

from assets.failures import dagster_failures
from connector.config import ConnectorConfig, SyncConfig, load_config
from connector.coverbase.client import DEFAULT_API_URL, CoverbaseClient
from connector.deadline import Deadline
from connector.errors import ConfigError
from connector.explain import coverbase_failure, servicenow_failure
from connector.servicenow.client import ServiceNowClient
from connector.sources.servicenow import ServiceNowSource
from connector.state import DEFAULT_PATH, StateDB


class CoverbaseResource(dg.ConfigurableResource):
    """The Coverbase REST API (``COVERBASE_API_URL``, ``COVERBASE_API_KEY``)."""

    api_url: str = DEFAULT_API_URL
    api_key: str = Field(default="", description="From the COVERBASE_API_KEY environment variable.")
    rate_limit_per_second: float | None = None
    max_concurrency: int | None = Field(None, description="Overrides sync.max_concurrency of the mapping file.")
    timeout_seconds: float = 120.0
    ca_bundle: str | None = None

    def client(self, sync: SyncConfig | None = None, deadline: Deadline | None = None) -> CoverbaseClient:
        kw = (sync or SyncConfig()).coverbase_client_kwargs()
        if self.max_concurrency:
            kw["max_concurrency"] = self.max_concurrency
        kw["rate_limit_per_second"] = kw["rate_limit_per_second"] or self.rate_limit_per_second
        return CoverbaseClient(self.api_url, self.api_key, timeout=self.timeout_seconds, ca_bundle=self.ca_bundle,
                               deadline=deadline, **kw)

    def check(self, deadline: Deadline | None = None) -> str:
        """Fail fast with the setting to fix (runs when a run starts)."""
        with dagster_failures(explain=lambda e: coverbase_failure(e, self.api_url), every_api_error=True):
            with self.client(deadline=deadline) as c:
                c.auth_test()
        return self.api_url


class ServiceNowResource(dg.ConfigurableResource):
    """A ServiceNow instance (``SERVICENOW_*``): Basic auth, or OAuth when a client id is set."""

    instance_url: str = ""
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    # Optional separate user for the write-back (SERVICENOW_WRITE_USERNAME / _PASSWORD); else the read user.
    write_username: str | None = None
    write_password: str | None = None
    max_concurrency: int = 4
    timeout_seconds: float = 120.0
    ca_bundle: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.instance_url)

    def client(self, deadline: Deadline | None = None) -> ServiceNowClient:
        if not self.instance_url:
            raise ConfigError("SERVICENOW_INSTANCE_URL is not set")
        return ServiceNowClient(self.instance_url, username=self.username or None, password=self.password or None,
                                client_id=self.client_id or None, client_secret=self.client_secret or None,
                                timeout=self.timeout_seconds, max_concurrency=self.max_concurrency,
                                ca_bundle=self.ca_bundle, deadline=deadline)

    def write_client(self, deadline: Deadline | None = None) -> ServiceNowClient:
        """The write-back's client: the write user when one is set (with OAuth, its password grant), else
        the read credentials."""
        if not (self.write_username and self.write_password):
            return self.client(deadline)
        if not self.instance_url:
            raise ConfigError("SERVICENOW_INSTANCE_URL is not set")
        return ServiceNowClient(self.instance_url, username=self.write_username, password=self.write_password,
                                credentials_hint="SERVICENOW_WRITE_USERNAME / SERVICENOW_WRITE_PASSWORD",
                                client_id=self.client_id or None, client_secret=self.client_secret or None,
                                timeout=self.timeout_seconds, max_concurrency=self.max_concurrency,
                                ca_bundle=self.ca_bundle, deadline=deadline)

    def source(self, config: ConnectorConfig, deadline: Deadline | None = None) -> ServiceNowSource:
        return ServiceNowSource(self.client(deadline), config)

    def check(self, config: ConnectorConfig, deadline: Deadline | None = None) -> dict[str, str]:
        with dagster_failures(explain=lambda e: servicenow_failure(e, self.instance_url), every_api_error=True):
            source = self.source(config, deadline)
            try:
                return source.check()
            finally:
                source.close()


class LedgerResource(dg.ConfigurableResource):
    """The state DB (``CONNECTOR_STATE_DB``) and the mapping file (``CONNECTOR_CONFIG``)."""

    state_db: str = DEFAULT_PATH
    config_path: str | None = None
    lock_wait_seconds: float = 0.0

    def config(self) -> ConnectorConfig:
        with dagster_failures():
            return load_config(self.config_path or None)

    def open(self) -> StateDB:
        return StateDB(self.state_db)


class SyncOptionsResource(dg.ConfigurableResource):
    """Per-run switches of ``sync_all``, set in the Launchpad under ``resources.sync_options``."""

    dry_run: bool = False
    allow_mass_changes: bool = False
    retry_rejected: bool = False
    full_refresh: bool = False


def _env(name: str, default: Any = None) -> Any:
    return dg.EnvVar(name) if os.environ.get(name) else default


def default_resources() -> dict[str, Any]:
    """Bound from the pinned environment variables when they are set. An unset one is an empty
    value, never an ``EnvVar`` that would fail while the run is created: the run starts and its
    first step lists every missing setting at once (``assets/settings_gate.py``)."""
    return {
        "coverbase": CoverbaseResource(api_url=_env("COVERBASE_API_URL", DEFAULT_API_URL),
                                       api_key=_env("COVERBASE_API_KEY", "")),
        "servicenow": ServiceNowResource(instance_url=_env("SERVICENOW_INSTANCE_URL", ""),
                                         username=_env("SERVICENOW_USERNAME"), password=_env("SERVICENOW_PASSWORD"),
                                         client_id=_env("SERVICENOW_CLIENT_ID"),
                                         client_secret=_env("SERVICENOW_CLIENT_SECRET"),
                                         write_username=_env("SERVICENOW_WRITE_USERNAME"),
                                         write_password=_env("SERVICENOW_WRITE_PASSWORD")),
        "ledger": LedgerResource(state_db=_env("CONNECTOR_STATE_DB", DEFAULT_PATH),
                                 config_path=_env("CONNECTOR_CONFIG")),
        "sync_options": SyncOptionsResource(),
    }
