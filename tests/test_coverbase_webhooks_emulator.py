"""The Coverbase emulator's assessment lifecycle and webhooks, against the contract (coverbase-api.md §2.5, §2.11),
and its deliveries through the real receiver: signed, duplicated, out of order, each event stored once."""

import hashlib
import hmac
import json

import httpx
import pytest

from connector.coverbase.errors import CoverbaseBadRequest, CoverbaseError
from connector.coverbase.models import AssessmentCreate, VendorCreate
from connector.coverbase.webhooks import STATUS_CHANGED, WebhookCreate
from connector.emulators.coverbase_progress import FLOW
from connector.emulators.server import ServerThread
from connector.state import StateDB
from connector.webhooks.events import EventStore, open_nudges
from connector.webhooks.receiver import build_app

SECRET = "whsec-emulator-test-0123456789"


@pytest.fixture
def assessment(cb):
    v = cb.create_vendor(VendorCreate(name="Acme Widgets"), idempotency_key="sn:v1")
    return cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[], name="Acme 2026 review"),
                                idempotency_key="sn:a1")


def test_an_assessment_moves_through_its_statuses_over_virtual_time(coverbase, cb, assessment):
    assert cb.get_assessment(assessment.id).status == "created"
    seen = ["created"]
    for _ in range(12):
        coverbase.emu.progress.advance(1800)
        status = cb.get_assessment(assessment.id).status
        if status != seen[-1]:
            seen.append(status)
    assert seen in (list(FLOW), list(FLOW[:4]) + ["failed"])
    final = cb.get_assessment(assessment.id)
    if final.status == "complete":
        assert 0 <= final.score_percent <= 1 and final.findings_count >= 0
    assert final.updated_at > final.created_at


def test_archiving_cancels_and_stops_an_assessment(coverbase, cb, assessment):
    cb.archive_assessment(assessment.id)
    coverbase.emu.progress.advance(48 * 3600)
    assert cb.get_assessment(assessment.id).status == "canceled"


@pytest.mark.parametrize("body,code", [
    ({"url": "https://hooks.example.com/cb", "events": [STATUS_CHANGED], "secret": "short"}, "weak_secret"),
    ({"url": "http://hooks.example.com/cb", "events": [STATUS_CHANGED], "secret": SECRET}, "invalid_url"),
    ({"url": "https://hooks.example.com:8443/cb", "events": [STATUS_CHANGED], "secret": SECRET}, "invalid_url"),
    ({"url": "https://u:p@hooks.example.com/cb", "events": [STATUS_CHANGED], "secret": SECRET}, "invalid_url"),
    ({"url": "https://127.0.0.1/cb", "events": [STATUS_CHANGED], "secret": SECRET}, "invalid_url"),
    ({"url": "https://10.1.2.3/cb", "events": [STATUS_CHANGED], "secret": SECRET}, "invalid_url"),
    ({"url": "https://169.254.169.254/latest", "events": [STATUS_CHANGED], "secret": SECRET}, "invalid_url"),
    ({"url": "https://hooks.example.com/cb", "events": ["assessment.completed"], "secret": SECRET},
     "invalid_event_types"),
])
def test_subscriptions_are_validated_in_the_documented_order(coverbase, body, code):
    with coverbase.admin() as http:
        resp = http.post("/v1/webhooks", json=body, headers={"Authorization": f"Bearer {coverbase.api_key}"})
    assert resp.json()["detail"]["code"] == code
    assert resp.status_code == (422 if code == "invalid_event_types" else 400)


def test_the_secret_is_never_returned_and_delete_archives(coverbase, cb):
    w = cb.create_webhook(WebhookCreate(url="https://hooks.example.com/cb", events=[STATUS_CHANGED], secret=SECRET))
    with coverbase.admin() as http:
        listed = http.get("/v1/webhooks", headers={"Authorization": f"Bearer {coverbase.api_key}"}).json()
    assert [x["id"] for x in listed["data"]] == [w.id] and SECRET not in json.dumps(listed)
    assert SECRET not in repr(WebhookCreate(url="https://x", events=[], secret=SECRET))
    cb.delete_webhook(w.id)
    assert cb.list_webhooks() == []
    with pytest.raises(CoverbaseError) as exc:
        cb.delete_webhook(w.id)
    assert exc.value.status == 404


class Capture:
    """A receiver that records the raw requests (to check the emulator's signatures independently)."""

    def __init__(self):
        self.seen: list[tuple[dict, bytes]] = []

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        self.seen.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_deliveries_are_signed_over_the_raw_body_and_a_fan_out_shares_its_event_id(coverbase, cb, assessment):
    capture = Capture()
    with ServerThread(capture) as server:
        coverbase.emu.webhooks.set_settings({"allow_loopback": True, "mode": "manual"})
        for path in ("/a", "/b"):
            cb.create_webhook(WebhookCreate(url=server.url + path, events=[STATUS_CHANGED], secret=SECRET))
        coverbase.emu.progress.advance(2 * 3600)
        coverbase.emu.webhooks.flush()
    assert capture.seen and len(capture.seen) % 2 == 0
    for headers, raw in capture.seen:
        assert headers["coverbase-signature"] == hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        body = json.loads(raw)
        assert set(body) == {"event_id", "event_type", "occurred_at", "data"}
        assert headers["x-coverbase-event-id"] == body["event_id"] and body["data"]["assessment_id"] == assessment.id
    by_event = {}
    for _, raw in capture.seen:
        by_event.setdefault(json.loads(raw)["event_id"], 0)
        by_event[json.loads(raw)["event_id"]] += 1
    assert set(by_event.values()) == {2}  # one event, both subscriptions, the same event_id


def test_loopback_receivers_are_an_emulator_only_switch(coverbase, cb):
    with pytest.raises(CoverbaseBadRequest) as exc:
        cb.create_webhook(WebhookCreate(url="http://127.0.0.1:9/cb", events=[STATUS_CHANGED], secret=SECRET))
    assert exc.value.code == "invalid_url"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duplicated_and_reordered_deliveries_are_stored_once_each_through_the_receiver(tmp_path, coverbase, cb, seed):
    store = EventStore(tmp_path / "state.db")
    with ServerThread(build_app(store, [SECRET])) as receiver:
        hub = coverbase.emu.webhooks
        hub.set_settings({"allow_loopback": True, "mode": "manual", "seed": seed, "duplicate_rate": 0.5,
                          "reorder": True})
        cb.create_webhook(WebhookCreate(url=receiver.url + "/webhooks/coverbase", events=[STATUS_CHANGED],
                                        secret=SECRET))
        v = cb.create_vendor(VendorCreate(name="Globex"), idempotency_key="sn:v2")
        ids = [cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[], name=f"Globex {i}"),
                                    idempotency_key=f"sn:g{i}").id for i in range(4)]
        coverbase.emu.progress.advance(12 * 3600)
        attempts = hub.flush()
    store.close()
    sent = {}
    for a in attempts:
        sent[a["event_id"]] = sent.get(a["event_id"], 0) + 1
    assert any(n > 1 for n in sent.values()), "some deliveries were duplicated"
    assert all(a["response_status"] == 200 for a in attempts)
    with StateDB(tmp_path / "state.db") as st:
        rows = list(st.db.query("SELECT event_id, assessment_id, deliveries FROM webhook_events"))
        nudges = open_nudges(st)
    assert {r["event_id"] for r in rows} == set(sent) and len(rows) == len(sent)
    assert all(r["deliveries"] == sent[r["event_id"]] for r in rows)
    assert {cid for _, cid in nudges} == set(ids)


def test_the_redirect_switch_delivers_a_public_subscription_to_a_loopback_receiver(coverbase, cb, assessment):
    capture = Capture()
    with ServerThread(capture) as server:
        public = "https://connector.example.com/webhooks/coverbase"
        coverbase.emu.webhooks.set_settings({"mode": "manual", "redirect": {public: server.url + "/in"}})
        w = cb.create_webhook(WebhookCreate(url=public, events=[STATUS_CHANGED], secret=SECRET))
        with httpx.Client(base_url=coverbase.url, headers={"Authorization": f"Bearer {coverbase.api_key}"}) as http:
            assert http.post(f"/v1/webhooks/{w.id}/test", json={}).json()["event_id"].startswith("cbevt_test_")
        coverbase.emu.webhooks.flush()
        with httpx.Client(base_url=coverbase.url, headers={"Authorization": f"Bearer {coverbase.api_key}"}) as http:
            deliveries = http.get(f"/v1/webhooks/{w.id}/deliveries", params={"limit": 500}).json()
    assert len(capture.seen) == 1 and json.loads(capture.seen[0][1])["event_type"] == "webhook.test"
    assert deliveries["limit"] == 100 and deliveries["data"][0]["status"] == "delivered"
