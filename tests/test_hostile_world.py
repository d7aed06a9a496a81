"""The hostile world: the small dataset plus what real instances send that it never does
(``connector/emulators/sn_hostile.py``), OAuth with a token that lives two seconds (refresh tokens
rotating), faults on both APIs and on the token endpoint, at concurrency 1 and 8, over several
seeds. Invariants, whatever the seed:

- every run ends within its bound (the run deadline never fires);
- nothing is duplicated in Coverbase, and the ledger and Coverbase agree;
- every source record has an outcome, and every outcome that is not ``ok`` has a reason;
- the odd records get the outcome they deserve, with the reason that names the cause;
- everything Coverbase would accept arrives (checked after the faults stop).
"""

from __future__ import annotations

import pytest

from connector.deadline import Deadline
from connector.emulators import sn_hostile
from connector.errors import RunTimeExceeded
from tests.conftest import Harness
from tests.sync_oracle import assert_end_state, assert_no_duplicates_and_ledger_consistent

CB_FAULTS = {"rate_5xx": 0.08, "rate_429": 0.05, "retry_after": 0.01, "rate_ambiguous": 0.05,
             "ambiguous_mode": "mixed", "latency_spike_rate": 0.02, "latency_spike_ms": 100}
SN_FAULTS = {"rate_429": 0.03, "rate_429_bare": 0.03, "retry_after": 0.01, "rate_truncated": 0.03, "rate_202": 0.03,
             "rate_500": 0.03, "rate_null": 0.02, "token_ttl": 2, "rotate_refresh_tokens": True,
             "token_rate_429": 0.2, "token_rate_5xx": 0.2, "token_latency_ms": 30}
RUN_BOUND_SECONDS = 120


def _ledger(h: Harness) -> list[dict]:
    return list(h.state.db.query("SELECT * FROM ledger"))


def assert_every_record_has_an_outcome_with_a_reason(h: Harness) -> None:
    snap = h.engine.snapshot()
    rows = _ledger(h)
    keys = {(r["entity"], r["source_key"]) for r in rows}
    for entity, records in (("vendor", snap.vendors), ("service", snap.services), ("assessment", snap.assessments)):
        missing = [k for k in records if (entity, k) not in keys]
        assert not missing, f"{entity} records without an outcome: {missing[:5]}"
    attachments = [k for k in snap.attachments if ("document", k) not in keys and ("bom", k) not in keys]
    assert not attachments, f"attachments without an outcome: {attachments[:5]}"
    silent = [(r["entity"], r["source_key"], r["status"]) for r in rows
              if r["status"] not in ("ok", "archived") and not (r["error_message"] or "").strip()]
    assert not silent, f"outcomes without a reason: {silent[:5]}"


def assert_hostile_cases(h: Harness, cases: list[sn_hostile.HostileCase]) -> None:
    rows = {(r["entity"], r["source_key"]): r for r in _ledger(h)}
    for c in cases:
        entities = ("document", "bom") if c.entity == "document" else (c.entity,)
        row = next((rows[(e, c.sys_id)] for e in entities if (e, c.sys_id) in rows), None)
        assert row is not None, f"{c.what}: no outcome"
        assert row["status"] == c.status, f"{c.what}: {row['status']} ({row['error_message']})"
        assert c.reason_has in (row["error_message"] or ""), f"{c.what}: {row['error_message']!r}"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("concurrency", [1, 8])
@pytest.mark.parametrize("seed", [5, 17, 29])
def test_the_hostile_world_ends_without_duplicates_and_every_record_has_its_outcome(tmp_path, seed, concurrency):
    config = {"sync": {"concurrency": concurrency, "servicenow_concurrency": concurrency}}
    grant = {"username": "integration.user", "password": "demo-password-not-secret"} if seed % 2 else {}
    h = Harness(tmp_path, config=config, cb_faults={"seed": seed, **CB_FAULTS}, sn_faults={"seed": seed, **SN_FAULTS},
                sn_client={"oauth": True, "max_concurrency": concurrency, **grant},
                cb_client={"max_concurrency": concurrency})
    try:
        cases = sn_hostile.apply(h.sn.emu, seed)
        for _ in range(3):
            # Every run starts with a token the instance no longer accepts (revoked, or the instance
            # restarted): the 401 path runs whatever the machine's speed, not only when 2 s pass.
            for token in list(h.sn.emu.tokens):
                h.sn.emu.tokens[token] = 0
            h.engine.set_deadline(Deadline(RUN_BOUND_SECONDS))
            try:
                h.run()
            except RunTimeExceeded:
                raise
            except Exception:  # a run may stop on a fault (e.g. a revoked token); the next resumes
                pass
        assert_no_duplicates_and_ledger_consistent(h.cb_state(), _ledger(h))
        h.cb.emu.set_faults({k: 0 for k in CB_FAULTS if k.startswith("rate") or k.endswith("rate")})
        h.sn.emu.set_faults({k: 0 for k in SN_FAULTS if k.startswith(("rate", "token_rate"))})
        h.engine.set_deadline(Deadline(RUN_BOUND_SECONDS))
        h.run()
        assert_end_state(h)
        assert_every_record_has_an_outcome_with_a_reason(h)
        assert_hostile_cases(h, cases)
        grants = [g for g in h.sn.emu.token_grants if g["status"] == 200]
        assert len(grants) >= 3  # the token really was replaced between and during the runs
    finally:
        h.close()
