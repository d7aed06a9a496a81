"""Assessments (idempotent create, required control_set_ids, free-form 400s) and workflow runs."""

import io

import httpx
import pytest

from connector.coverbase.errors import CoverbaseBadRequest, CoverbaseConflict, CoverbaseNotFound
from connector.coverbase.models import AssessmentCreate, DocumentFields, ServiceCreate, UserCreate, VendorCreate
from connector.emulators.fixtures import CONTROL_SETS


@pytest.fixture
def vendor(cb):
    v = cb.create_vendor(VendorCreate(name="Acme", external_id="v1"), idempotency_key="v1")
    return v, cb.create_service(v.id, ServiceCreate(name="Portal"))


def test_create_with_empty_control_sets_sends_the_key(coverbase, cb, vendor):
    v, _ = vendor
    a = cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[]), idempotency_key="sn:a1")
    assert a.id.startswith("cbqsrw_") and a.status == "created" and a.control_set_ids == []


def test_body_always_contains_control_set_ids():
    assert AssessmentCreate(vendor_id="v", control_set_ids=[]).body()["control_set_ids"] == []


def test_missing_control_set_ids_is_a_422_from_the_api(coverbase):
    r = httpx.post(f"{coverbase.url}/v1/assessments", json={"vendor_id": "x"},
                   headers={"Authorization": f"Bearer {coverbase.api_key}"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "control_set_ids"]


def test_full_create_links_services_assignee_and_supporting_documents(coverbase, cb, vendor):
    v, s = vendor
    u = cb.create_or_get_user(UserCreate(email="assessor@acme.example")).user
    d = cb.upload_document(DocumentFields(vendor_id=v.id), filename="soc2.pdf", source=io.BytesIO(b"%PDF"))
    cs = next(iter(CONTROL_SETS))
    a = cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[cs], service_ids=[s.id],
                                              assignee_id=u.id,
                                              name="Annual review", supporting_document_ids=[d.id]),
                             idempotency_key="sn:a2")
    assert (a.service_ids, a.assignee_id, a.name) == ([s.id], u.id, "Annual review")
    assert cb.get_document(d.id).assessment_ids == [a.id]


def test_replay_returns_the_original_201_and_creates_nothing(coverbase, cb, vendor):
    v, _ = vendor
    a = cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[], name="one"), idempotency_key="sn:x")
    b = cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[], name="two"), idempotency_key="sn:x")
    assert a.id == b.id and b.name == "one" and len(coverbase.state()["assessments"]) == 1


def test_the_replay_window_is_24_hours(coverbase, cb, vendor):
    v, _ = vendor
    a = cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[]), idempotency_key="sn:y")
    coverbase.emu.store.clock_offset += 24 * 3600 + 1
    b = cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[]), idempotency_key="sn:y")
    assert a.id != b.id  # why the ledger, not the key, must prevent a second assessment


def test_invalid_vendor_is_400_with_the_free_form_error(cb):
    with pytest.raises(CoverbaseBadRequest) as exc:
        cb.create_assessment(AssessmentCreate(vendor_id="cbvndr_" + "9" * 32, control_set_ids=[]), idempotency_key="k")
    assert "vendor_id" in exc.value.message and exc.value.code is None


def test_unknown_workflow_is_404_workflow_not_found(cb, vendor):
    v, _ = vendor
    with pytest.raises(CoverbaseNotFound) as exc:
        cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[], trigger_workflow="nope"),
                             idempotency_key="k")
    assert exc.value.code == "workflow_not_found"


def test_trigger_workflow_starts_a_run(cb, vendor):
    v, _ = vendor
    a = cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[],
                                              trigger_workflow="annual-reassessment-flow"),
                             idempotency_key="k")
    assert a.workflow_run_id.startswith("cbwr_")
    assert cb.get_assessment(a.id).workflow_run_id is None  # GET omits it


def test_delete_archives_and_is_idempotent(cb, vendor):
    v, _ = vendor
    a = cb.create_assessment(AssessmentCreate(vendor_id=v.id, control_set_ids=[]), idempotency_key="k")
    first, second = cb.archive_assessment(a.id), cb.archive_assessment(a.id)
    assert first.is_archived and second.archived_at == first.archived_at and first.status == "canceled"
    assert cb.get_assessment(a.id).id == a.id


def test_workflow_run_replays_with_the_same_key(cb):
    a = cb.run_workflow("onboard-vendor", {"x": 1}, idempotency_key="ariba-req-1")
    b = cb.run_workflow("onboard-vendor", {"x": 2}, idempotency_key="ariba-req-1")
    assert a.workflow_run_id == b.workflow_run_id and b.input == {"x": 1} and a.status == "started"


def test_disabled_workflow_is_409(cb):
    with pytest.raises(CoverbaseConflict) as exc:
        cb.run_workflow("legacy-intake")
    assert exc.value.code == "workflow_disabled"


def test_workflow_existence_is_probed_with_a_read(cb):
    assert cb.workflow_exists("onboard-vendor") and not cb.workflow_exists("nope")
