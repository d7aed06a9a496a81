"""The pinned command with bad settings: one short message listing every problem comes first,
without a stack trace, and the run's failure in the instance (what the UI shows) carries it."""

from __future__ import annotations

import os
import subprocess

import dagster as dg
import pytest

from tests.test_dagster_dev import DAGSTER, REPO, dagster_home

HOW = "(README: Configuring a real instance)"
EXPECTED = [
    "  - COVERBASE_API_KEY: not set. Set it to the API key of a Coverbase service account of your org (ak_…, no "
    f"scopes needed) {HOW}",
    f"  - SERVICENOW_INSTANCE_URL: not set. Set it to https://<instance>.service-now.com {HOW}",
    "  - SERVICENOW_USERNAME, SERVICENOW_PASSWORD: no ServiceNow credentials are set. Set SERVICENOW_USERNAME and "
    "SERVICENOW_PASSWORD (Basic auth), or SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET (OAuth) " + HOW,
]
DAGSTER_HOME_LINE = ("  - DAGSTER_HOME: not set (runs would not be recorded, and neither the writer pool nor run "
                     "monitoring would apply). Set DAGSTER_HOME=$PWD/.dagster (the repository's instance: run queue, "
                     f"writer pool, run monitoring) {HOW}")
DOCTOR = "Check every setting and both APIs at once with: .venv/bin/python -m connector doctor"


def _pinned(env: dict[str, str]) -> list[str]:
    done = subprocess.run([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert done.returncode != 0
    return done.stdout.splitlines()


def _first_error(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if " - ERROR - " in line)


@pytest.mark.timeout(300)
def test_with_no_environment_the_pinned_command_first_lists_every_missing_variable_and_how_to_set_it(tmp_path):
    lines = _pinned({"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    i = _first_error(lines)
    assert lines[i].endswith('preflight_checks - STEP_FAILURE - Execution of step "preflight_checks" failed.')
    assert lines[i + 1:i + 8] == [
        "", "The connector's settings have 4 problems; nothing was run. Fix all of them, then run again:",
        *EXPECTED, DAGSTER_HOME_LINE, DOCTOR]
    text = "\n".join(lines)
    assert "Traceback" not in text and "Stack Trace" not in text  # none before the message, none after
    assert text.count("COVERBASE_API_KEY: not set") == 1  # once: the run failure does not repeat it
    assert not [line for line in lines if " - ERROR - " in line and "Not executing" in line]


@pytest.mark.timeout(300)
def test_with_only_dagster_home_set_the_run_fails_before_any_other_step_and_its_failure_lists_the_problems(tmp_path):
    home = dagster_home(tmp_path)
    lines = _pinned({"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DAGSTER_HOME": str(home)})
    i = _first_error(lines)
    assert lines[i + 1:i + 7] == [
        "", "The connector's settings have 3 problems; nothing was run. Fix all of them, then run again:",
        *EXPECTED, DOCTOR]
    # What the UI shows: the run failed, and its failure event carries the same message.
    instance = dg.DagsterInstance.from_config(str(home))
    run = instance.get_runs()[0]
    assert run.status == dg.DagsterRunStatus.FAILURE
    records = instance.all_logs(run.run_id)
    failure = next(r.dagster_event for r in records if r.dagster_event and r.dagster_event.event_type_value in
                   ("PIPELINE_FAILURE", "RUN_FAILURE"))
    assert all(line.strip() in failure.event_specific_data.error.message for line in EXPECTED)
    started = {r.dagster_event.step_key for r in records if r.dagster_event and
               r.dagster_event.event_type_value == "STEP_START"}
    assert started == {"preflight_checks"}
