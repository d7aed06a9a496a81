"""The webhook receiver: signature over the raw body, replays, duplicates, and what reaches the state DB."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from connector.emulators.server import ServerThread
from connector.state import StateDB
from connector.webhooks.events import EventStore, open_nudges
from connector.webhooks.receiver import build_app
from connector.webhooks.signature import sign

REPO = Path(__file__).resolve().parents[1]
SECRET = "whsec-test-0123456789abcdef"
PATH = "/webhooks/coverbase"


def delivery(event_id="cbevt_" + "1" * 32, event_type="Assessment.StatusChanged", occurred_at=None, **data) -> bytes:
    data = data or {"assessment_id": "cbqsrw_" + "a" * 32, "old_status": "review_evals", "new_status": "complete"}
    body = {"event_id": event_id, "event_type": event_type, "occurred_at": occurred_at or int(time.time()),
            "data": {"event_type": event_type, **data}}
    return json.dumps(body, separators=(",", ":")).encode()


def post(client: httpx.Client, raw: bytes, signature: str | None = None, **headers) -> httpx.Response:
    h = {"Content-Type": "application/json", **headers}
    if signature is not None:
        h["Coverbase-Signature"] = signature
    return client.post(PATH, content=raw, headers=h)


@pytest.fixture
def receiver(tmp_path):
    db = tmp_path / "state.db"
    store = EventStore(db)
    server = ServerThread(build_app(store, [SECRET, "whsec-previous-secret-0000"])).start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client, db
    server.stop()
    store.close()


def events(db: Path) -> list[dict]:
    with StateDB(db) as st:
        return list(st.db.query("SELECT * FROM webhook_events ORDER BY received_at, event_id"))


def test_a_correctly_signed_delivery_is_accepted_once_and_its_duplicate_ignored(receiver):
    client, db = receiver
    raw = delivery()
    first = post(client, raw, sign(SECRET, raw), **{"X-Coverbase-Event-Id": "cbevt_" + "1" * 32})
    again = post(client, raw, sign(SECRET, raw))
    assert (first.status_code, first.json()["status"]) == (200, "stored")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")  # 2xx: Coverbase stops retrying
    rows = events(db)
    assert len(rows) == 1 and rows[0]["deliveries"] == 2 and rows[0]["new_status"] == "complete"
    assert rows[0]["processed_at"] is None  # open: the outcomes sensor acts on it
    assert SECRET not in json.dumps(rows) and sign(SECRET, raw) not in json.dumps(rows)
    with StateDB(db) as st:
        assert open_nudges(st) == [("cbevt_" + "1" * 32, "cbqsrw_" + "a" * 32)]


def test_a_bad_signature_is_refused_with_401(receiver):
    client, db = receiver
    raw = delivery()
    assert post(client, raw, sign("whsec-some-other-secret-000", raw)).status_code == 401
    assert post(client, raw, "not-hex").status_code == 401
    assert post(client, raw).status_code == 401  # no signature at all
    assert events(db) == []


def test_a_body_altered_after_signing_is_refused_with_401(receiver):
    client, db = receiver
    raw = delivery()
    signature = sign(SECRET, raw)
    altered = raw.replace(b'"new_status":"complete"', b'"new_status":"failed"')
    assert altered != raw
    assert post(client, altered, signature).status_code == 401
    assert post(client, raw + b" ", signature).status_code == 401  # even whitespace: the raw bytes are signed
    assert events(db) == []


def test_a_replayed_delivery_outside_the_window_is_refused(receiver):
    client, db = receiver
    old = delivery(event_id="cbevt_" + "2" * 32, occurred_at=int(time.time()) - 3600)
    assert post(client, old, sign(SECRET, old)).status_code == 401
    fresh = delivery(event_id="cbevt_" + "3" * 32)
    stale_stamp = {"Coverbase-Timestamp": str(int(time.time()) - 900)}
    assert post(client, fresh, sign(SECRET, fresh), **stale_stamp).status_code == 401
    future = delivery(event_id="cbevt_" + "4" * 32, occurred_at=int(time.time()) + 3600)
    assert post(client, future, sign(SECRET, future)).status_code == 401
    assert events(db) == []


def test_the_previous_secret_still_verifies_during_a_rotation(receiver):
    client, db = receiver
    raw = delivery()
    assert post(client, raw, sign("whsec-previous-secret-0000", raw)).json()["status"] == "stored"


def test_other_event_types_are_acknowledged_but_not_acted_on(receiver):
    client, db = receiver
    raw = delivery(event_id="cbevt_" + "5" * 32, event_type="Vendor.Updated", vendor_id="cbvndr_" + "b" * 32)
    assert post(client, raw, sign(SECRET, raw)).json()["status"] == "stored"
    with StateDB(db) as st:
        assert open_nudges(st) == []
    assert events(db)[0]["outcome"] == "acknowledged; not acted on"


def test_signed_bodies_that_are_not_deliveries_are_400_and_oversized_ones_413(receiver):
    client, db = receiver
    for raw in (b"[1, 2]", b"{not json", json.dumps({"event_id": "x"}).encode()):
        assert post(client, raw, sign(SECRET, raw)).status_code == 400
    raw = delivery()
    mismatch = post(client, raw, sign(SECRET, raw), **{"X-Coverbase-Event-Id": "cbevt_other"})
    assert mismatch.status_code == 400 and "X-Coverbase-Event-Id" in mismatch.json()["error"]
    big = b"{" + b" " * (70 * 1024) + b"}"
    assert post(client, big, sign(SECRET, big)).status_code == 413
    assert events(db) == []


@pytest.mark.timeout(120)
def test_the_receiver_command_serves_and_refuses_to_start_without_a_secret(tmp_path):
    cmd = [sys.executable, "-m", "connector.webhooks", "--host", "127.0.0.1", "--port", "0",
           "--state-db", str(tmp_path / "state.db")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERBASE_WEBHOOK")}
    no_secret = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert no_secret.returncode != 0 and "COVERBASE_WEBHOOK_SECRET" in no_secret.stderr
    proc = subprocess.Popen(cmd, cwd=REPO, env={**env, "COVERBASE_WEBHOOK_SECRET": SECRET}, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        line = proc.stdout.readline().decode()
        assert "listening on http://127.0.0.1:" in line
        url = line.rsplit(" ", 1)[-1].strip()
        raw = delivery()
        with httpx.Client(timeout=10) as client:
            resp = client.post(url, content=raw, headers={"Coverbase-Signature": sign(SECRET, raw),
                                                          "Content-Type": "application/json"})
            assert resp.status_code == 200 and resp.json()["status"] == "stored"
            assert client.post(url, content=raw, headers={"Coverbase-Signature": "0" * 64}).status_code == 401
        assert len(events(tmp_path / "state.db")) == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
