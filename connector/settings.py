"""Every setting of the connector, checked up front and all at once.

A run, the doctor and the demo all start here: ``check(env)`` reads the environment (and the
mapping file it names) and returns the effective settings plus *every* problem it found, each
naming the variable, what is wrong, what to set and the README section that explains it. A run
with bad settings stops before any step does work, with one message listing all of them, rather
than failing on the first missing variable with a framework traceback.

Only what can be judged without the network is checked here (presence, syntax, files and
permissions on this machine); the doctor adds the checks that need the two APIs.

No Dagster import: the rules are the connector's; ``assets/settings_gate.py`` wires them into
the runs. Values of secret variables are never part of a message.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from connector.config import ConnectorConfig, load_config
from connector.errors import ConfigError
from connector.http.safety import require_safe_base_url
from connector.http.transport import ENGINES, http_engine
from connector.progress import default_every

DEFAULT_COVERBASE_URL = "https://api.coverbase.app"
DEFAULT_STATE_DB = ".connector/state.db"
DEFAULT_CRON = "0 * * * *"
DEFAULT_PARTITIONS_START = "2024-01-01"
DEFAULT_MAX_RUNTIME = 7200

# README sections a problem points at (titles as they appear in README.md).
CONFIGURING = "Configuring a real instance"
MAPPING = "The mapping file"
NEVER_HANGS = "Operations: Never hangs"
TROUBLESHOOTING = "Troubleshooting"

SECRETS = frozenset({"COVERBASE_API_KEY", "SERVICENOW_PASSWORD", "SERVICENOW_CLIENT_SECRET",
                     "SERVICENOW_WRITE_PASSWORD",
                     "COVERBASE_WEBHOOK_SECRET", "COVERBASE_WEBHOOK_PREVIOUS_SECRET"})
KNOWN = (
    "COVERBASE_API_URL", "COVERBASE_API_KEY", "SERVICENOW_INSTANCE_URL", "SERVICENOW_USERNAME", "SERVICENOW_PASSWORD",
    "SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET", "CONNECTOR_STATE_DB", "CONNECTOR_CONFIG",
    "CONNECTOR_SYNC_CRON", "CONNECTOR_SCHEDULE_ENABLED", "CONNECTOR_PARTITIONS_START", "CONNECTOR_MAX_RUNTIME",
    "CONNECTOR_PROGRESS_SECONDS", "DAGSTER_HOME", "SERVICENOW_WRITE_USERNAME", "SERVICENOW_WRITE_PASSWORD",
    "COVERBASE_WEBHOOK_SECRET", "COVERBASE_WEBHOOK_PREVIOUS_SECRET", "CONNECTOR_OUTCOMES_SENSOR_ENABLED",
    "CONNECTOR_OUTCOMES_SENSOR_INTERVAL", "CONNECTOR_HTTP_ENGINE",
)
WRITE_BACK = "Write-back: assessment outcomes into ServiceNow"
WEBHOOK_SECRET_MIN = 16  # Coverbase refuses shorter secrets (400 weak_secret)
_PREFIXES = ("COVERBASE_", "SERVICENOW_", "CONNECTOR_", "DAGSTER_")


@dataclass(frozen=True)
class Problem:
    variable: str  # the environment variable (or variables) to change
    what: str  # what is wrong, without any secret value
    fix: str  # what to set
    section: str = CONFIGURING  # the README section that explains the setting

    def line(self) -> str:
        return f"{self.variable}: {self.what}. {self.fix} (README: {self.section})"


@dataclass
class Settings:
    """The effective settings (defaults applied). Secret fields are left out of ``repr``."""

    coverbase_url: str = DEFAULT_COVERBASE_URL
    coverbase_key: str = field(default="", repr=False)
    servicenow_url: str = ""
    servicenow_username: str = ""
    servicenow_password: str = field(default="", repr=False)
    servicenow_client_id: str = ""
    servicenow_client_secret: str = field(default="", repr=False)
    state_db: str = DEFAULT_STATE_DB
    config_path: str = ""
    config: ConnectorConfig | None = None
    max_runtime: int = DEFAULT_MAX_RUNTIME
    sync_cron: str = DEFAULT_CRON
    schedule_enabled: bool = False
    partitions_start: str = DEFAULT_PARTITIONS_START
    progress_seconds: float = 10.0
    dagster_home: str = ""

    @property
    def servicenow_auth(self) -> str:
        """'oauth', 'basic' or '' (none configured)."""
        if self.servicenow_client_id or self.servicenow_client_secret:
            return "oauth"
        return "basic" if self.servicenow_username or self.servicenow_password else ""


def check(env: Mapping[str, str] | None = None, *, needs_servicenow: bool = True,
          cwd: str | os.PathLike | None = None) -> tuple[Settings, list[Problem]]:
    """Validate every setting in ``env`` (default: ``os.environ``). Returns the effective settings
    and all problems found; an empty list means the settings are complete and well-formed."""
    env = dict(os.environ if env is None else env)
    base = Path(cwd or os.getcwd())

    def get(name: str) -> str:
        return (env.get(name) or "").strip()

    s = Settings()
    problems: list[Problem] = []
    _coverbase(get, env, s, problems)
    if needs_servicenow:
        _servicenow(get, env, s, problems)
    _state_db(get("CONNECTOR_STATE_DB") or DEFAULT_STATE_DB, base, s, problems)
    _mapping(get("CONNECTOR_CONFIG"), base, s, problems)
    _scheduling(get, s, problems)
    _write_back(get, env, problems)
    _dagster_home(get("DAGSTER_HOME"), s, problems)
    return s, problems


def format_problems(problems: list[Problem], *, doctor_hint: bool = True) -> str:
    """The one message a run (or the CLI) shows: every problem on its own line."""
    n = len(problems)
    head = (f"The connector's settings have {n} problem{'s' if n != 1 else ''}; nothing was run. "
            "Fix all of them, then run again:")
    lines = [head, *(f"  - {p.line()}" for p in problems)]
    if doctor_hint:
        lines.append("Check every setting and both APIs at once with: .venv/bin/python -m connector doctor")
    return "\n".join(lines)


# --- the rules ----------------------------------------------------------------------------------


def _typo_hint(name: str, env: Mapping[str, str]) -> str:
    """' (COVERBASE_APIKEY is set: a typo?)' when a similar, unknown variable is set."""
    candidates = [k for k in env if k.startswith(_PREFIXES) and k not in KNOWN and env.get(k)]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return f" ({close[0]} is set: a typo?)" if close else ""


def _url_problem(value: str, name: str) -> str | None:
    try:
        require_safe_base_url(value, name)
    except ConfigError as exc:
        return str(exc).removeprefix(f"{name}: ")
    return None


def _coverbase(get, env, s: Settings, problems: list[Problem]) -> None:
    url = get("COVERBASE_API_URL")
    if url:
        bad = _url_problem(url, "COVERBASE_API_URL")
        path = urlsplit(url).path.rstrip("/")
        if bad:
            problems.append(Problem("COVERBASE_API_URL", bad, "Set it to https://api.coverbase.app (or "
                                    "https://sandbox.api.coverbase.app for the sandbox), or unset it for the default"))
        elif path.endswith("/v1"):
            problems.append(Problem("COVERBASE_API_URL", f"{url!r} ends with /v1, which the connector adds itself",
                                    "Set the base URL without /v1, e.g. https://api.coverbase.app"))
        else:
            s.coverbase_url = url.rstrip("/")
    key = env.get("COVERBASE_API_KEY") or ""
    if not key.strip():
        problems.append(Problem("COVERBASE_API_KEY", "not set" + _typo_hint("COVERBASE_API_KEY", env),
                                "Set it to the API key of a Coverbase service account of your org (ak_…, no scopes "
                                "needed)"))
    else:
        key = key.strip()
        if key.lower().startswith("bearer "):
            problems.append(Problem("COVERBASE_API_KEY", "starts with 'Bearer '",
                                    "Set the key alone; the connector adds the Authorization header"))
        elif re.search(r"\s", key) or key[0] in "'\"" or key[-1] in "'\"":
            problems.append(Problem("COVERBASE_API_KEY", "contains spaces or quotes (a copy-and-paste slip?)",
                                    "Set the key exactly as Coverbase showed it, without quotes"))
        else:
            s.coverbase_key = key


def _servicenow(get, env, s: Settings, problems: list[Problem]) -> None:
    url = get("SERVICENOW_INSTANCE_URL")
    if not url:
        problems.append(Problem("SERVICENOW_INSTANCE_URL", "not set" + _typo_hint("SERVICENOW_INSTANCE_URL", env),
                                "Set it to https://<instance>.service-now.com"))
    else:
        bad = _url_problem(url, "SERVICENOW_INSTANCE_URL")
        path = urlsplit(url).path
        if bad:
            problems.append(Problem("SERVICENOW_INSTANCE_URL", bad, "Set it to https://<instance>.service-now.com"))
        elif "/now/" in path or ".do" in path or "nav_to" in path:
            problems.append(Problem("SERVICENOW_INSTANCE_URL", f"{url!r} is a page of the instance's UI",
                                    "Set only the scheme and host, e.g. https://<instance>.service-now.com"))
        else:
            s.servicenow_url = url.rstrip("/")
    user, password = get("SERVICENOW_USERNAME"), env.get("SERVICENOW_PASSWORD") or ""
    cid, secret = get("SERVICENOW_CLIENT_ID"), env.get("SERVICENOW_CLIENT_SECRET") or ""
    how = ("Set SERVICENOW_USERNAME and SERVICENOW_PASSWORD (Basic auth), or SERVICENOW_CLIENT_ID and "
           "SERVICENOW_CLIENT_SECRET (OAuth)")
    if not (user or password or cid or secret):
        hint = _typo_hint("SERVICENOW_USERNAME", env) or _typo_hint("SERVICENOW_PASSWORD", env)
        problems.append(Problem("SERVICENOW_USERNAME, SERVICENOW_PASSWORD", "no ServiceNow credentials are set" + hint,
                                how))
    if bool(user) != bool(password):
        missing = "SERVICENOW_PASSWORD" if user else "SERVICENOW_USERNAME"
        problems.append(Problem(missing, f"not set, but {'SERVICENOW_USERNAME' if user else 'SERVICENOW_PASSWORD'} "
                                "is", f"Set {missing} too (both or neither)"))
    if bool(cid) != bool(secret):
        missing = "SERVICENOW_CLIENT_SECRET" if cid else "SERVICENOW_CLIENT_ID"
        problems.append(Problem(missing, f"not set, but {'SERVICENOW_CLIENT_ID' if cid else 'SERVICENOW_CLIENT_SECRET'}"
                                " is", f"Set {missing} too: OAuth needs the client id and its secret"))
    s.servicenow_username, s.servicenow_password = user, password
    s.servicenow_client_id, s.servicenow_client_secret = cid, secret


def _write_back(get, env, problems: list[Problem]) -> None:
    """The optional write-back settings: checked when set, never required."""
    user, password = get("SERVICENOW_WRITE_USERNAME"), env.get("SERVICENOW_WRITE_PASSWORD") or ""
    if bool(user) != bool(password):
        missing = "SERVICENOW_WRITE_PASSWORD" if user else "SERVICENOW_WRITE_USERNAME"
        problems.append(Problem(missing, "not set, but its pair is", f"Set {missing} too (both or neither; without "
                                "them the write-back uses the read credentials)", WRITE_BACK))
    for name in ("COVERBASE_WEBHOOK_SECRET", "COVERBASE_WEBHOOK_PREVIOUS_SECRET"):
        secret = env.get(name) or ""
        if secret and len(secret) < WEBHOOK_SECRET_MIN:
            problems.append(Problem(name, f"shorter than {WEBHOOK_SECRET_MIN} characters (Coverbase refuses it)",
                                    "Set a random secret, e.g. .venv/bin/python -c 'import secrets; "
                                    "print(secrets.token_hex(32))'", WRITE_BACK))
    interval = get("CONNECTOR_OUTCOMES_SENSOR_INTERVAL")
    if interval and not (interval.isdigit() and int(interval) > 0):
        problems.append(Problem("CONNECTOR_OUTCOMES_SENSOR_INTERVAL", f"{interval!r} is not a whole number of "
                                "seconds above 0", "Set it to e.g. 30, or unset it", WRITE_BACK))


def outcomes_sensor_interval(env: Mapping[str, str] | None = None) -> int:
    """The sensor's interval; a malformed value falls back to 30 s (the run check names it)."""
    raw = ((os.environ if env is None else env).get("CONNECTOR_OUTCOMES_SENSOR_INTERVAL") or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else 30


def _nearest_existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _state_db(raw: str, base: Path, s: Settings, problems: list[Problem]) -> None:
    s.state_db = raw
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else base / path

    def bad(what: str, fix: str) -> None:
        problems.append(Problem("CONNECTOR_STATE_DB", what, fix))

    if path.is_dir():
        return bad(f"{str(path)!r} is a directory", "Set it to a file path, e.g. .connector/state.db")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        return bad(f"{str(parent)!r} is not a directory", "Set it to a path in a directory you can write")
    anchor = _nearest_existing(parent)
    if not os.access(anchor, os.W_OK | os.X_OK):
        what = "cannot be created" if anchor != parent else "is in a directory this user cannot write"
        return bad(f"{str(path)!r} {what} (the ledger, its journal and the writer lock live there)",
                   f"Make {str(anchor)!r} writable for this user, or set CONNECTOR_STATE_DB elsewhere")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return bad(f"{str(path)!r} is not readable and writable by this user",
                   f"Fix its permissions (chmod 600 {path}) or set CONNECTOR_STATE_DB elsewhere")


def _mapping(raw: str, base: Path, s: Settings, problems: list[Problem]) -> None:
    s.config_path = raw
    if not raw:
        s.config = ConnectorConfig()
        return
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else base / path
    try:
        s.config = load_config(path)
    except ConfigError as exc:
        text = str(exc)
        if not path.is_file():
            problems.append(Problem("CONNECTOR_CONFIG", f"{str(path)!r} is not a readable file",
                                    "Set it to your mapping file (examples/demo-config.yaml is one), or unset it "
                                    "for every default", MAPPING))
        else:
            problems.append(Problem("CONNECTOR_CONFIG", text.replace("\n", "\n      "),
                                    "Fix the file (every key is described in the README)", MAPPING))


def valid_cron(expr: str) -> bool:
    """A structural check of a 5-field cron expression (what Dagster schedules accept), or one of
    the @hourly/@daily/@weekly/@monthly/@yearly shortcuts."""
    expr = expr.strip()
    if expr in ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"):
        return True
    parts = expr.split()
    if len(parts) != 5:
        return False
    limits = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    names = [set(), set(), set(), {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
             {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}]
    for part, (lo, hi), words in zip(parts, limits, names):
        for item in part.lower().split(","):
            rng, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return False
            if rng in ("*", "?"):
                continue
            for bound in rng.split("-", 1):
                m = re.fullmatch(r"(\d+)(?:#[1-5])?", bound)
                if bound in words or (m and lo <= int(m.group(1)) <= hi) or bound == "l":
                    continue
                return False
    return True


def _scheduling(get, s: Settings, problems: list[Problem]) -> None:
    raw = get("CONNECTOR_MAX_RUNTIME")
    if raw:
        try:
            value = int(float(raw))
        except ValueError:
            value = 0
        if value <= 0:
            problems.append(Problem("CONNECTOR_MAX_RUNTIME", f"{raw!r} is not a positive number of seconds",
                                    "Set it to the longest a run may take, in seconds (default 7200), or unset it",
                                    NEVER_HANGS))
        else:
            s.max_runtime = value
    cron = get("CONNECTOR_SYNC_CRON")
    if cron:
        if valid_cron(cron):
            s.sync_cron = cron
        else:
            problems.append(Problem("CONNECTOR_SYNC_CRON", f"{cron!r} is not a cron expression of 5 fields",
                                    "Set it like '0 * * * *' (hourly) or '*/15 * * * *', or unset it for hourly"))
    enabled = get("CONNECTOR_SCHEDULE_ENABLED")
    if enabled and enabled not in ("0", "1"):
        problems.append(Problem("CONNECTOR_SCHEDULE_ENABLED", f"{enabled!r} is neither 1 nor 0 (the schedule "
                                "would stay stopped)", "Set it to 1 to start the schedule, or unset it"))
    s.schedule_enabled = enabled == "1"
    start = get("CONNECTOR_PARTITIONS_START")
    if start:
        try:
            day = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            problems.append(Problem("CONNECTOR_PARTITIONS_START", f"{start!r} is not a date like 2024-01-01",
                                    "Set it to the first day backfills may start from (YYYY-MM-DD), or unset it"))
        else:
            if day > datetime.now(UTC):
                problems.append(Problem("CONNECTOR_PARTITIONS_START", f"{start} is in the future (no day to backfill)",
                                        "Set it to a past date (YYYY-MM-DD), or unset it"))
            else:
                s.partitions_start = start
    try:
        http_engine({"CONNECTOR_HTTP_ENGINE": get("CONNECTOR_HTTP_ENGINE") or ""})
    except ValueError:
        problems.append(Problem("CONNECTOR_HTTP_ENGINE", f"{get('CONNECTOR_HTTP_ENGINE')!r} is not one of "
                                f"{', '.join(ENGINES)}", "Unset it (stdlib, the default), or set httpcore"))
    progress = get("CONNECTOR_PROGRESS_SECONDS")
    if progress:
        try:
            s.progress_seconds = float(progress)
            if s.progress_seconds < 0:
                raise ValueError
        except ValueError:
            problems.append(Problem("CONNECTOR_PROGRESS_SECONDS", f"{progress!r} is not a number of seconds",
                                    "Set how often long steps log their progress (default 10), or unset it"))


def _dagster_home(raw: str, s: Settings, problems: list[Problem]) -> None:
    s.dagster_home = raw
    fix = "Set DAGSTER_HOME=$PWD/.dagster (the repository's instance: run queue, writer pool, run monitoring)"
    if not raw:
        problems.append(Problem("DAGSTER_HOME", "not set (runs would not be recorded, and neither the writer "
                                "pool nor run monitoring would apply)", fix))
    elif not os.path.isabs(raw):
        problems.append(Problem("DAGSTER_HOME", f"{raw!r} is not an absolute path", fix))
    elif not os.path.isdir(raw):
        problems.append(Problem("DAGSTER_HOME", f"{raw!r} is not a directory", fix + " and create it (mkdir -p)"))


# --- lenient readers for module-load time (a bad value must not stop the code location loading) --


def sync_cron(env: Mapping[str, str] | None = None) -> str:
    raw = ((os.environ if env is None else env).get("CONNECTOR_SYNC_CRON") or "").strip()
    return raw if raw and valid_cron(raw) else DEFAULT_CRON


def partitions_start(env: Mapping[str, str] | None = None) -> str:
    raw = ((os.environ if env is None else env).get("CONNECTOR_PARTITIONS_START") or "").strip()
    try:
        if raw and datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC) <= datetime.now(UTC):
            return raw
    except ValueError:
        pass
    return DEFAULT_PARTITIONS_START


progress_seconds = default_every
