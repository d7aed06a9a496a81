"""Shared pieces of the write-back tests: config, a harness over both emulators, the journal oracle.

The oracle reads the ServiceNow emulator's journal (``sys_journal_field``) and the Coverbase
emulator's assessments directly, written independently of the engine: a note is parsed back from
its text, so a wrong note, a missing one or a duplicate all show.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from connector.writeback.engine import WriteBack
from connector.writeback.outcome import score_text
from connector.writeback.report import WriteBackReport
from tests.conftest import SN_FAST_RETRY, Harness

ASMT = "sn_vdr_risk_asmt_assessment"
FIELDS = {"status": "u_coverbase_status", "score": "u_coverbase_score", "findings_count": "u_coverbase_findings"}
CONFIG: dict[str, Any] = {"write_back": {"enabled": True, "settle_seconds": 0, "fields": dict(FIELDS),
                                         "state_map": {"state": {"complete": "finalizing"}}}}
MARKER = re.compile(r"\[(cbwb-[0-9a-f]{16})\]")


def config(**write_back: Any) -> dict[str, Any]:
    out = copy.deepcopy(CONFIG)
    out["write_back"].update(write_back)
    return out


def label(status: str | None) -> str:
    return (status or "unknown").replace("_", " ").capitalize()


class WriteBackHarness(Harness):
    """Harness + a write-back engine on the same state DB; ``write_client`` may use other credentials."""

    def __init__(self, tmp_path, *, config_: dict | None = None, write_user: tuple[str, str] | None = None,
                 **kw: Any) -> None:
        super().__init__(tmp_path, config=config() if config_ is None else config_, **kw)
        creds = {"username": write_user[0], "password": write_user[1]} if write_user else {}
        self.write_client = self.sn.client(**creds) if write_user else self.sn_client

    def write_back(self, **kw: Any) -> WriteBackReport:
        engine = WriteBack(state=self.state, coverbase=self.cb_client, servicenow=self.write_client, config=self.cfg,
                           sleep=lambda s: None)
        return engine.run(**kw)

    def converge(self, max_runs: int = 8) -> list[WriteBackReport]:
        """Run until nothing is left in doubt or to retry (bounded)."""
        reports = []
        for _ in range(max_runs):
            rep = self.write_back()
            reports.append(rep)
            open_rows = self.state.db.execute(
                "SELECT COUNT(*) FROM ledger WHERE entity = 'assessment_outcome' AND status IN ('pending', 'transient')"
            ).fetchone()[0]
            if not open_rows and not rep.outcomes.get("transient") and not rep.outcomes.get("deferred"):
                return reports
        raise AssertionError(f"write-back did not converge in {max_runs} runs: "
                             f"{[r.counts() for r in reports]}")

    def advance(self, seconds: float) -> None:
        self.cb.emu.progress.advance(seconds)

    # --- the oracle -------------------------------------------------------------------------

    def ours(self) -> dict[str, str]:
        """ServiceNow sys_id -> Coverbase assessment id, for the assessments the sync created."""
        return {r["source_key"]: r["coverbase_id"] for r in self.state.db.query(
            "SELECT source_key, coverbase_id FROM ledger WHERE entity = 'assessment' AND coverbase_id IS NOT NULL")}

    def outcome(self, coverbase_id: str) -> tuple[str, str, int]:
        a = self.cb.emu.store.assessments[coverbase_id]
        return label(a["status"]), score_text(a["score_percent"]), int(a["findings_count"])

    def notes(self, sys_id: str) -> list[str]:
        return [r["value"] for r in self.sn.emu.writes.journal(sys_id, "work_notes")]

    def noted(self, sys_id: str) -> list[tuple[str, str, int]]:
        """The outcomes the notes of one record report, oldest first."""
        out = []
        for text in self.notes(sys_id):
            status = re.search(r"status: (.+?)(?: \(was .*\))?$", text, re.M).group(1)
            score = re.search(r"^Score: (.+)$", text, re.M).group(1)
            findings = int(re.search(r"^Findings: (\d+)$", text, re.M).group(1))
            out.append((status, "" if score == "not scored yet" else score.rstrip("%"), findings))
        return out

    def record(self, sys_id: str) -> dict[str, str]:
        return self.sn.emu.tables[ASMT][sys_id]

    def sn_writes_since(self, mark: int) -> list[dict]:
        return [e for e in self.sn.emu.log[mark:] if e["method"] in ("PATCH", "PUT")]


def assert_one_note_per_change(h: WriteBackHarness, expected: dict[str, list[tuple[str, str, int]]]) -> None:
    """Every record's notes report exactly the outcomes expected, in order: none missing, none twice."""
    for sys_id, outcomes in expected.items():
        notes = h.notes(sys_id)
        markers = [m.group(1) for n in notes for m in [MARKER.search(n)] if m]
        assert len(markers) == len(notes) == len(set(markers)), f"{sys_id}: duplicate or unmarked notes {markers}"
        assert h.noted(sys_id) == outcomes, f"{sys_id}: notes {h.noted(sys_id)} != changes {outcomes}"
        assert not [r for r in h.sn.emu.tables.get("sys_journal_field", {}).values()
                    if r["element_id"] == sys_id and r["element"] == "comments"], "comments must never be written"


def record_changes(h: WriteBackHarness, expected: dict[str, list[tuple[str, str, int]]]) -> None:
    """Append each assessment's current outcome when it differs from the last one expected."""
    h.cb.emu.progress.tick()
    for sys_id, cid in h.ours().items():
        now = h.outcome(cid)
        seen = expected.setdefault(sys_id, [])
        if not seen or seen[-1] != now:
            seen.append(now)


__all__ = ["WriteBackHarness", "SN_FAST_RETRY", "assert_one_note_per_change", "record_changes", "config"]
