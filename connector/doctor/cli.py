"""The ``doctor`` subcommand: run every check, print the table (or JSON), exit 0 only if all pass."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from connector import cli_progress, settings
from connector.doctor import apis, local
from connector.doctor.report import Row, render_json, render_table, skip

HELP = "check every setting, both APIs, the ServiceNow roles, the state DB and the Dagster instance"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("doctor", help=HELP, description=HELP + ". Exit code 0 only when every check passes.")
    p.add_argument("--json", action="store_true", help="print the checks as JSON instead of a table")
    p.set_defaults(func=lambda a: run(os.environ, as_json=a.json))


def checks(env: Mapping[str, str], *, cwd: Path | None = None) -> list[tuple[str, Callable[[], list[Row]]]]:
    """The checks in the order they run: (what is being checked, a function returning its rows)."""
    cwd = cwd or Path.cwd()
    s, problems = settings.check(env, needs_servicenow=True, cwd=cwd)
    needs_sn = s.config is None or s.config.source.kind != "files"
    if not needs_sn:
        s, problems = settings.check(env, needs_servicenow=False, cwd=cwd)
    bad = {v for p in problems for v in p.variable.split(", ")}
    coverbase_ready = not bad & {"COVERBASE_API_URL", "COVERBASE_API_KEY"}
    sn_ready = not bad & {"SERVICENOW_INSTANCE_URL", "SERVICENOW_USERNAME", "SERVICENOW_PASSWORD",
                          "SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"}
    steps: list[tuple[str, Callable[[], list[Row]]]] = [
        ("settings", lambda: local.setting_rows(env, s, problems, needs_servicenow=needs_sn)),
        ("Coverbase", (lambda: apis.coverbase_rows(s)) if coverbase_ready else
         (lambda: [skip("Coverbase API", "not checked: fix the COVERBASE_* settings above first")])),
    ]
    if needs_sn:
        steps.append(("ServiceNow", (lambda: apis.servicenow_rows(s)) if sn_ready else
                      (lambda: [skip("ServiceNow", "not checked: fix the SERVICENOW_* settings above first")])))
    steps += [("state DB", lambda: local.state_db_rows(s, cwd)), ("Dagster instance", lambda: local.dagster_rows(s))]
    return steps


def collect(env: Mapping[str, str], *, cwd: Path | None = None, err: IO[str] | None = None) -> list[Row]:
    steps = checks(env, cwd=cwd)
    rows: list[Row] = []
    with cli_progress.bar("checking", len(steps), stream=err) as bar:
        for name, step in steps:
            bar.describe(f"checking {name}")
            rows += step()
            bar.step()
    return rows


def run(env: Mapping[str, str], *, as_json: bool = False, out: IO[str] | None = None, err: IO[str] | None = None,
        cwd: Path | None = None, width: int | None = None) -> int:
    out = out or sys.stdout
    rows = collect(env, cwd=cwd, err=err)
    if as_json:
        render_json(rows, out)
    else:
        render_table(rows, out, width=width or (None if out.isatty() else 160))
    return 1 if any(r.failed for r in rows) else 0
