"""Exactly once, attacked at random: a seeded mix of lost answers (504 / dropped connection), 5xx,
429, latency, adaptive concurrency, findings text on or off, read-backs that fail, many issues on
ONE vendor with the same or different titles, and a person adding findings between runs.

Invariants checked after every run:
- no ServiceNow issue is ever the source of two findings in Coverbase (counted in the emulator's
  store by the record line of the body, archived ones included);
- every finding made from an issue is accounted for by the ledger (its id, one of the named
  candidates, or a row whose create is still unresolved);
- every ledger row has a status, and a reason unless it is ``ok``;
and after the fault-free runs at the end: every expected issue is ``ok`` with its own finding, or
explicitly "awaiting confirmation" with candidates that exist on its target.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter

import pytest

from connector.coverbase.errors import CoverbaseServerError
from connector.sync.entities.finding_writes import AWAITING
from tests.conftest import Harness
from tests.sync_oracle import expected, issue_of

ISSUE = "sn_vdr_risk_asmt_issue"
# More seeds for exploration: FINDINGS_RANDOM_SEEDS=100-160 (a range) or 3,5,8.
_env = os.environ.get("FINDINGS_RANDOM_SEEDS", "")
SEEDS = (list(range(int(_env.split("-")[0]), int(_env.split("-")[1]))) if "-" in _env
         else [int(x) for x in _env.split(",") if x.strip()]) or [11, 23, 37, 17, 12]


def _params(seed: int) -> dict:
    rng = random.Random(seed)
    concurrency = rng.randint(1, 8)
    return {
        "mode": rng.choice(["status", "disconnect", "mixed"]),
        "rate_ambiguous": round(rng.uniform(0.2, 0.6), 2),
        "first_lost": rng.random() < 0.3,  # the answer of every first POST of a body is lost as well
        "rate_5xx": round(rng.uniform(0.0, 0.3), 2),
        "rate_429": round(rng.uniform(0.0, 0.2), 2),
        "latency_ms": rng.choice([0, 2, 5, 10]),
        "concurrency": concurrency,
        "max_concurrency": rng.randint(max(8, concurrency), 32),
        "text": rng.random() < 0.5,
        "n_issues": rng.randint(4, 10),
        "titles": rng.choice(["same", "different", "mixed"]),
        "readback_fail": rng.choice([0.0, 0.0, 0.25, 0.5]),  # a listing of findings that fails (after retries)
        "person": rng.random() < 0.7,
        "on_assessment": rng.choice([0.0, 0.0, 0.5]),  # share of the issues placed on one assessment of the vendor
        "faulty_runs": rng.choice([2, 3]),
        "runs": 5,  # the faulty ones, then at least two fault-free
    }


class FailingListings:
    """A seeded share of ``list_findings`` calls fails as if every retry had met a 5xx: what the
    read-back after a lost answer meets on a bad day. Decided per target and call number, so the
    (serialized) calls of one target see the same failures whatever the thread timing."""

    def __init__(self, client, seed: int, rate: float) -> None:
        self.real, self.seed, self.rate = client.list_findings, seed, rate
        self.calls: Counter = Counter()
        self.lock = threading.Lock()
        self.on = True
        self.failed = 0

    def __call__(self, **kw):
        key = repr(sorted(kw.items()))
        with self.lock:
            n = self.calls[key]
            self.calls[key] += 1
        if self.on and self.rate and random.Random(f"{self.seed}|{key}|{n}").random() < self.rate:
            with self.lock:
                self.failed += 1
            raise CoverbaseServerError("503 emulated: the listing failed after every retry", status=503,
                                       method="GET", path="/v1/findings")
        return self.real(**kw)


def _row(ledger: dict, key: str | None) -> str:
    r = ledger.get(key or "")
    if r is None:
        return f"{key}: no ledger row"
    return (f"{key}: {r.status} {r.coverbase_id}: {r.error_message}; "
            f"attempt {((r.payload or {}).get('_attempt') or {})}")


def _check(h: Harness, *, settled: bool, exp_keys: set[str], inserted: list[str], by_hand: set[str],
           misadopted: set[str]) -> dict:
    """The invariants; returns {issue key: ledger row} for the caller. An issue linked to a finding a
    person added after its create went unanswered is collected in ``misadopted``, not failed: with
    ids as the only evidence that is the documented limit of the read-back (see the module doc)."""
    findings = h.cb.emu.store.snapshot()[h.cb.emu.store.main_org.id]["findings"]
    by_id = {f["id"]: f for f in findings}
    made = Counter(issue_of(f) for f in findings if issue_of(f))
    dups = {k: [f["id"] for f in findings if issue_of(f) == k] for k, n in made.items() if n > 1}
    ledger = h.state.ledger("finding", "servicenow")
    holder = {r.coverbase_id: k for k, r in ledger.items() if r.coverbase_id}
    assert not dups, "an issue became two findings: " + "; ".join(
        f"{k}: {ids}, the ledger row of each: {[_row(ledger, holder.get(i)) for i in ids]}; its own: {_row(ledger, k)}"
        for k, ids in dups.items())
    for key, row in ledger.items():
        assert row.status, key
        if row.status != "ok":
            assert (row.error_message or "").strip(), f"{key}: status {row.status} without a reason"
    for f in findings:
        key = issue_of(f)
        if key is None:
            continue
        row = ledger.get(key)
        assert row is not None, f"finding {f['id']} of {key} has no ledger row"
        candidates = ((row.payload or {}).get("_attempt") or {}).get("candidates") or []
        ok = row.coverbase_id == f["id"] or f["id"] in candidates or (
            not settled and row.status in ("pending", "transient") and not row.coverbase_id)
        assert ok, f"{key}: finding {f['id']} not accounted for ({row.status} {row.coverbase_id}: {row.error_message})"
    for key in sorted(exp_keys | set(inserted)):
        row = ledger.get(key)
        assert row is not None, f"{key}: no ledger row"
        if row.coverbase_id and row.status == "ok":
            f = by_id.get(row.coverbase_id)
            assert f is not None, f"{key}: its finding {row.coverbase_id} is not in Coverbase"
            assert issue_of(f) in (key, None), (f"{key} ({_row(ledger, key)}) is linked to a finding made from "
                                                f"{issue_of(f)} ({_row(ledger, issue_of(f))})")
            if issue_of(f) is None:  # adopted a finding nobody made from this issue
                if f["id"] in by_hand:
                    misadopted.add(key)
                    continue
                raise AssertionError(f"{key}: linked to {row.coverbase_id}, a finding made by hand "
                                     f"({f['title']!r}): {row.error_message}")
        if not settled:
            continue
        if row.status == "ok":
            assert row.coverbase_id and (issue_of(by_id[row.coverbase_id]) == key or key in misadopted), \
                (key, row.error_message)
            continue
        assert row.status == "transient" and (row.error_message or "").startswith(AWAITING), \
            f"{key}: {row.status} after fault-free runs: {row.error_message}"
        candidates = ((row.payload or {}).get("_attempt") or {}).get("candidates") or []
        assert len(candidates) >= 2, f"{key}: awaiting without candidates: {row.error_message}"
        att = row.payload["_attempt"]
        for c in candidates:
            assert c in by_id, f"{key}: candidate {c} is not a finding"
            assert c in row.error_message
            f = by_id[c]
            assert (f["vendor_id"] if att["kind"] == "vendor_id" else f["assessment_id"]) == att["target"], (key, c)
    return ledger


@pytest.mark.timeout(90)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_mix_never_duplicates_and_settles(tmp_path, seed):
    p = _params(seed)
    rng = random.Random(seed * 7919)
    faults = {"seed": seed, "path_filter": "^/v1/findings", "rate_ambiguous": p["rate_ambiguous"],
              "ambiguous_mode": p["mode"], "rate_5xx": p["rate_5xx"], "rate_429": p["rate_429"],
              "retry_after": 0.001, "latency_ms": p["latency_ms"]}
    if p["first_lost"]:
        faults["ambiguous_first_paths"] = "^/v1/findings$"
    config = {"sync": {"concurrency": p["concurrency"], "max_concurrency": p["max_concurrency"],
                       "adaptive_concurrency": True}}
    h = Harness(tmp_path, cb_faults=faults, config=config)
    listings = FailingListings(h.cb_client, seed, p["readback_fail"])
    h.cb_client.list_findings = listings  # type: ignore[method-assign]
    try:
        h.cb.emu.store.finding_rules.include_text = p["text"]
        exp = expected(h.sn.emu.ds)
        with_asmt = sorted({v for v in exp.assessments.values()})
        if p["on_assessment"] and with_asmt:  # an assessment and its vendor: the vendor's listing shows both
            vendor = with_asmt[rng.randrange(len(with_asmt))]
            asmt = sorted(a for a, v in exp.assessments.items() if v == vendor)[0]
        else:
            vendor, asmt = sorted(exp.vendors)[rng.randrange(len(exp.vendors))], ""
        inserted = []
        for i in range(p["n_issues"]):
            title = {"same": "Same title", "different": f"Title {i}"}.get(p["titles"]) or \
                rng.choice(["Same title", f"Title {i}"])
            key = f"{seed:08x}{i:024x}"
            h.sn.emu.insert(ISSUE, {"sys_id": key, "number": f"VRI9{seed:02d}{i:04d}", "short_description": title,
                                    "description": rng.choice(["", "Found in review."]), "state": "1",
                                    "priority": "3", "due_date": "", "vendor": vendor, "engagement": "",
                                    "assessment": asmt if asmt and rng.random() < p["on_assessment"] else "",
                                    "active": "true"})
            inserted.append(key)
        exp = expected(h.sn.emu.ds)
        exp_keys = set(exp.findings)
        assert set(inserted) <= exp_keys
        history, by_hand, misadopted = [], set(), set()
        for run in range(p["runs"]):
            faulty = run < p["faulty_runs"]
            if not faulty:
                h.cb.emu.set_faults({"rate_ambiguous": 0, "rate_5xx": 0, "rate_429": 0,
                                     "ambiguous_first_paths": None})
                listings.on = False
            mark = h.mark()
            try:
                h.run()
                history.append("ok")
            except Exception as exc:  # a faulty run may stop; the next one resumes from the ledger
                assert faulty, f"run {run} (fault-free) raised {exc!r}"
                history.append(type(exc).__name__)
            ledger = _check(h, settled=not faulty, exp_keys=exp_keys, inserted=inserted, by_hand=by_hand,
                            misadopted=misadopted)
            if not faulty and run == p["runs"] - 1:
                posts = [e for e in h.cb.emu.log[mark:] if e["method"] == "POST" and e["path"] == "/v1/findings"]
                assert not posts, f"the last fault-free run still created {len(posts)} findings"
            if p["person"] and run < p["runs"] - 1 and rng.random() < 0.6:  # a finding made by hand, between runs
                rows = [h.state.ledger_row(e, "servicenow", k) for e, k in (("vendor", vendor), ("assessment", asmt))]
                targets = [(kind, r.coverbase_id) for kind, r in zip(("vendor_id", "assessment_id"), rows, strict=True)
                           if r is not None and r.status == "ok" and r.coverbase_id]
                if targets:
                    kind, tid = rng.choice(targets)
                    title = rng.choice(["Same title", "Title 0", "Made by a person"])
                    with h.cb.admin() as http:
                        by_hand.add(http.post("/_emulator/findings", json={"title": title, kind: tid}).json()["id"])
        awaiting = sorted(k for k, r in ledger.items() if r.status != "ok" and k in exp_keys)
        print(f"seed {seed}: {p}; runs {history}; listings failed {listings.failed}; awaiting {len(awaiting)}; "
              f"linked to a person's finding (limit of id-only evidence): {sorted(misadopted)}")
    finally:
        h.close()


# --- the minimal reproduction of what the mix found ----------------------------------------------

def test_a_create_left_unresolved_is_not_adopted_by_the_next_create_on_its_target(tmp_path, monkeypatch):
    """Issue A's create commits but its answer is lost, and reading the vendor back fails: A waits.
    Issue B is created next on the same vendor; its POST fails before processing (502) and its
    read-back shows one unknown finding, A's. B must not adopt it: A's next run would then find
    "no new finding" and create A a second time."""
    from connector.coverbase.errors import CoverbaseAmbiguousWrite

    h = Harness(tmp_path, config={"sync": {"concurrency": 1, "adaptive_concurrency": False}})
    try:
        exp = expected(h.sn.emu.ds)
        vendor = sorted(exp.vendors)[3]
        keys = [f"{0xab:08x}{i:024x}" for i in (1, 2)]
        for i, key in enumerate(keys):
            h.sn.emu.insert(ISSUE, {"sys_id": key, "number": f"VRI880000{i}", "short_description": "Same title",
                                    "description": "", "state": "1", "priority": "3", "due_date": "",
                                    "vendor": vendor, "engagement": "", "assessment": "", "active": "true"})
        h.run(entities=["users", "vendors", "services", "documents", "boms", "assessments"])
        vid = next(v["id"] for v in h.cb_state()["vendors"] if v["external_id"] == vendor)
        real_create, real_list = h.cb_client.create_finding, h.cb_client.list_findings
        creates: list[str] = []
        fail_next_listing: list[bool] = []

        def create(payload):
            if payload.vendor_id != vid:
                return real_create(payload)
            creates.append(payload.body)
            if len(creates) == 1:  # committed, answer lost, and the read-back right after fails
                real_create(payload)
                fail_next_listing.append(True)
                raise CoverbaseAmbiguousWrite("no response (ReadTimeout)", method="POST", path="/v1/findings")
            if len(creates) == 2:  # refused before processing: nothing committed
                raise CoverbaseAmbiguousWrite("502 bad gateway; the write may have been committed", status=502,
                                              method="POST", path="/v1/findings")
            return real_create(payload)

        def listing(**kw):
            if kw.get("vendor_id") == vid and fail_next_listing:
                fail_next_listing.clear()
                raise CoverbaseServerError("503 unavailable after every retry", status=503, method="GET",
                                           path="/v1/findings")
            return real_list(**kw)

        monkeypatch.setattr(h.cb_client, "create_finding", create)
        monkeypatch.setattr(h.cb_client, "list_findings", listing)
        h.run()
        monkeypatch.undo()
        for _ in range(2):
            h.run()
            made = Counter(issue_of(f) for f in h.cb_state()["findings"] if issue_of(f))
            assert made[keys[0]] <= 1 and made[keys[1]] <= 1, (made[keys[0]], made[keys[1]])
        ledger = h.state.ledger("finding", "servicenow")
        for key in keys:
            row = ledger[key]
            assert row.status == "ok" and issue_of(next(f for f in h.cb_state()["findings"]
                                                         if f["id"] == row.coverbase_id)) == key, _row(ledger, key)
    finally:
        h.close()


def test_unresolved_creates_of_two_runs_on_one_target_are_each_resolved_to_their_own(tmp_path, monkeypatch):
    """Run 1: issue A's create on a vendor times out and nothing is there: A waits. Run 2: the vendor
    cannot be read while planning, so A stays unresolved; issue B is created there (its baseline read
    at create time), its answer is lost and its read-back fails: B waits too. Run 3 resolves both:
    B's finding is new to A's older baseline, and A must not take it for its own (B's own resolution
    would then find nothing and create B a second time)."""
    from connector.coverbase.errors import CoverbaseAmbiguousWrite

    h = Harness(tmp_path, config={"sync": {"concurrency": 1, "adaptive_concurrency": False}})
    try:
        exp = expected(h.sn.emu.ds)
        vendor = sorted(exp.vendors)[3]
        a, b = (f"{0xac:08x}{i:024x}" for i in (1, 2))
        h.sn.emu.insert(ISSUE, {"sys_id": a, "number": "VRI8800010", "short_description": "Same title",
                                "description": "", "state": "1", "priority": "3", "due_date": "",
                                "vendor": vendor, "engagement": "", "assessment": "", "active": "true"})
        h.run(entities=["users", "vendors", "services", "documents", "boms", "assessments"])
        vid = next(v["id"] for v in h.cb_state()["vendors"] if v["external_id"] == vendor)
        real_create, real_list = h.cb_client.create_finding, h.cb_client.list_findings
        phase = {"run": 1, "listings": 0}

        def create(payload):
            if payload.vendor_id != vid:
                return real_create(payload)
            if phase["run"] == 2:  # committed; then the answer is lost
                real_create(payload)
            raise CoverbaseAmbiguousWrite("no response (ReadTimeout)", method="POST", path="/v1/findings")

        def listing(**kw):
            if kw.get("vendor_id") == vid and phase["run"] == 2:
                phase["listings"] += 1
                if phase["listings"] != 2:  # the plan's read and the read-back after B's POST fail
                    raise CoverbaseServerError("503 unavailable after every retry", status=503, method="GET",
                                               path="/v1/findings")
            return real_list(**kw)

        monkeypatch.setattr(h.cb_client, "create_finding", create)
        monkeypatch.setattr(h.cb_client, "list_findings", listing)
        h.run()
        assert h.state.ledger_row("finding", "servicenow", a).status == "transient"
        h.sn.emu.insert(ISSUE, {"sys_id": b, "number": "VRI8800011", "short_description": "Same title",
                                "description": "", "state": "1", "priority": "3", "due_date": "",
                                "vendor": vendor, "engagement": "", "assessment": "", "active": "true"})
        phase["run"] = 2
        h.run()
        ledger = h.state.ledger("finding", "servicenow")
        assert ledger[a].status == "transient" and ledger[b].status == "transient", (_row(ledger, a), _row(ledger, b))
        monkeypatch.undo()
        for _ in range(2):
            h.run()
            made = Counter(issue_of(f) for f in h.cb_state()["findings"] if issue_of(f))
            assert made[a] <= 1 and made[b] <= 1, (made[a], made[b], _row(h.state.ledger("finding", "servicenow"), a),
                                                   _row(h.state.ledger("finding", "servicenow"), b))
        ledger = h.state.ledger("finding", "servicenow")
        by_id = {f["id"]: f for f in h.cb_state()["findings"]}
        for key in (a, b):
            assert ledger[key].status == "ok" and issue_of(by_id[ledger[key].coverbase_id]) == key, _row(ledger, key)
    finally:
        h.close()
