"""The Dagster code location, run in process against both emulators."""

import dagster as dg
import pytest

from assets.definitions import build_definitions
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from connector.emulators import fixtures as fx
from tests.conftest import start_coverbase, start_servicenow
from tests.sync_oracle import expected


@pytest.fixture
def env(tmp_path):
    cb, sn = start_coverbase(), start_servicenow()

    def resources(**options):
        return {
            "coverbase": CoverbaseResource(api_url=cb.url, api_key=cb.api_key),
            "servicenow": ServiceNowResource(instance_url=sn.url, username=fx.DEMO_SN_USER,
                                             password=fx.DEMO_SN_PASSWORD),
            "ledger": LedgerResource(state_db=str(tmp_path / "state.db")),
            "sync_options": SyncOptionsResource(**options),
        }

    yield cb, sn, resources
    cb.server.stop()
    sn.server.stop()


def materializations(result) -> dict[str, dict]:
    out = {}
    for e in result.get_asset_materialization_events():
        key = e.asset_key.to_user_string()
        out[key] = {k: v.value for k, v in e.materialization.metadata.items()}
    return out


def test_sync_all_materializes_every_asset_with_outcome_counts(env):
    cb, sn, resources = env
    exp = expected(sn.emu.ds)
    result = build_definitions(resources()).resolve_job_def("sync_all").execute_in_process(
        instance=dg.DagsterInstance.ephemeral())
    assert result.success
    meta = materializations(result)
    assert set(meta) >= {"preflight_checks", "sn_users", "sn_vendors", "sn_vendor_contacts", "sn_engagements",
                         "sn_assessments", "sn_attachments", "coverbase_users", "coverbase_vendors",
                         "coverbase_services", "coverbase_documents", "coverbase_boms", "coverbase_assessments",
                         "sn_issues", "coverbase_findings"}
    v = meta["coverbase_vendors"]
    assert v["created"] == len(exp.vendors) and v["invalid"] == 2 and v["rejected"] == 0
    assert v["api_calls"] >= len(exp.vendors)
    assert meta["coverbase_services"]["created"] == len(exp.services)
    assert meta["coverbase_documents"]["created"] == len(exp.documents)
    assert meta["coverbase_boms"]["created"] == len(exp.boms)
    assert meta["coverbase_assessments"]["created"] == len(exp.assessments)
    assert meta["coverbase_findings"]["created"] == len(exp.findings)
    assert meta["coverbase_users"]["rejected"] == 2 and "user_exists" in meta["coverbase_users"]["rejected_records"]
    assert meta["sn_vendors"]["records_read"] > 0 and meta["sn_vendors"]["mode"] == "incremental"
    checks = {(c.asset_key.to_user_string(), c.check_name): c.passed for c in result.get_asset_check_evaluations()}
    assert checks[("coverbase_vendors", "no_duplicate_external_ids")]
    assert checks[("coverbase_vendors", "drift_against_ledger")]
    assert all(checks[(f"coverbase_{e}", "rejected_share")] for e in
               ("users", "vendors", "services", "documents", "boms", "assessments", "findings"))


def test_dry_run_on_sync_all_writes_nothing(env):
    cb, sn, resources = env
    result = build_definitions(resources(dry_run=True)).resolve_job_def("sync_all").execute_in_process(
        instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert not [e for e in cb.emu.log if e["method"] != "GET"]
    assert materializations(result)["coverbase_vendors"]["dry_run"] is True


def test_a_three_day_backfill_runs_once_and_resends_that_range(env):
    cb, sn, resources = env
    defs = build_definitions(resources())
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("sync_all").execute_in_process(instance=instance).success
    mark = len(cb.emu.log)
    result = defs.resolve_job_def("sync_all").execute_in_process(instance=instance, tags={
        "dagster/asset_partition_range_start": "2026-10-03", "dagster/asset_partition_range_end": "2026-10-05"})
    assert result.success
    events = result.get_asset_materialization_events()
    partitions = sorted({e.partition for e in events if e.asset_key.to_user_string() == "sn_vendors"})
    assert partitions == ["2026-10-03", "2026-10-04", "2026-10-05"]
    meta = materializations(result)
    assert meta["sn_vendors"]["mode"] == "backfill 2026-10-03 00:00:00 .. 2026-10-06 00:00:00"
    in_range = [r for r in sn.emu.tables["core_company"].values() if r["vendor"] == "true" and r["name"].strip()
                and "2026-10-03" <= r["sys_updated_on"][:10] <= "2026-10-05"]
    assert in_range and meta["coverbase_vendors"]["updated"] == len(in_range)
    patched = [e for e in cb.emu.log[mark:] if e["method"] == "PATCH" and e["route"] == "/v1/vendors/{vendor_id}"]
    assert len(patched) == len(in_range)


def test_migrate_is_a_dry_run_by_default_and_writes_nothing(env):
    cb, sn, resources = env
    result = build_definitions(resources()).resolve_job_def("migrate").execute_in_process(
        instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert not [e for e in cb.emu.log if e["method"] != "GET"]
    report = result.output_for_node("migrate_op")
    assert report["mode"] == "migrate_dry_run"
    assert report["entities"]["vendors"]["planned"]["create"] == len(expected(sn.emu.ds).vendors)


def test_migrate_applies_the_selected_entities_when_asked(env):
    cb, sn, resources = env
    result = build_definitions(resources()).resolve_job_def("migrate").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"migrate_op": {"config": {"dry_run": False, "entities": ["users", "vendors"]}}}})
    assert result.success
    st = cb.state()
    assert len(st["vendors"]) == len(expected(sn.emu.ds).vendors) and st["documents"] == []


def test_bad_coverbase_key_fails_fast_with_a_clear_message(env):
    cb, sn, resources = env
    r = resources()
    r["coverbase"] = CoverbaseResource(api_url=cb.url, api_key="ak_revoked")
    result = build_definitions(r).resolve_job_def("sync_all").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "preflight_checks"
    text = str(failure.event_specific_data.error)
    assert "COVERBASE_API_KEY" in text and "ak_revoked" not in text
    assert not [e for e in result.all_events if e.event_type_value == "STEP_START" and e.step_key != "preflight_checks"]


def test_a_misspelt_field_in_the_mapping_file_fails_the_preflight(env, tmp_path):
    cb, sn, resources = env
    cfg = tmp_path / "mapping.yaml"
    cfg.write_text("source:\n  tables:\n    users:\n      table: sys_user\n"
                   "      fields: [sys_id, emial, sys_updated_on]\n")
    r = resources()
    r["ledger"] = LedgerResource(state_db=str(tmp_path / "s.db"), config_path=str(cfg))
    result = build_definitions(r).resolve_job_def("sync_all").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "sys_user.emial does not exist (did you mean 'email'?)" in str(failure.event_specific_data.error)
