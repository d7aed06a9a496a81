"""`bash scripts/demo.sh --ui`: the emulators and `dagster dev` with the environment set; sync_all
materialized through the UI's GraphQL API succeeds; Ctrl-C stops everything."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from connector import demo_ui
from tests.test_dagster_dev import REPO, free_port


def _lines(proc: subprocess.Popen) -> queue.Queue:
    q: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            q.put(line.rstrip("\n"))
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return q


def _wait_for(q: queue.Queue, pattern: str, timeout: float, seen: list[str]) -> re.Match:
    give_up = time.monotonic() + timeout
    while True:
        line = q.get(timeout=max(0.1, give_up - time.monotonic()))
        assert line is not None, "the demo exited early:\n" + "\n".join(seen[-40:])
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return m


def _closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, int(port))) != 0


@pytest.mark.timeout(600)
def test_the_ui_demo_serves_a_live_sync_and_ctrl_c_stops_everything(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERBASE_", "SERVICENOW_", "CONNECTOR_"))}
    proc = subprocess.Popen(["bash", "scripts/demo.sh", "--ui", "--port", str(free_port()), "--dagster-home", str(home),
                             "--work", str(tmp_path / "work")], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen: list[str] = []
    try:
        q = _lines(proc)
        url = _wait_for(q, r"^Dagster UI: (http://127\.0\.0\.1:\d+)$", 420, seen).group(1)
        emulators = _wait_for(q, r"^Coverbase emulator (\S+)\s+ServiceNow emulator (\S+)", 10, seen)
        _wait_for(q, r"^Ctrl-C stops the UI and both emulators\.$", 10, seen)
        text = "\n".join(seen)
        for what in ("Materialize sync_all", "3-day backfill", "migrate as a dry run",
                     "rejected record and its reason"):
            assert what in text
        repo = demo_ui.wait_ready(url, proc)
        run_id = demo_ui.launch(url, repo, "sync_all")
        assert demo_ui.wait_for_run(url, run_id, timeout=360) == "SUCCESS"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        proc.wait(timeout=90)
        assert proc.returncode == 0
        assert _closed(url) and _closed(emulators.group(1)) and _closed(emulators.group(2))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
