"""Take the README's screenshots of the Dagster UI from a live UI demo, in headless Chromium.

    apt-get install -y chromium        # Debian's package
    .venv/bin/python scripts/ui_screenshots.py [--out docs/img]

Starts `python -m connector.demo --ui` on a fresh Dagster instance, then through the UI's
GraphQL API: materializes sync_all, launches a 3-day backfill, runs migrate as a dry run and
launches a run whose settings are incomplete; then photographs the pages the README shows,
driving Chromium over its DevTools protocol (to expand the lineage groups, Alt+E, as a user
would), and stops everything. So that the small dataset's run shows progress lines, the emulators
answer with some latency (ServiceNow 300 ms, Coverbase 20 ms per request) and lines come every 2 s
(CONNECTOR_PROGRESS_SECONDS=2; the default is 10 s).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from connector import demo_ui  # noqa: E402

ASSETS = ["preflight_checks", "sn_users", "sn_vendors", "sn_vendor_contacts", "sn_engagements", "sn_assessments",
          "sn_attachments", "coverbase_users", "coverbase_vendors", "coverbase_services", "coverbase_documents",
          "coverbase_boms", "coverbase_assessments"]
BACKFILL = """mutation Backfill($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
RUN_STEPS = """query Run($id: ID!) { runOrError(runId: $id) { ... on Run { stepKeysToExecute tags { key value } } } }"""
BACKFILL_RUNS = """query Runs($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status runs(limit: 5) { runId status } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """Headless Chromium, driven over the DevTools protocol (websockets comes with dagster-webserver)."""

    def __init__(self) -> None:
        from websockets.sync.client import connect

        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise SystemExit("chromium is not installed: apt-get install -y chromium")
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="ui-shots-")
        self.proc = subprocess.Popen([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                      "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                      "--hide-scrollbars", f"--remote-debugging-port={self.port}",
                                      f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        give_up = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as r:
                    page = next(t for t in json.loads(r.read()) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > give_up:
                    raise SystemExit("chromium did not start") from None
                time.sleep(0.5)
        self._conn = connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024)
        self.ws = self._conn.__enter__()
        self._id = 0

    def send(self, method: str, **params) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def shot(self, url: str, path: Path, *, width: int = 1600, height: int = 1000, settle: float = 6.0,
             keys: list[dict] | None = None, scroll_to: str | None = None, type_into: tuple[str, str] | None = None
             ) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)
        time.sleep(settle)  # the UI fetches its data after load: give it time, then photograph
        for key in keys or []:
            self.send("Input.dispatchKeyEvent", type="keyDown", **key)
            self.send("Input.dispatchKeyEvent", type="keyUp", **key)
            time.sleep(3)
        if type_into:  # (CSS selector of an input, text): as if typed by a user
            self.send("Runtime.evaluate", expression=f"document.querySelector({json.dumps(type_into[0])}).focus()")
            self.send("Input.insertText", text=type_into[1])
            time.sleep(3)
        if scroll_to:
            self.send("Runtime.evaluate", expression=(
                "(() => { const el = [...document.querySelectorAll('td,div,span')].find(e => e.textContent.trim() === "
                f"{json.dumps(scroll_to)}); if (el) el.scrollIntoView({{block: 'start'}}); }})()"))
            time.sleep(2)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")

    def close(self) -> None:
        self._conn.__exit__(None, None, None)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        shutil.rmtree(self.profile, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ui-demo-"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERBASE_", "SERVICENOW_", "CONNECTOR_"))}
    env["CONNECTOR_PROGRESS_SECONDS"] = "2"
    demo = subprocess.Popen([sys.executable, "-m", "connector.demo", "--ui", "--port", str(free_port()),
                             "--dagster-home", str(home), "--work", str(work), "--servicenow-latency-ms", "300",
                             "--coverbase-latency-ms", "20"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    browser = None
    try:
        url = None
        for line in demo.stdout:  # type: ignore[union-attr]
            print(line, end="")
            m = re.match(r"Dagster UI: (\S+)", line)
            if m:
                url = m.group(1)
            if line.startswith("Ctrl-C stops"):
                break
        if url is None:
            raise SystemExit("the UI demo did not start")
        repo = demo_ui.wait_ready(url, demo)
        sync = demo_ui.launch(url, repo, "sync_all")
        print("sync_all:", demo_ui.wait_for_run(url, sync, 600))
        answer = demo_ui._graphql(url, BACKFILL, {"params": {
            "assetSelection": [{"path": [k]} for k in ASSETS],
            "partitionNames": ["2026-10-03", "2026-10-04", "2026-10-05"], "fromFailure": False}})
        backfill = answer["data"]["launchPartitionBackfill"]
        print("backfill:", backfill)
        give_up = time.monotonic() + 600
        while time.monotonic() < give_up:
            info = demo_ui._graphql(url, BACKFILL_RUNS,
                                    {"id": backfill["backfillId"]})["data"]["partitionBackfillOrError"]
            if info["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                break
            time.sleep(2)
        print("backfill:", info)
        for run in info["runs"]:
            steps = demo_ui._graphql(url, RUN_STEPS, {"id": run["runId"]})["data"]["runOrError"]
            print("  backfill run", run["runId"][:8], run["status"], steps.get("stepKeysToExecute"),
                  {t["key"]: t["value"] for t in steps.get("tags", []) if "partition" in t["key"]})
        migrate = demo_ui.launch(url, repo, "migrate")
        print("migrate (dry run):", demo_ui.wait_for_run(url, migrate, 600))
        browser = Browser()
        out = a.out
        out.mkdir(parents=True, exist_ok=True)
        browser.shot(f"{url}/asset-groups", out / "asset-graph.png", width=1900, height=1200,
                     keys=[{"modifiers": 1, "code": "KeyE", "key": "e", "windowsVirtualKeyCode": 69}])
        browser.shot(f"{url}/assets/coverbase_users", out / "asset-metadata.png", width=1700, height=1250,
                     scroll_to="rejected_records")
        browser.shot(f"{url}/assets/sn_vendors?view=partitions", out / "partitions.png", height=800)
        browser.shot(f"{url}/runs/{sync}", out / "run-progress.png", height=1000,
                     type_into=('input[placeholder^="Filter"]', "records/s"))
        broken = demo_ui.launch(url, repo, "sync_all", {"resources": {"coverbase": {"config": {"api_key": ""}}}})
        print("sync_all without a key:", demo_ui.wait_for_run(url, broken, 600))
        browser.shot(f"{url}/runs/{broken}", out / "run-settings-failure.png", height=900,
                     type_into=('input[placeholder^="Filter"]', "type:RUN_FAILURE"))
        browser.shot(f"{url}/runs", out / "runs.png", height=560)
        return 0
    finally:
        if browser is not None:
            browser.close()
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)
            demo.wait(timeout=90)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
