"""The write-back in the Dagster code location: sync_all closes the loop, the write_back job (dry run too),
and coverbase_outcomes_sensor (bounded polling, webhook nudges acted on at once)."""

import time

import dagster as dg
import pytest
import yaml

from assets.definitions import build_definitions
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from connector.emulators import fixtures as fx
from connector.state import StateDB
from connector.webhooks.events import Event, EventStore
from tests.conftest import start_coverbase, start_servicenow
from tests.write_back_support import config

ASSET = "servicenow_assessment_outcomes"


@pytest.fixture
def env(tmp_path):
    cb, sn = start_coverbase(), start_servicenow()
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(config(poll_batch=3)))
    state_db = tmp_path / "state.db"

    def resources(mapping_file=mapping, **options):
        return {
            "coverbase": CoverbaseResource(api_url=cb.url, api_key=cb.api_key),
            "servicenow": ServiceNowResource(instance_url=sn.url, username=fx.DEMO_SN_USER,
                                             password=fx.DEMO_SN_PASSWORD),
            "ledger": LedgerResource(state_db=str(state_db), config_path=str(mapping_file) if mapping_file else None),
            "sync_options": SyncOptionsResource(**options),
        }

    yield cb, sn, resources, state_db
    cb.server.stop()
    sn.server.stop()


def materialization(result, key=ASSET) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    assert len(events) == 1
    return {k: v.value for k, v in events[0].materialization.metadata.items()}


def journal(sn) -> int:
    return len(sn.emu.tables.get("sys_journal_field", {}))


def tick(defs, instance, resources):
    sensor = defs.resolve_sensor_def("coverbase_outcomes_sensor")
    with dg.build_sensor_context(instance=instance, resources=resources, sensor_name=sensor.name) as ctx:
        return sensor.evaluate_tick(ctx)


@pytest.mark.timeout(300)
def test_sync_all_closes_the_loop_and_the_sensor_drives_write_back_runs(env):
    cb, sn, resources, state_db = env
    res = resources()
    defs = build_definitions(res)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("sync_all").execute_in_process(instance=instance)
    assert result.success
    with StateDB(state_db) as st:
        created = {r["source_key"]: r["coverbase_id"] for r in st.db.query(
            "SELECT source_key, coverbase_id FROM ledger WHERE entity = 'assessment' AND status = 'ok'")}
    meta = materialization(result)
    assert meta["written"] == meta["notes_written"] == len(created) == journal(sn)

    quiet = tick(defs, instance, res)
    assert not quiet.run_requests and "0 to write back" in quiet.skip_message

    cb.emu.progress.advance(10 * 3600)  # every assessment completes (or fails)
    mark = len(cb.emu.log)
    first = tick(defs, instance, res)
    assert len(first.run_requests) == 1
    keys = first.run_requests[0].run_config["ops"][ASSET]["config"]["assessment_keys"]
    assert len(keys) == 3  # write_back.poll_batch: polling is bounded per tick
    polls = [e for e in cb.emu.log[mark:] if e["route"] == "/v1/assessments/{assessment_id}"]
    assert len(polls) == 3

    # A webhook nudge for an assessment the round-robin has not reached: acted on at the next tick.
    nudged = sorted(set(created) - set(keys))[-1]
    store = EventStore(state_db)
    store.record(Event("cbevt_" + "9" * 32, "Assessment.StatusChanged", int(time.time()), created[nudged],
                       "review_evals", "complete"), signature="0" * 64)
    store.close()
    run = defs.resolve_job_def("write_back").execute_in_process(instance=instance,
                                                                run_config=first.run_requests[0].run_config)
    assert run.success and materialization(run)["notes_written"] == 3
    second = tick(defs, instance, res)
    keys2 = second.run_requests[0].run_config["ops"][ASSET]["config"]["assessment_keys"]
    assert keys2[0] == nudged and len(keys2) == 4  # the nudge first, then the poll batch
    with StateDB(state_db) as st:
        assert st.db.execute("SELECT processed_at IS NOT NULL FROM webhook_events").fetchone()[0] == 1


@pytest.mark.timeout(300)
def test_the_write_back_job_dry_run_writes_nothing_and_a_disabled_write_back_is_a_no_op(env):
    cb, sn, resources, state_db = env
    defs = build_definitions(resources(mapping_file=None))
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("sync_all").execute_in_process(instance=instance)
    assert result.success and materialization(result) == {"enabled": False} and journal(sn) == 0
    defs = build_definitions(resources())
    dry = defs.resolve_job_def("write_back").execute_in_process(
        instance=instance, run_config={"ops": {ASSET: {"config": {"dry_run": True}}}})
    meta = materialization(dry)
    assert dry.success and meta["dry_run"] is True and meta["planned"]["note"] > 0 and meta["notes_written"] == 0
    assert journal(sn) == 0 and not [e for e in sn.emu.log if e["method"] == "PATCH"]
    real = defs.resolve_job_def("write_back").execute_in_process(instance=instance)
    assert real.success and materialization(real)["notes_written"] == meta["planned"]["note"] == journal(sn)


@pytest.mark.timeout(300)
def test_a_mapping_that_does_not_match_the_instance_fails_the_write_back_step(env, tmp_path):
    cb, sn, resources, state_db = env
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config(fields={"status": "u_coverbase_stauts"})))
    result = build_definitions(resources(mapping_file=bad)).resolve_job_def("write_back").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "u_coverbase_stauts does not exist (did you mean 'u_coverbase_status'?)" in str(
        failure.event_specific_data.error)
