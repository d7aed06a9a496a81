"""The up-front settings check, wired into every step that does work.

How it hooks into Dagster: the resources resolve environment variables leniently (an unset one
is an empty value, not an ``EnvVar`` that fails while the run is being created), so every run
starts; the first step (``preflight_checks``, upstream of everything) calls ``require_settings``
before anything else and fails with one ``dg.Failure`` listing every problem. Nothing downstream
runs. Each extraction and push step and ``migrate_op`` call it too, so a run of a subset of the
assets (which may not include ``preflight_checks``) stops the same way. The console logger
(``assets/console.py``) prints that failure once and without a stack trace.

The settings judged are the ones the run will really use: the resources' values (bound from the
environment, or set in the Launchpad) on top of the process environment.
"""

from __future__ import annotations

import os

import dagster as dg

from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource
from connector.settings import Problem, Settings, check, format_problems


def effective_env(coverbase: CoverbaseResource, servicenow: ServiceNowResource | None,
                  ledger: LedgerResource) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"COVERBASE_API_URL": coverbase.api_url or "", "COVERBASE_API_KEY": coverbase.api_key or "",
                "CONNECTOR_STATE_DB": ledger.state_db or "", "CONNECTOR_CONFIG": ledger.config_path or ""})
    if servicenow is not None:
        env.update({"SERVICENOW_INSTANCE_URL": servicenow.instance_url or "",
                    "SERVICENOW_USERNAME": servicenow.username or "", "SERVICENOW_PASSWORD": servicenow.password or "",
                    "SERVICENOW_CLIENT_ID": servicenow.client_id or "",
                    "SERVICENOW_CLIENT_SECRET": servicenow.client_secret or ""})
    return env


class SettingsFailure(dg.Failure):
    """The run's settings are incomplete or wrong; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(description=format_problems(problems), allow_retries=False,
                         metadata={"problems": dg.MetadataValue.json([p.__dict__ for p in problems])})
        self.problems = problems


def require_settings(coverbase: CoverbaseResource, servicenow: ServiceNowResource | None,
                     ledger: LedgerResource) -> Settings:
    """Raise ``SettingsFailure`` with every problem, or return the effective settings.
    ``servicenow=None``: a run that does not read ServiceNow (a file-export migration)."""
    settings, problems = check(effective_env(coverbase, servicenow, ledger), needs_servicenow=servicenow is not None)
    if problems:
        raise SettingsFailure(problems)
    return settings
