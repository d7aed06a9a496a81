"""Entry module of the code location (``dagster dev`` / ``dagster job execute -m assets.definitions``)."""

import warnings
from typing import Any

import dagster as dg

# backfill_policy is marked beta in Dagster 1.13; it is the documented way to run a backfill
# in one run, which this product relies on. Keep the notice out of every run's log.
warnings.filterwarnings("ignore", message=".*backfill_policy.*")

from assets import console  # noqa: E402
from assets.checks import asset_checks  # noqa: E402
from assets.extract import extraction_assets, preflight_checks  # noqa: E402
from assets.jobs import migrate, sync_all, sync_all_schedule  # noqa: E402
from assets.push import push_assets  # noqa: E402
from assets.resources import default_resources  # noqa: E402
from assets.write_back import coverbase_outcomes_sensor, servicenow_assessment_outcomes, write_back  # noqa: E402

# A deliberate failure (settings, credentials, an unreachable API...) is printed once, without
# Dagster's stack trace, on the runs' console (assets/console.py).
console.install()


def build_definitions(resources: dict[str, Any] | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[preflight_checks, *extraction_assets, *push_assets, servicenow_assessment_outcomes],
        asset_checks=asset_checks,
        jobs=[sync_all, migrate, write_back],
        schedules=[sync_all_schedule],
        sensors=[coverbase_outcomes_sensor],
        resources=resources if resources is not None else default_resources(),
        executor=dg.in_process_executor,
    )


defs = build_definitions()
