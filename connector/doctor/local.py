"""The doctor's checks of this machine: every setting, the state DB, the Dagster instance.

The Dagster instance is judged from its ``dagster.yaml`` (read as YAML: the connector library
imports no Dagster): run monitoring on, and the writer pool (one run at a time).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Mapping
from pathlib import Path

import yaml

from connector.doctor.report import Row, fail, ok, skip, warn
from connector.settings import KNOWN, SECRETS, Problem, Settings
from connector.sync.writer_lock import lock_path

DEFAULTS = {
    "COVERBASE_API_URL": "https://api.coverbase.app", "CONNECTOR_STATE_DB": ".connector/state.db",
    "CONNECTOR_CONFIG": "none: every default", "CONNECTOR_SYNC_CRON": "0 * * * * (hourly)",
    "CONNECTOR_SCHEDULE_ENABLED": "stopped until switched on", "CONNECTOR_PARTITIONS_START": "2024-01-01",
    "CONNECTOR_MAX_RUNTIME": "7200 s", "CONNECTOR_PROGRESS_SECONDS": "10 s",
}
OPTIONAL_UNSET = ("SERVICENOW_USERNAME", "SERVICENOW_PASSWORD", "SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET")


def setting_rows(env: Mapping[str, str], s: Settings, problems: list[Problem], *, needs_servicenow: bool) -> list[Row]:
    """One row per variable: its problem(s), or what it is set to (never a secret's value)."""
    rows: list[Row] = []
    for name in KNOWN:
        if name.startswith("SERVICENOW_") and not needs_servicenow:
            continue
        mine = [p for p in problems if name in p.variable.split(", ")]
        if mine:  # a problem about a pair of variables is shown once, on its first one
            rows.extend(fail(p.variable, p.what, f"{p.fix} (README: {p.section})") for p in mine
                        if p.variable.split(", ")[0] == name)
            continue
        raw = (env.get(name) or "").strip()
        if not raw:
            if name in DEFAULTS:
                rows.append(ok(name, f"not set: {DEFAULTS[name]}"))
            elif name in OPTIONAL_UNSET:
                rows.append(skip(name, "not set"))
            continue
        shown = "set (not shown)" if name in SECRETS or name == "SERVICENOW_CLIENT_ID" else raw
        rows.append(ok(name, shown))
    if needs_servicenow and s.servicenow_auth:
        how = {"basic": "Basic auth (SERVICENOW_USERNAME / SERVICENOW_PASSWORD)",
               "oauth": "OAuth at /oauth_token.do: " + ("password grant with refresh tokens" if s.servicenow_username
                                                         else "client credentials grant")}[s.servicenow_auth]
        rows.append(ok("ServiceNow authentication", how))
    return rows


def _resolve(path: str, cwd: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else cwd / p


def state_db_rows(s: Settings, cwd: Path) -> list[Row]:
    path = _resolve(s.state_db, cwd)
    rows: list[Row] = []
    if not path.exists():
        rows.append(ok("state DB", f"{path} does not exist yet; the first run creates it (mode 0600 in a 0700 "
                                   "directory)"))
        return rows
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        rows.append(warn("state DB permissions", f"{path} has mode {mode:04o}: other users may read it, and it holds "
                         "names and emails", f"chmod 600 {path}"))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
                if "meta" in tables else None
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM ledger GROUP BY status").fetchall()) \
                if "ledger" in tables else {}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        rows.append(fail("state DB", f"{path} cannot be read as the ledger: {exc}",
                         "Move the file away: the next run rebuilds the ledger from ServiceNow and Coverbase without "
                         "creating duplicates (README: Operations, the ledger)"))
        return rows
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    rows.append(ok("state DB", f"{path}: schema version {version[0] if version else '?'}, {total:,} ledger rows"
                   + (f" ({detail})" if detail else "")))
    holder = _lock_holder(lock_path(path))
    if holder:
        rows.append(warn("writer lock", f"a run is writing to Coverbase with this ledger now ({holder})",
                         "Nothing to fix: a second writing run waits in the queue (UI) or stops before writing "
                         "(dagster job execute) until it finishes"))
    return rows


def _lock_holder(path: Path) -> str | None:
    """Who holds the writer lock, read without taking it (Linux /proc/locks lists flock locks by inode)."""
    try:
        inode = path.stat().st_ino
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    for line in locks.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            try:
                return path.read_text().strip() or f"pid {parts[4]}"
            except OSError:
                return f"pid {parts[4]}"
    return None


def dagster_rows(s: Settings) -> list[Row]:
    home = s.dagster_home
    if not home or not os.path.isabs(home) or not os.path.isdir(home):
        return [skip("Dagster instance", "not checked: DAGSTER_HOME is not usable (see its row)")]
    path = Path(home) / "dagster.yaml"
    if not path.is_file():
        return [fail("Dagster instance", f"{path} does not exist: no run monitoring, no writer pool",
                     "Use the repository's instance (DAGSTER_HOME=$PWD/.dagster), or copy its dagster.yaml there")]
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return [fail("Dagster instance", f"{path} is not valid YAML: {exc}", "Fix the file (compare with "
                     "the repository's .dagster/dagster.yaml)")]
    rows = [ok("Dagster instance", f"DAGSTER_HOME={home} ({path.name} found)")]
    monitoring = (cfg.get("run_monitoring") or {})
    if monitoring.get("enabled") is True:
        rows.append(ok("run monitoring", "on: a run past CONNECTOR_MAX_RUNTIME is terminated by the daemon"))
    else:
        rows.append(fail("run monitoring", "off: a stuck run could hold the writer pool and queue every later run",
                         f"Set run_monitoring: {{enabled: true}} in {path} "
                         "(see the repository's .dagster/dagster.yaml)"))
    pools = ((cfg.get("concurrency") or {}).get("pools") or {})
    if pools.get("default_limit") == 1 and pools.get("granularity") == "run":
        rows.append(ok("writer pool", "coverbase_writer: one writing run at a time (pool limit 1, run granularity)"))
    else:
        rows.append(fail("writer pool", f"concurrency.pools is {pools or 'not set'}: two runs could write to Coverbase "
                         "at once (the ledger lock then stops the second)",
                         f"Set concurrency: {{pools: {{granularity: run, default_limit: 1}}}} in {path}"))
    return rows
