"""Chaos: every fault both emulators can inject at once; the sync converges within 3 runs."""

import pytest

from tests.conftest import Harness
from tests.sync_oracle import assert_end_state, assert_no_duplicates_and_ledger_consistent

CB_FAULTS = {"rate_5xx": 0.10, "rate_429": 0.05, "retry_after": 0.01, "rate_ambiguous": 0.05,
             "ambiguous_mode": "mixed", "latency_spike_rate": 0.02, "latency_spike_ms": 150,
             # findings ignore Idempotency-Key: the first POST of every finding is committed, then its answer lost
             "ambiguous_first_paths": "^/v1/findings$"}
SN_FAULTS = {"rate_429": 0.04, "rate_429_bare": 0.04, "retry_after": 0.01, "rate_truncated": 0.04, "rate_202": 0.04,
             "rate_500": 0.04, "rate_null": 0.02}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [11, 23, 37])
def test_converges_within_three_runs_without_duplicates(tmp_path, seed):
    h = Harness(tmp_path, cb_faults={"seed": seed, **CB_FAULTS}, sn_faults={"seed": seed, **SN_FAULTS})
    h.cb.emu.store.finding_rules.include_text = seed == 23  # one Coverbase that returns title and body
    try:
        for _ in range(3):
            try:
                h.run()
            except Exception:  # a run may stop on a fault; the next one resumes from the ledger
                pass
        cb = h.cb_state()
        assert_no_duplicates_and_ledger_consistent(cb, list(h.state.db.query("SELECT * FROM ledger")))
        h.cb.emu.set_faults({k: 0 for k in CB_FAULTS if k.startswith("rate") or k.endswith("rate")})
        h.sn.emu.set_faults({k: 0 for k in SN_FAULTS if k.startswith("rate")})
        assert_end_state(h)  # converged within the three faulty runs: nothing left to do
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []
    finally:
        h.close()
