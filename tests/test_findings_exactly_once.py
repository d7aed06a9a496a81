"""No issue ever becomes two findings, and none is lost, although ``POST /v1/findings`` ignores
Idempotency-Key and its answer carries no title: lost answers, a process dying between the POST and
the ledger, concurrent creates on one target, findings made by people in the same window."""

import random
from collections import Counter

import pytest

from assets.common import push_metadata
from connector.coverbase.errors import CoverbaseAmbiguousWrite
from connector.coverbase.models import Finding
from connector.errors import FatalSyncError
from connector.state import StateDB
from connector.sync.entities.finding_readback import analyse
from tests.conftest import Harness
from tests.sync_oracle import assert_findings, expected, issue_of

ISSUE = "sn_vdr_risk_asmt_issue"
FINDINGS = "^/v1/findings$"
pytestmark = pytest.mark.timeout(300)


def F(id_, title=None, body=None, created=None):  # noqa: N802 - a finding as Coverbase lists it
    return Finding(id=id_, title=title, body=body, created_at=created)


# --- the decision itself (a pure function) -----------------------------------------------------

@pytest.mark.parametrize("listing,expect", [
    ([F("a"), F("b")], ("adopt", "b")),  # a is in the baseline
    ([F("a"), F("b"), F("k")], ("adopt", "b")),  # k is known to the ledger (another issue's)
    ([F("a")], ("none", None)),
    ([F("a"), F("b"), F("c")], ("await", ["b", "c"])),
    ([F("b", title="Ours"), F("c", title="Someone else's")], ("adopt", "b")),
    ([F("b", title=" Ours "), F("c", title="Ours")], ("await", ["b", "c"])),
    ([F("b", body="x\n\nServiceNow t N (sys_id S1)"), F("c", body="x (sys_id S2)")], ("adopt", "b")),
    ([F("c", title="Ours", body="made by a person")], ("none", None)),
    ([F("b", title="Other")], ("none", None)),
    ([F("b", created=10_000 + 7200)], ("none", None)),  # made two hours after the create was sent
    ([F("b", created=10_000 + 30)], ("adopt", "b")),
    ([F("b", created=10_000 - 3600)], ("none", None)),  # made an hour before it (an incomplete baseline)
    ([F("b", created=10_000 - 60)], ("adopt", "b")),  # clocks differ by a minute
    ([F("b", created=10_000 + 7200, body="x (sys_id S1)")], ("adopt", "b")),  # its body names the record
    ([F("b", created=10_000 + 20), F("c", created=10_000 + 9000)], ("adopt", "b")),
], ids=["one new", "known excluded", "nothing new", "two new: not conclusive", "title narrows", "same titles",
        "body names the record", "same title, other body", "other title", "made hours later", "made seconds later",
        "made an hour before", "clock skew", "late but named by its body", "one in time, one late"])
def test_the_read_back_adopts_only_conclusive_evidence(listing, expect):
    v = analyse(listing, baseline={"a"}, known={"k"}, title="Ours", marker="(sys_id S1)", sent_at=10_000)
    kind, value = expect
    if kind == "adopt":
        assert v.adopt == value
    elif kind == "await":
        assert v.adopt is None and v.candidates == value
    else:
        assert v.none


def test_a_vendor_listing_that_shows_its_assessments_findings_does_not_confuse_the_read_back():
    listing = [Finding(id="b", vendor_id="V"), Finding(id="c", vendor_id="V", assessment_id="A")]
    v = analyse(listing, baseline=set(), known=set(), title="Ours", marker="-", kind="vendor_id", target="V")
    assert v.adopt == "b"
    v = analyse(listing, baseline=set(), known=set(), title="Ours", marker="-", kind="assessment_id", target="A")
    assert v.adopt == "c"


# --- lost answers -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,text", [("status", False), ("disconnect", False), ("mixed", True)],
                         ids=["504 after commit", "dropped connection", "mixed, title and body returned"])
def test_every_first_create_answer_lost_is_adopted_from_the_read_back_and_never_sent_twice(tmp_path, mode, text):
    h = Harness(tmp_path, cb_faults={"ambiguous_first_paths": FINDINGS, "ambiguous_mode": mode, "latency_ms": 2})
    try:
        h.cb.emu.store.finding_rules.include_text = text
        report = h.run()
        exp = expected(h.sn.emu.ds)
        posts = [e for e in h.cb.emu.log if e["method"] == "POST" and e["path"] == "/v1/findings"]
        assert len(posts) == len(exp.findings) and all(e["fault"] and e["fault"].startswith("ambiguous") for e in posts)
        rep = report.entities["findings"]
        assert rep.outcomes["created"] == len(exp.findings) and rep.outcomes["transient"] == 0
        rows = [r for r in h.state.ledger("finding", "servicenow").values() if r.status == "ok"]
        assert all(r.error_message.startswith("confirmed by read-back after an ambiguous response") for r in rows)
        h.cb.emu.store.finding_rules.include_text = True
        assert_findings(h, exp)
    finally:
        h.close()


def test_two_lost_creates_on_one_target_in_one_run_are_each_adopted(tmp_path):
    h = Harness(tmp_path, cb_faults={"ambiguous_first_paths": FINDINGS, "latency_ms": 10},
                config={"sync": {"concurrency": 8}})
    try:
        vendor = sorted(expected(h.sn.emu.ds).vendors)[3]
        keys = [f"{i:032x}" for i in range(1, 9)]
        for i, key in enumerate(keys):
            h.sn.emu.insert(ISSUE, {"sys_id": key, "number": f"VRI77{i:05d}", "short_description": "Same title",
                                    "description": "", "state": "1", "priority": "3", "due_date": "", "vendor": vendor,
                                    "engagement": "", "assessment": "", "active": "true"})
        report = h.run()
        rows = {k: h.state.ledger_row("finding", "servicenow", k) for k in keys}
        assert all(r.status == "ok" and "confirmed by read-back" in r.error_message for r in rows.values())
        assert len({r.coverbase_id for r in rows.values()}) == 8
        made = Counter(issue_of(f) for f in h.cb.emu.store.snapshot()[h.cb.emu.store.main_org.id]["findings"])
        assert all(made[k] == 1 for k in keys) and report.entities["findings"].outcomes["transient"] == 0
    finally:
        h.close()


# --- a process that dies between the POST and the ledger -----------------------------------------

def _dying(h, monkeypatch, *, before: bool):
    real = h.cb_client.create_finding
    sent: list[str] = []

    def create(payload):
        if before:
            raise FatalSyncError("process killed before the POST")
        f = real(payload)
        sent.append(f.id)
        raise FatalSyncError("process killed after the POST, before the ledger heard of it")

    monkeypatch.setattr(h.cb_client, "create_finding", create)
    with pytest.raises(FatalSyncError):
        h.run()
    monkeypatch.undo()
    return sent


def test_a_create_whose_process_died_after_the_post_is_linked_not_sent_again(tmp_path, monkeypatch):
    h = Harness(tmp_path)
    try:
        sent = _dying(h, monkeypatch, before=False)
        pending = {k: r for k, r in h.state.ledger("finding", "servicenow").items() if r.status == "pending"}
        assert sent and len(pending) == len(sent) and all("_attempt" in r.payload for r in pending.values())
        mark = h.mark()
        report = h.run()
        posts = [w for w in h.writes_since(mark) if w["path"] == "/v1/findings"]
        exp = expected(h.sn.emu.ds)
        assert len(posts) == len(exp.findings) - len(sent)
        for key in pending:
            row = h.state.ledger_row("finding", "servicenow", key)
            assert row.status == "ok" and row.coverbase_id in sent, (row.status, row.error_message)
            assert row.error_message.startswith("created by an earlier attempt whose answer was lost")
        assert report.entities["findings"].outcomes["linked"] == len(sent)
        h.cb.emu.store.finding_rules.include_text = True
        assert_findings(h, exp)
    finally:
        h.close()


def test_a_create_whose_process_died_before_the_post_is_created_once_next_run(tmp_path, monkeypatch):
    h = Harness(tmp_path)
    try:
        _dying(h, monkeypatch, before=True)
        pending = [k for k, r in h.state.ledger("finding", "servicenow").items() if r.status == "pending"]
        assert pending and not h.cb_state()["findings"]
        h.run()
        for key in pending:
            row = h.state.ledger_row("finding", "servicenow", key)
            assert row.status == "ok" and "left no finding" in row.error_message
        h.cb.emu.store.finding_rules.include_text = True
        assert_findings(h, expected(h.sn.emu.ds))
    finally:
        h.close()


def test_a_finding_a_person_made_long_after_a_dead_create_is_not_taken_for_it(tmp_path, monkeypatch):
    """The process died before its POST; hours later a person adds a finding on the same target.
    With no body to tell, only the time shows it is not ours: the issue gets its own finding and
    the person's is left alone."""
    h = Harness(tmp_path, config={"sync": {"concurrency": 1, "adaptive_concurrency": False}})
    try:
        _dying(h, monkeypatch, before=True)
        key, row = next((k, r) for k, r in h.state.ledger("finding", "servicenow").items() if r.status == "pending")
        att = row.payload["_attempt"]
        earlier = {**att, "at": "2026-01-01T00:00:00Z", "at_ns": 1767225600 * 10**9}  # long before now
        h.state.upsert_ledger([row.copy(payload={**row.payload, "_attempt": earlier})])
        with h.cb.admin() as http:
            theirs = http.post("/_emulator/findings", json={"title": "Added by a person",
                                                               att["kind"]: att["target"]}).json()["id"]
        mark = h.mark()
        h.run()
        row = h.state.ledger_row("finding", "servicenow", key)
        assert row.status == "ok" and row.coverbase_id != theirs and "left no finding" in row.error_message
        assert not [w for w in h.writes_since(mark) if theirs in w["path"]]
    finally:
        h.close()


# --- evidence that is not conclusive ------------------------------------------------------------

def _lost_with_a_stranger(h, monkeypatch):
    """The POST commits, a person adds a finding on the same vendor, then the answer is lost."""
    real = h.cb_client.create_finding
    done: dict = {}

    def create(payload):
        f = real(payload)
        if not done:
            with h.cb.admin() as http:
                target = {k: v for k, v in (("vendor_id", payload.vendor_id), ("assessment_id", payload.assessment_id))
                          if v}
                stranger = http.post("/_emulator/findings", json={"title": "Added by a person", **target}).json()
            done.update(ours=f.id, stranger=stranger["id"])
            raise CoverbaseAmbiguousWrite("no response (ReadTimeout)", method="POST", path="/v1/findings")
        return f

    monkeypatch.setattr(h.cb_client, "create_finding", create)
    report = h.run()
    monkeypatch.undo()
    key = next(k for k, r in h.state.ledger("finding", "servicenow").items() if r.status == "transient")
    return report, key, done


def test_two_unknown_findings_after_a_lost_answer_wait_for_confirmation_and_nothing_is_sent_again(tmp_path,
                                                                                                   monkeypatch):
    h = Harness(tmp_path, config={"sync": {"concurrency": 1, "adaptive_concurrency": False}})
    try:
        report, key, done = _lost_with_a_stranger(h, monkeypatch)
        row = h.state.ledger_row("finding", "servicenow", key)
        assert row.error_message.startswith("awaiting confirmation: a create on ")
        assert done["ours"] in row.error_message and done["stranger"] in row.error_message
        assert row.payload["_attempt"]["candidates"] == sorted([done["ours"], done["stranger"]])
        rep = report.entities["findings"]
        assert [r["key"] for r in rep.attention["awaiting_confirmation"]] == [key]
        assert push_metadata(rep, dry_run=False)["awaiting_confirmation"] == 1
        mark = h.mark()
        again = h.run()  # still not conclusive: nothing is written, it stays visible
        assert h.writes_since(mark) == []
        assert h.state.ledger_row("finding", "servicenow", key).status == "transient"
        assert [r["key"] for r in again.entities["findings"].attention["awaiting_confirmation"]] == [key]
        assert {f["id"] for f in h.cb_state()["findings"]} >= {done["ours"], done["stranger"]}
    finally:
        h.close()


def test_a_title_returned_by_coverbase_resolves_the_wait_on_the_next_run(tmp_path, monkeypatch):
    h = Harness(tmp_path, config={"sync": {"concurrency": 1, "adaptive_concurrency": False}})
    try:
        _, key, done = _lost_with_a_stranger(h, monkeypatch)
        h.cb.emu.store.finding_rules.include_text = True  # a Coverbase that does send title and body
        mark = h.mark()
        report = h.run()
        assert [w for w in h.writes_since(mark) if w["method"] == "POST"] == []
        row = h.state.ledger_row("finding", "servicenow", key)
        assert row.status == "ok" and row.coverbase_id == done["ours"]
        assert "its body names the source record" in row.error_message
        assert report.entities["findings"].outcomes["linked"] == 1
    finally:
        h.close()


def test_a_person_can_confirm_which_finding_it_is(tmp_path, monkeypatch):
    h = Harness(tmp_path, config={"sync": {"concurrency": 1, "adaptive_concurrency": False}})
    try:
        _, key, done = _lost_with_a_stranger(h, monkeypatch)
        h.cfg.findings.confirm[key] = "cbtask_" + "0" * 32  # a typo: not a finding of that vendor
        h.run()
        row = h.state.ledger_row("finding", "servicenow", key)
        assert row.status == "transient" and "which is not a finding of " in row.error_message
        h.cfg.findings.confirm[key] = done["ours"]
        h.run()
        row = h.state.ledger_row("finding", "servicenow", key)
        assert row.status == "ok" and row.coverbase_id == done["ours"]
        assert "confirmed by hand (findings.confirm)" in row.error_message
    finally:
        h.close()


def test_lost_state_relinks_findings_by_their_body_when_coverbase_returns_it(tmp_path):
    h = Harness(tmp_path)
    try:
        h.cb.emu.store.finding_rules.include_text = True
        h.run()
        before = len(h.cb_state()["findings"])
        h.state.close()
        h.state = h.engine.state = StateDB(tmp_path / "fresh.db")
        mark = h.mark()
        report = h.run()
        assert [w for w in h.writes_since(mark) if w["path"] == "/v1/findings"] == []
        assert len(h.cb_state()["findings"]) == before
        assert report.entities["findings"].outcomes["linked"] == len(expected(h.sn.emu.ds).findings)
    finally:
        h.close()


# --- everything at once, seeded ---------------------------------------------------------------

@pytest.mark.parametrize("seed", [5, 8, 13])
def test_random_faults_and_strangers_never_duplicate_and_converge(tmp_path, seed):
    rng = random.Random(seed)
    text = rng.random() < 0.5
    h = Harness(tmp_path, cb_faults={"seed": seed, "path_filter": "^/v1/findings", "rate_ambiguous": 0.4,
                                     "rate_5xx": 0.15, "rate_429": 0.1, "retry_after": 0.001,
                                     "ambiguous_mode": "mixed"})
    try:
        h.cb.emu.store.finding_rules.include_text = text
        h.run(entities=["users", "vendors", "services", "documents", "boms", "assessments"])
        vendors = [v["id"] for v in h.cb_state()["vendors"]]
        with h.cb.admin() as http:  # people's findings already on some vendors: in every baseline
            for v in rng.sample(vendors, 5):
                http.post("/_emulator/findings", json={"title": "Made in Coverbase", "vendor_id": v})
        for _ in range(3):
            try:
                h.run()
            except Exception:  # a run may stop on a fault; the next one resumes from the ledger
                pass
            made = Counter(issue_of(f) for f in h.cb_state()["findings"] if issue_of(f))
            assert max(made.values(), default=1) == 1, "a duplicate finding"
            ledger = h.state.ledger("finding", "servicenow")
            for f in h.cb_state()["findings"]:
                key = issue_of(f)
                if key is None:
                    continue
                row = ledger[key]
                known = row.coverbase_id == f["id"] or f["id"] in ((row.payload or {}).get("_attempt") or {}).get(
                    "candidates", []) or row.status in ("pending", "transient")
                assert known, f"{key}: finding {f['id']} not accounted for ({row.status}: {row.error_message})"
        h.cb.emu.set_faults({"rate_ambiguous": 0, "rate_5xx": 0, "rate_429": 0})
        h.run()
        h.cb.emu.store.finding_rules.include_text = True
        assert_findings(h, expected(h.sn.emu.ds))
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []
    finally:
        h.close()
