"""The findings contract (coverbase-api.md §2.6, §1.5, §1.7, §1.8): client against the emulator over HTTP."""

import httpx
import pytest

from connector.coverbase.errors import (
    CoverbaseAmbiguousWrite,
    CoverbaseBadRequest,
    CoverbaseNotFound,
    CoverbaseValidationError,
)
from connector.coverbase.models import AssessmentCreate, Finding, FindingCreate, FindingUpdate, VendorCreate
from connector.emulators.coverbase_findings import EXACTLY_ONE
from connector.emulators.fixtures import FINDING_STATUSES

OPEN, CLOSED = sorted(FINDING_STATUSES)[0], sorted(FINDING_STATUSES)[-1]


@pytest.fixture
def vendor(cb):
    return cb.create_vendor(VendorCreate(name="Acme", external_id="sn-acme"), idempotency_key="v-acme")


def raw(coverbase, method: str, path: str, *, headers: dict | None = None, **kw) -> httpx.Response:
    with coverbase.admin() as http:
        return http.request(method, path, headers={"Authorization": f"Bearer {coverbase.api_key}", **(headers or {})},
                            **kw)


def test_a_finding_is_created_on_a_vendor_with_status_and_due_date(cb, vendor):
    f = cb.create_finding(FindingCreate(title="SOC 2 missing", body="text", vendor_id=vendor.id,
                                        finding_status_id=OPEN, due_date=1_790_000_000))
    assert f.id.startswith("cbtask_") and f.public_idx == "F-1"
    assert (f.vendor_id, f.assessment_id, f.finding_status_id, f.due_date) == (vendor.id, None, OPEN, 1_790_000_000)
    assert f.is_archived is False and f.created_at


def test_the_documented_object_has_no_title_or_body_unless_switched_on(coverbase, cb, vendor):
    f = cb.create_finding(FindingCreate(title="T", body="B", vendor_id=vendor.id))
    assert f.title is None and f.body is None and "title" not in raw(coverbase, "GET", f"/v1/findings/{f.id}").json()
    coverbase.emu.store.finding_rules.include_text = True
    got = cb.get_finding(f.id)
    assert (got.title, got.body) == ("T", "B")


def test_a_finding_on_an_assessment_is_listed_by_assessment(cb, vendor):
    a = cb.create_assessment(AssessmentCreate(vendor_id=vendor.id, control_set_ids=[]), idempotency_key="a1")
    f = cb.create_finding(FindingCreate(title="Pen-test", assessment_id=a.id))
    cb.create_finding(FindingCreate(title="Other", vendor_id=vendor.id))
    assert [x.id for x in cb.iter_findings(assessment_id=a.id)] == [f.id]
    assert f.id in {x.id for x in cb.iter_findings(vendor_id=vendor.id)}  # [INF] carries its vendor too


@pytest.mark.parametrize("body", [{"title": "x"}, {"title": "x", "vendor_id": "a", "assessment_id": "b"}],
                         ids=["no target", "both targets"])
def test_exactly_one_target_is_a_standard_422_validation_item(coverbase, body):
    resp = raw(coverbase, "POST", "/v1/findings", json=body)
    assert resp.status_code == 422
    assert resp.json() == {"detail": [{"loc": ["body"], "msg": EXACTLY_ONE, "type": "value_error"}]}


def test_a_missing_title_is_a_field_required_422(coverbase):
    resp = raw(coverbase, "POST", "/v1/findings", json={"vendor_id": "cbvndr_x"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "title"]


def test_the_client_refuses_a_finding_without_exactly_one_target():
    with pytest.raises(ValueError):
        FindingCreate(title="x")
    with pytest.raises(ValueError):
        FindingCreate(title="x", vendor_id="a", assessment_id="b")


@pytest.mark.parametrize("field,value", [("vendor_id", "cbvndr_" + "0" * 32), ("finding_status_id", "cbst_nope")])
def test_a_bad_reference_is_400_invalid_finding(cb, vendor, field, value):
    body = {"title": "x", "vendor_id": vendor.id, field: value}
    with pytest.raises(CoverbaseBadRequest) as exc:
        cb.create_finding(FindingCreate(**body))
    assert exc.value.code == "invalid_finding" and exc.value.status == 400


def test_another_orgs_vendor_is_400_and_its_findings_are_404(coverbase, cb, vendor):
    f = cb.create_finding(FindingCreate(title="x", vendor_id=vendor.id))
    foreign = {"Authorization": "Bearer ak_test_foreign_org"}
    with coverbase.admin() as http:
        assert http.get(f"/v1/findings/{f.id}", headers=foreign).json()["detail"]["code"] == "finding_not_found"
        assert http.post("/v1/findings", headers=foreign,
                         json={"title": "x", "vendor_id": vendor.id}).status_code == 400
        assert http.get("/v1/findings", headers=foreign, params={"vendor_id": vendor.id}).json()["total"] == 0


def test_patch_changes_status_and_due_date_and_null_means_no_change(cb, vendor):
    f = cb.create_finding(FindingCreate(title="x", vendor_id=vendor.id, finding_status_id=OPEN, due_date=100))
    got = cb.update_finding(f.id, FindingUpdate(finding_status_id=CLOSED))
    assert (got.finding_status_id, got.due_date) == (CLOSED, 100)
    assert cb.update_finding(f.id, FindingUpdate(due_date=200)).finding_status_id == CLOSED


def test_patch_with_an_unknown_status_is_400_invalid_update(cb, vendor):
    f = cb.create_finding(FindingCreate(title="x", vendor_id=vendor.id))
    with pytest.raises(CoverbaseBadRequest) as exc:
        cb.update_finding(f.id, FindingUpdate(finding_status_id="cbst_unknown"))
    assert exc.value.code == "invalid_update"


def test_title_and_body_cannot_be_changed_by_patch(coverbase, cb, vendor):
    coverbase.emu.store.finding_rules.include_text = True
    f = cb.create_finding(FindingCreate(title="before", vendor_id=vendor.id))
    assert raw(coverbase, "PATCH", f"/v1/findings/{f.id}", json={"title": "after"}).status_code == 200
    assert cb.get_finding(f.id).title == "before"  # silently ignored, as FastAPI ignores unknown fields


def test_unknown_finding_is_404_finding_not_found(cb):
    with pytest.raises(CoverbaseNotFound) as exc:
        cb.get_finding("cbtask_" + "0" * 32)
    assert exc.value.code == "finding_not_found"
    with pytest.raises(CoverbaseNotFound):
        cb.update_finding("cbtask_" + "0" * 32, FindingUpdate(due_date=1))


def test_archive_and_restore(cb, vendor):
    f = cb.create_finding(FindingCreate(title="x", vendor_id=vendor.id))
    assert cb.archive_finding(f.id).is_archived is True
    assert cb.get_finding(f.id).is_archived and [x.id for x in cb.iter_findings(vendor_id=vendor.id)] == [f.id]
    assert cb.restore_finding(f.id).is_archived is False


def test_archiving_an_assessment_archives_its_findings(cb, vendor):
    a = cb.create_assessment(AssessmentCreate(vendor_id=vendor.id, control_set_ids=[]), idempotency_key="a2")
    f = cb.create_finding(FindingCreate(title="x", assessment_id=a.id))
    cb.archive_assessment(a.id)
    assert cb.get_finding(f.id).is_archived


def test_list_pages_with_the_items_envelope_and_a_bounded_limit(coverbase, cb, vendor):
    for i in range(7):
        cb.create_finding(FindingCreate(title=f"F{i}", vendor_id=vendor.id))
    assert len(list(cb.iter_findings(vendor_id=vendor.id, page_size=3))) == 7
    body = raw(coverbase, "GET", "/v1/findings", params={"vendor_id": vendor.id, "limit": 3}).json()
    assert set(body) == {"items", "total", "limit", "offset"} and body["total"] == 7 and len(body["items"]) == 3
    assert raw(coverbase, "GET", "/v1/findings", params={"limit": 201}).status_code == 422


def test_an_idempotency_key_is_ignored_a_second_post_is_a_second_finding(coverbase, cb, vendor):
    for _ in range(2):
        assert raw(coverbase, "POST", "/v1/findings", json={"title": "x", "vendor_id": vendor.id},
                   headers={"Idempotency-Key": "same"}).status_code == 201
    assert len(cb.list_findings(vendor_id=vendor.id)) == 2


@pytest.mark.parametrize("mode", ["status", "disconnect"])
def test_a_lost_answer_is_an_ambiguous_write_and_is_never_resent(coverbase, cb, vendor, mode):
    coverbase.emu.set_faults({"ambiguous_first_paths": "^/v1/findings$", "ambiguous_mode": mode})
    mark = len(coverbase.emu.log)
    with pytest.raises(CoverbaseAmbiguousWrite):
        cb.create_finding(FindingCreate(title="x", vendor_id=vendor.id))
    posts = [e for e in coverbase.emu.log[mark:] if e["method"] == "POST"]
    assert len(posts) == 1  # not retried by the client
    assert len(cb.list_findings(vendor_id=vendor.id)) == 1  # but committed


def test_a_5xx_on_create_is_ambiguous_and_not_retried(coverbase, cb, vendor):
    coverbase.emu.set_faults({"rate_5xx": 1.0, "path_filter": "^/v1/findings$"})
    with pytest.raises(CoverbaseAmbiguousWrite):
        cb.create_finding(FindingCreate(title="x", vendor_id=vendor.id))
    assert sum(e["method"] == "POST" and e["path"] == "/v1/findings" for e in coverbase.emu.log) == 1


def test_a_429_on_create_is_retried_because_nothing_was_processed(coverbase, cb, vendor):
    coverbase.emu.set_faults({"rate_429": 0.5, "retry_after": 0.001, "seed": 4, "path_filter": "^/v1/findings"})
    for i in range(6):
        cb.create_finding(FindingCreate(title=f"x{i}", vendor_id=vendor.id))
    assert any(e["status"] == 429 for e in coverbase.emu.log)
    assert len(cb.list_findings(vendor_id=vendor.id)) == 6


def test_a_finding_made_by_hand_is_an_ordinary_finding(coverbase, cb, vendor):
    with coverbase.admin() as http:
        made = http.post("/_emulator/findings", json={"title": "by a person", "vendor_id": vendor.id}).json()
    assert [f.id for f in cb.iter_findings(vendor_id=vendor.id)] == [made["id"]]


def test_a_wrongly_typed_field_is_a_422_the_client_reports_with_its_location(cb, vendor):
    with pytest.raises(CoverbaseValidationError) as exc:
        cb._call(Finding, "POST", "/v1/findings", json={"title": "x", "vendor_id": vendor.id, "due_date": "soon"},
                 retry_safe=False)
    assert exc.value.field_errors[0].loc == ("body", "due_date")
