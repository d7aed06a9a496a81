"""``bash scripts/demo.sh --ui``: the demo, live in the Dagster UI, until Ctrl-C.

Starts both emulators with the demo data and ``dagster dev`` with the environment set (so the UI
can run everything: sync_all, backfills, migrate), prints the URL and what to click, and on
Ctrl-C (or SIGTERM) stops ``dagster dev`` by its process group and then the emulators.

``dagster dev`` runs in its own session: a Ctrl-C in the terminal reaches this process only, which
then stops the UI in order (SIGINT, then SIGKILL after 30 s) and never leaves a daemon or a code
server behind. Every wait here is bounded.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from connector import demo_setup as demo

READY_TIMEOUT = 240.0  # dagster dev: webserver up and the code location loaded
STOP_TIMEOUT = 30.0

GUIDE = """\
Dagster UI: {url}

The emulators hold the small demo dataset, and the environment is set for the UI's runs. Try:
  1. Materialize sync_all: Jobs > sync_all > Materialize all. Follow it under Runs > the newest run
     (progress lines appear in its log); the asset graph is under Lineage.
  2. Launch a 3-day backfill: Lineage > Materialize all > pick the range 2026-10-03 to 2026-10-05
     (days holding demo records) > Launch backfill. The whole range runs as one run.
  3. Run migrate as a dry run: Jobs > migrate > Launchpad > Launch Run (dry_run is true unless
     changed: it plans and writes nothing; the plan is in the run's asset observations).
  4. See a rejected record and its reason: Assets > coverbase_users > the latest materialization >
     rejected_records (e.g. a person whose email another Coverbase org owns: 409 user_exists).
Coverbase emulator {cb_url}   ServiceNow emulator {sn_url}   ledger {state}
Ctrl-C stops the UI and both emulators."""


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise SystemExit("no free port for the UI")


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables or {}})
                                 .encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback UI
        return json.loads(resp.read())


LOCATIONS = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } jobs { name } } } } }"


def wait_ready(url: str, dev: subprocess.Popen, timeout: float = READY_TIMEOUT) -> dict:
    """Until the UI answers and the code location is loaded with its jobs (bounded); returns the
    repository node (name, location, jobs)."""
    give_up = time.monotonic() + timeout
    while True:
        if dev.poll() is not None:
            raise SystemExit(f"dagster dev exited with {dev.returncode} before the UI came up")
        try:
            nodes = _graphql(url, LOCATIONS)["data"]["repositoriesOrError"].get("nodes") or []
            repo = next((n for n in nodes if any(j["name"] == "sync_all" for j in n["jobs"])), None)
            if repo is not None:
                return repo
        except (OSError, KeyError, TypeError, ValueError, urllib.error.URLError):
            pass  # still starting
        if time.monotonic() > give_up:
            raise SystemExit(f"the Dagster UI did not come up within {timeout:.0f} s")
        time.sleep(1)


def serve(a: argparse.Namespace) -> int:
    state = a.work / "demo-ui.db"
    demo.fresh_ledger(state)
    dev_log = a.work / "demo-ui-dagster.log"
    port = free_port(a.port)
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs, cb_url, sn_url = demo.start_emulators(a.dataset, a.work, prefix="demo-ui",
                                                 cb_latency_ms=a.coverbase_latency_ms,
                                                 sn_latency_ms=a.servicenow_latency_ms)
    dev: subprocess.Popen | None = None
    try:
        env = demo.demo_env(cb_url, sn_url, state, a.dagster_home)
        print(f"starting dagster dev on {url} (log: {dev_log}) …", flush=True)
        with open(dev_log, "wb") as out:
            # Its own session: the terminal's Ctrl-C reaches this process, which stops it by PID.
            dev = subprocess.Popen([demo.DAGSTER, "dev", "-h", "127.0.0.1", "-p", str(port)], cwd=demo.REPO, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        wait_ready(url, dev)
        print(GUIDE.format(url=url, cb_url=cb_url, sn_url=sn_url, state=state), flush=True)
        while not stop.is_set():
            if dev.poll() is not None:
                print(f"dagster dev exited with {dev.returncode}; see {dev_log}", flush=True)
                return dev.returncode or 1
            stop.wait(1.0)
        print("\nstopping the Dagster UI and the emulators …", flush=True)
        return 0
    finally:
        if dev is not None:
            demo.stop_process(dev, signal.SIGINT, wait=STOP_TIMEOUT)
        for proc in procs:
            demo.stop_process(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("stopped.", flush=True)


def repo_selector(repo: dict, job: str) -> dict:
    return {"repositoryLocationName": repo["location"]["name"], "repositoryName": repo["name"], "jobName": job}


LAUNCH = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""
STATUS = "query Status($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def launch(url: str, repo: dict, job: str, run_config: dict | None = None) -> str:
    """Launch ``job`` through the UI's GraphQL API; returns the run id."""
    answer = _graphql(url, LAUNCH, {"params": {"selector": repo_selector(repo, job),
                                               "runConfigData": run_config or {}}})
    result = answer["data"]["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launching {job} failed: {result}")
    return result["run"]["runId"]


def wait_for_run(url: str, run_id: str, timeout: float) -> str:
    """The run's final status (SUCCESS, FAILURE, CANCELED), polled until ``timeout``."""
    give_up = time.monotonic() + timeout
    while True:
        status = _graphql(url, STATUS, {"id": run_id})["data"]["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        if time.monotonic() > give_up:
            raise TimeoutError(f"run {run_id} still {status} after {timeout:.0f} s")
        time.sleep(1)


__all__ = ["launch", "serve", "wait_for_run", "wait_ready"]
