"""The up-front settings check (connector/settings.py): every problem at once, each naming the
variable, what is wrong, what to set and the README section; never a secret value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector import settings
from connector.settings import check, format_problems

REPO = Path(__file__).resolve().parents[1]
GOOD = {
    "COVERBASE_API_URL": "https://sandbox.api.coverbase.app", "COVERBASE_API_KEY": "ak_live_0123456789",
    "SERVICENOW_INSTANCE_URL": "https://acme.service-now.com", "SERVICENOW_USERNAME": "integration.user",
    "SERVICENOW_PASSWORD": "s3cret-password", "DAGSTER_HOME": str(REPO / ".dagster"),
}


def variables(problems) -> list[str]:
    return [p.variable for p in problems]


def test_complete_settings_have_no_problem_and_defaults_fill_the_rest(tmp_path):
    s, problems = check({**GOOD, "CONNECTOR_STATE_DB": str(tmp_path / "state.db")})
    assert problems == []
    assert s.coverbase_url == "https://sandbox.api.coverbase.app" and s.servicenow_auth == "basic"
    assert s.max_runtime == 7200 and s.sync_cron == "0 * * * *" and s.partitions_start == "2024-01-01"
    assert s.config is not None and s.config.sync.concurrency == 8


def test_an_empty_environment_lists_every_missing_variable_at_once():
    _, problems = check({})
    assert variables(problems) == ["COVERBASE_API_KEY", "SERVICENOW_INSTANCE_URL",
                                   "SERVICENOW_USERNAME, SERVICENOW_PASSWORD", "DAGSTER_HOME"]
    assert all(p.fix and p.section for p in problems)


def test_a_run_that_reads_no_servicenow_does_not_ask_for_servicenow_settings():
    _, problems = check({"COVERBASE_API_KEY": "ak_x", "DAGSTER_HOME": GOOD["DAGSTER_HOME"]}, needs_servicenow=False)
    assert problems == []


@pytest.mark.parametrize("name, value, expected", [
    ("COVERBASE_API_URL", "http://api.coverbase.app", "plain http:// is refused"),
    ("COVERBASE_API_URL", "https://api.coverbase.app/v1", "ends with /v1"),
    ("COVERBASE_API_URL", "api.coverbase.app", "is not an http(s) URL"),
    ("COVERBASE_API_KEY", "Bearer ak_live_1", "starts with 'Bearer '"),
    ("COVERBASE_API_KEY", "'ak_live_1'", "quotes"),
    ("SERVICENOW_INSTANCE_URL", "http://acme.service-now.com", "plain http:// is refused"),
    ("SERVICENOW_INSTANCE_URL", "https://acme.service-now.com/now/nav/ui/home", "a page of the instance's UI"),
    ("CONNECTOR_MAX_RUNTIME", "two hours", "not a positive number of seconds"),
    ("CONNECTOR_MAX_RUNTIME", "-5", "not a positive number of seconds"),
    ("CONNECTOR_SYNC_CRON", "hourly", "not a cron expression"),
    ("CONNECTOR_SYNC_CRON", "0 24 * * *", "not a cron expression"),
    ("CONNECTOR_SCHEDULE_ENABLED", "true", "neither 1 nor 0"),
    ("CONNECTOR_PARTITIONS_START", "01/01/2024", "not a date like 2024-01-01"),
    ("CONNECTOR_PARTITIONS_START", "2999-01-01", "in the future"),
    ("CONNECTOR_PROGRESS_SECONDS", "often", "not a number of seconds"),
    ("CONNECTOR_HTTP_ENGINE", "curl", "not one of stdlib, httpcore"),
    ("DAGSTER_HOME", ".dagster", "not an absolute path"),
    ("DAGSTER_HOME", "/nonexistent/dagster-home", "not a directory"),
])
def test_a_malformed_value_is_one_problem_naming_its_variable(name, value, expected):
    _, problems = check({**GOOD, name: value})
    assert variables(problems) == [name]
    assert expected in problems[0].what


def test_half_a_credential_pair_is_a_problem_naming_the_missing_half():
    env = {k: v for k, v in GOOD.items() if k != "SERVICENOW_PASSWORD"}
    _, problems = check({**env, "SERVICENOW_CLIENT_SECRET": "oauth-secret"})
    assert variables(problems) == ["SERVICENOW_PASSWORD", "SERVICENOW_CLIENT_ID"]


def test_oauth_alone_is_complete():
    env = {k: v for k, v in GOOD.items() if not k.startswith("SERVICENOW_USERNAME") and k != "SERVICENOW_PASSWORD"}
    s, problems = check({**env, "SERVICENOW_CLIENT_ID": "cid", "SERVICENOW_CLIENT_SECRET": "secret"})
    assert problems == [] and s.servicenow_auth == "oauth"


def test_a_misspelt_variable_is_named_as_the_likely_typo():
    env = {k: v for k, v in GOOD.items() if k != "COVERBASE_API_KEY"}
    _, problems = check({**env, "COVERBASE_APIKEY": "ak_live_1"})
    assert "(COVERBASE_APIKEY is set: a typo?)" in problems[0].what


def test_a_mapping_file_error_names_the_file_the_key_and_the_readme_section(tmp_path):
    bad = tmp_path / "mapping.yaml"
    bad.write_text("sync:\n  concurency: 4\n")
    _, problems = check({**GOOD, "CONNECTOR_CONFIG": str(bad)})
    assert variables(problems) == ["CONNECTOR_CONFIG"]
    assert "sync.concurency: unknown key" in problems[0].what and problems[0].section == "The mapping file"
    _, missing = check({**GOOD, "CONNECTOR_CONFIG": str(tmp_path / "nope.yaml")})
    assert "is not a readable file" in missing[0].what


def test_the_demo_mapping_file_is_valid():
    _, problems = check({**GOOD, "CONNECTOR_CONFIG": str(REPO / "examples" / "demo-config.yaml")})
    assert problems == []


def test_a_state_db_path_that_is_a_directory_is_a_problem(tmp_path):
    _, problems = check({**GOOD, "CONNECTOR_STATE_DB": str(tmp_path)})
    assert variables(problems) == ["CONNECTOR_STATE_DB"] and "is a directory" in problems[0].what


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: permissions cannot be tested as root")
def test_a_state_db_in_a_directory_this_user_cannot_write_is_a_problem(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    _, problems = check({**GOOD, "CONNECTOR_STATE_DB": str(locked / "state.db")})
    assert variables(problems) == ["CONNECTOR_STATE_DB"]


def test_no_problem_message_contains_a_secret_value():
    env = {**GOOD, "COVERBASE_API_KEY": "Bearer ak_top_secret_value", "SERVICENOW_PASSWORD": "pw-top-secret",
           "SERVICENOW_CLIENT_SECRET": "cs-top-secret", "SERVICENOW_INSTANCE_URL": "http://acme.service-now.com"}
    s, problems = check(env)
    text = format_problems(problems) + repr(s)
    assert problems and not any(secret in text for secret in ("ak_top_secret_value", "pw-top-secret", "cs-top-secret"))


def test_the_message_lists_each_problem_on_its_own_line_with_the_readme_section():
    _, problems = check({"DAGSTER_HOME": GOOD["DAGSTER_HOME"]})
    lines = format_problems(problems).splitlines()
    assert lines[0] == "The connector's settings have 3 problems; nothing was run. Fix all of them, then run again:"
    assert all(line.startswith("  - ") and line.endswith("(README: Configuring a real instance)")
               for line in lines[1:4])
    assert lines[4] == "Check every setting and both APIs at once with: .venv/bin/python -m connector doctor"


CRONS = ["0 * * * *", "*/15 * * * *", "0 9 * * 1-5", "0 0 1 * *", "@daily", "@hourly", "@weekly", "@monthly",
         "0 0 L * *", "0 0 * * 5L", "0 0 * * MON-FRI", "0 0 * JAN *", "0 0 15W * *", "0 0 * * 1#2", "60 * * * *",
         "* * *", "hourly", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8", "*/0 * * * *", "0 0 * * 7",
         "1,2,3 * * * *", "a * * * *", "0 0 ? * *", "0-59/5 * * * *", "0 0 * * sun", "5-10,30 */2 * * *"]


@pytest.mark.parametrize("expr", CRONS)
def test_the_cron_check_agrees_with_dagster(expr):
    from dagster._utils.schedules import is_valid_cron_string

    assert settings.valid_cron(expr) == is_valid_cron_string(expr)


def test_a_malformed_cron_or_start_date_never_stops_the_code_location_loading():
    assert settings.sync_cron({"CONNECTOR_SYNC_CRON": "every hour"}) == "0 * * * *"
    assert settings.partitions_start({"CONNECTOR_PARTITIONS_START": "yesterday"}) == "2024-01-01"
    assert settings.sync_cron({"CONNECTOR_SYNC_CRON": "*/5 * * * *"}) == "*/5 * * * *"


def test_start_of_run_failures_are_labelled_by_what_they_are():
    from connector.coverbase.errors import CoverbaseAuthError, CoverbaseTransportError
    from connector.errors import ConfigError
    from connector.explain import coverbase_failure, servicenow_failure
    from connector.servicenow.errors import ServiceNowPermissionDenied

    config = coverbase_failure(ConfigError("COVERBASE_API_URL: plain http:// is refused for non-loopback host 'x'"))
    assert config.startswith("Coverbase settings: ") and "connectivity" not in config
    refused = coverbase_failure(CoverbaseAuthError("Invalid or expired API key.", status=401, method="GET",
                                                   path="/v1/utils/authtest"))
    assert refused.startswith("Coverbase refused the API key: ") and "COVERBASE_API_KEY" in refused
    down = coverbase_failure(CoverbaseTransportError("ConnectError", sent=False, method="GET",
                                                     path="/v1/utils/authtest"),
                             "https://api.coverbase.app")
    assert down.startswith("Coverbase is unreachable at https://api.coverbase.app: ")
    acl = servicenow_failure(ServiceNowPermissionDenied("User Not Authorized", status=403, method="GET",
                                                        path="/api/now/table/core_company"))
    assert acl.startswith("ServiceNow refused a read: ") and "grant it read access" in acl


def test_the_optional_write_back_settings_are_checked_when_set():
    from connector.settings import check

    env = {"COVERBASE_API_KEY": "ak_x", "SERVICENOW_INSTANCE_URL": "https://acme.service-now.com",
           "SERVICENOW_USERNAME": "u", "SERVICENOW_PASSWORD": "p", "SERVICENOW_WRITE_USERNAME": "writer",
           "COVERBASE_WEBHOOK_SECRET": "short-secret", "CONNECTOR_OUTCOMES_SENSOR_INTERVAL": "soon",
           "DAGSTER_HOME": "/tmp"}
    _, problems = check(env)
    by_var = {p.variable: p for p in problems}
    assert {"SERVICENOW_WRITE_PASSWORD", "COVERBASE_WEBHOOK_SECRET",
            "CONNECTOR_OUTCOMES_SENSOR_INTERVAL"} <= set(by_var)
    assert "short-secret" not in " ".join(p.line() for p in problems)
    assert all(by_var[v].section == "Write-back: assessment outcomes into ServiceNow"
               for v in ("SERVICENOW_WRITE_PASSWORD", "COVERBASE_WEBHOOK_SECRET"))
