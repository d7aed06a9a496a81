"""Progress lines: a steady pace on long work (done / total, rate, ETA, errors so far), nothing on
short work; and in a real run's Dagster log, lines for extraction and for each push."""

from __future__ import annotations

import random
import re
import threading

import dagster as dg
import pytest

from assets.definitions import build_definitions
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from connector.emulators import fixtures as fx
from connector.progress import Progress
from tests.conftest import VirtualTime, start_coverbase, start_servicenow


def drive(clock: VirtualTime, p: Progress, durations: list[float], *, tick: float = 0.5,
          errors_every: int = 0) -> list[float]:
    """Records finishing after ``durations`` seconds each, with a ticker firing every ``tick`` s.
    Returns the (virtual) times lines were logged."""
    times: list[float] = []
    log = p._log
    p._log = lambda line: (times.append(clock.now), log(line))
    for i, d in enumerate(durations, 1):
        end = clock.now + d
        while clock.now + tick < end:
            clock.now += tick
            p.tick()
        clock.now = end
        p.advance(1, errors=int(bool(errors_every) and i % errors_every == 0))
    p.finish()
    return times


def test_short_work_logs_nothing():
    clock, lines = VirtualTime(), []
    p = Progress("writing users", 40, log=lines.append, every=10, unit="records", clock=clock.clock, ticker=False)
    drive(clock, p, [0.2] * 40)  # 8 s in all
    assert lines == []


def test_long_work_logs_a_line_at_least_every_interval_with_done_total_rate_eta_and_errors():
    clock, lines = VirtualTime(), []
    rng = random.Random(7)
    durations = [rng.choice([0.01, 0.05, 0.2, 1.5, 4.0, 13.0]) for _ in range(120)]  # some records take 13 s
    p = Progress("writing documents", len(durations), log=lines.append, every=10, unit="records", verb="written",
                 clock=clock.clock, ticker=False)
    times = drive(clock, p, durations, errors_every=10)
    gaps = [b - a for a, b in zip([0.0, *times], times)]
    assert len(lines) > 5 and max(gaps) <= 10.0
    assert re.fullmatch(r"writing documents: \d+ / 120 records written \(\d+%\), [\d.,]+ records/s, ETA .+, "
                        r"\d+ errors? so far", lines[0])
    assert lines[-1].startswith("writing documents: written 120 records in ") and lines[-1].endswith("12 errors")


def test_a_stalled_step_still_logs_on_time_and_says_so():
    clock, lines = VirtualTime(), []
    p = Progress("writing boms", 5, log=lines.append, every=10, unit="records", clock=clock.clock, ticker=False)
    times = drive(clock, p, [60.0, 0.1])  # one write hangs for a minute (a rate-limit pause, a slow upload)
    assert len([t for t in times if t < 60]) >= 6
    assert "0 / 5 records done (0%)" in lines[0] and "ETA unknown" in lines[0]


def test_the_total_is_counted_only_for_work_longer_than_half_a_pace():
    clock, asked = VirtualTime(), []

    def total() -> int:
        asked.append(1)
        return 500

    short = Progress("reading sys_user", log=lambda _: None, every=10, unit="records", clock=clock.clock,
                     total_fn=total, ticker=False)
    drive(clock, short, [0.1] * 20)
    assert asked == []
    lines: list[str] = []
    long = Progress("reading sys_user", log=lines.append, every=10, unit="records", clock=clock.clock,
                    total_fn=total, ticker=False)
    drive(clock, long, [1.0] * 30)
    assert asked == [1] and "/ 500 records" in lines[0]


def test_a_count_that_fails_leaves_the_total_unknown():
    clock, lines = VirtualTime(), []

    def total() -> int:
        raise RuntimeError("stats API not allowed")

    p = Progress("reading core_company", log=lines.append, every=10, unit="records", clock=clock.clock,
                 total_fn=total, ticker=False)
    drive(clock, p, [2.0] * 10)
    assert "records done so far" in lines[0] and "total not known" in lines[0]


@pytest.mark.timeout(30)
def test_the_ticker_thread_logs_while_the_owner_is_blocked():
    lines: list[str] = []
    two = threading.Event()

    def log(line: str) -> None:
        lines.append(line)
        if len(lines) >= 2:
            two.set()

    with Progress("writing vendors", 10, log=log, every=0.2, unit="records"):
        assert two.wait(20), "the ticker never logged"  # the owner is blocked; the ticker speaks for it
    assert lines[0].startswith("writing vendors: 0 / 10 records done")


def test_every_0_logs_each_step_and_never_starts_a_ticker():
    lines: list[str] = []
    with Progress("reading sys_user", 3, log=lines.append, every=0, unit="records") as p:
        assert p._thread is None
        for _ in range(3):
            p.advance()
    assert len(lines) == 4 and lines[-1].startswith("reading sys_user: done 3 records in")


def test_a_step_keeps_the_pace_across_its_phases_and_tasks():
    """A push step: building the snapshot and planning (uncounted), then the writes: never more than
    10 s between two lines, each line saying what the step is doing."""
    clock, lines, times = VirtualTime(), [], []
    p = Progress("vendors", log=lambda line: (lines.append(line), times.append(clock.now)), every=10,
                 clock=clock.clock, ticker=False)

    def wait(seconds: float) -> None:
        end = clock.now + seconds
        while clock.now < end:
            clock.now = min(end, clock.now + 0.5)
            p.tick()

    p.phase("vendors: reading the staged records and the ledger")
    wait(6)
    p.phase("planning vendors")
    wait(7)
    p.begin("writing vendors", 300, verb="written")
    for _ in range(300):
        wait(0.1)
        p.advance()
    p.finish()
    gaps = [b - a for a, b in zip([0.0, *times], times)]
    assert max(gaps) <= 10.0
    assert lines[0] == "planning vendors: still working after 3 s"
    assert any(line.startswith("writing vendors: ") and "/ 300 records written" in line for line in lines)
    assert lines[-1].startswith("writing vendors: written 300 records in 30 s")


# --- in a real run -------------------------------------------------------------------------------


@pytest.mark.timeout(240)
def test_a_runs_dagster_log_has_progress_lines_for_extraction_and_each_push(tmp_path, monkeypatch):
    """CONNECTOR_PROGRESS_SECONDS=0 logs every step of the work, so a small dataset shows the lines
    a reference-size run logs every 10 s (README, Performance: measured there)."""
    monkeypatch.setenv("CONNECTOR_PROGRESS_SECONDS", "0")
    cb, sn = start_coverbase(), start_servicenow()
    try:
        resources = {
            "coverbase": CoverbaseResource(api_url=cb.url, api_key=cb.api_key),
            "servicenow": ServiceNowResource(instance_url=sn.url, username=fx.DEMO_SN_USER,
                                             password=fx.DEMO_SN_PASSWORD),
            "ledger": LedgerResource(state_db=str(tmp_path / "state.db")),
            "sync_options": SyncOptionsResource(),
        }
        instance = dg.DagsterInstance.ephemeral()
        result = build_definitions(resources).resolve_job_def("sync_all").execute_in_process(instance=instance)
        assert result.success
        by_step: dict[str, list[str]] = {}
        for record in instance.all_logs(result.run_id):
            if record.dagster_event is None and record.step_key:
                by_step.setdefault(record.step_key, []).append(record.user_message)
    finally:
        cb.server.stop()
        sn.server.stop()
    reading = {step: [m for m in msgs if m.startswith("reading ")] for step, msgs in by_step.items()}
    for step in ("sn_users", "sn_vendors", "sn_vendor_contacts", "sn_engagements", "sn_assessments", "sn_attachments"):
        assert any(re.search(r"\d+ / \d+ records read \(\d+%\), [\d.,]+ records/s, ETA", m)
                   for m in reading[step]), step
        assert any(re.search(r": read \d+ records in .+, \d+ errors?$", m) for m in reading[step]), step
    for entity in ("users", "vendors", "services", "documents", "boms", "assessments"):
        msgs = [m for m in by_step[f"coverbase_{entity}"] if m.startswith(f"writing {entity}:")]
        assert any(re.search(r"\d+ / \d+ records written \(\d+%\), [\d.,]+ records/s, ETA .+, \d+ errors? so far", m)
                   for m in msgs), entity
        assert any(re.search(r"written \d+ records in .+, \d+ errors?$", m) for m in msgs), entity
    assert any("errors so far" in m and not m.endswith(" 0 errors so far")
               for m in by_step["coverbase_users"])  # the dataset's rejected users are counted
