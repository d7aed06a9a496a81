"""Vendors (idempotent create, no upsert, PATCH semantics) and services (not idempotent)."""

import pytest

from connector.coverbase.errors import (
    CoverbaseAmbiguousWrite,
    CoverbaseBadRequest,
    CoverbaseNotFound,
    CoverbaseValidationError,
)
from connector.coverbase.models import (
    PrimaryContact,
    ServiceCreate,
    ServiceUpdate,
    UserCreate,
    VendorCreate,
    VendorUpdate,
)
from connector.emulators.fixtures import STATUSES, TAGS


def make_vendor(cb, key="k1", **kw):
    return cb.create_vendor(VendorCreate(name=kw.pop("name", "Acme"), external_id=kw.pop("external_id", "sn1"), **kw),
                            idempotency_key=key)


def test_create_vendor_returns_the_full_object(cb):
    v = make_vendor(cb, website="https://acme.example",
                    primary_contact=PrimaryContact(email="c@acme.example", name="C"))
    assert v.id.startswith("cbvndr_") and v.external_id == "sn1" and v.services == [] and v.tier is None
    assert v.primary_contact.email == "c@acme.example"


def test_replaying_the_idempotency_key_returns_the_same_vendor(coverbase, cb):
    a = make_vendor(cb, key="same")
    b = make_vendor(cb, key="same", name="Changed name")
    assert a.id == b.id and b.name == "Acme"  # original body replayed verbatim
    assert len(coverbase.state()["vendors"]) == 1


def test_a_new_key_with_the_same_external_id_creates_a_second_vendor(coverbase, cb):
    make_vendor(cb, key="a")
    make_vendor(cb, key="b")
    assert len(cb.find_vendors_by_external_id("sn1")) == 2  # no upsert: the connector must look up first


def test_vendor_creation_requires_a_key(cb):
    with pytest.raises(ValueError):
        cb.create_vendor(VendorCreate(name="x"), idempotency_key="")


def test_list_filters_by_exact_external_id(cb):
    make_vendor(cb, key="a", external_id="abc")
    make_vendor(cb, key="b", external_id="abcd")
    assert [v.external_id for v in cb.iter_vendors(external_id="abc")] == ["abc"]


def test_list_pages_with_the_items_envelope(cb):
    for i in range(12):
        make_vendor(cb, key=f"k{i}", external_id=f"e{i}", name=f"V{i}")
    got = list(cb.iter_vendors(page_size=5))
    assert len(got) == 12 and len({v.id for v in got}) == 12
    assert got[0].name == "V11"  # newest first


def test_name_filter_matches_service_names_too(cb):
    v = make_vendor(cb)
    cb.create_service(v.id, ServiceCreate(name="Payroll Cloud"))
    assert [x.id for x in cb.iter_vendors(name="payroll")] == [v.id]


def test_patch_null_means_omit_and_arrays_replace(cb):
    owner = cb.create_or_get_user(UserCreate(email="o@acme.example")).user
    v = make_vendor(cb, description="keep me", relationship_owner_ids=[owner.id])
    out = cb.update_vendor(v.id, VendorUpdate(website="https://new.example", relationship_owner_ids=[]))
    assert out.description == "keep me" and out.website == "https://new.example" and out.relationship_owner_ids == []


def test_patch_status_and_tags_resolves_labels(cb):
    v = make_vendor(cb)
    status_id, tag_id = next(iter(STATUSES)), next(iter(TAGS))
    out = cb.update_vendor(v.id, VendorUpdate(status_id=status_id, tag_ids=[tag_id]))
    assert out.status == STATUSES[status_id] and out.tags == [TAGS[tag_id]]


def test_patch_with_an_unknown_status_is_400_invalid_update(cb):
    v = make_vendor(cb)
    with pytest.raises(CoverbaseBadRequest) as exc:
        cb.update_vendor(v.id, VendorUpdate(status_id="cbst_nope"))
    assert exc.value.code == "invalid_update"


def test_bad_contact_email_is_422(cb):
    with pytest.raises(CoverbaseValidationError) as exc:
        make_vendor(cb, primary_contact=PrimaryContact(email="broken"))
    assert exc.value.field_errors[0].loc[-1] == "email"


def test_unknown_vendor_is_404_vendor_not_found(cb):
    with pytest.raises(CoverbaseNotFound) as exc:
        cb.get_vendor("cbvndr_" + "0" * 32)
    assert exc.value.code == "vendor_not_found"


def test_service_create_and_patch(cb):
    v = make_vendor(cb)
    s = cb.create_service(v.id, ServiceCreate(name="Hosting", external_id="eng1"))
    out = cb.update_service(v.id, s.id, ServiceUpdate(description="now described"))
    assert out.description == "now described" and out.external_id == "eng1"
    assert [x.external_id for x in cb.get_vendor(v.id).services] == ["eng1"]


def test_service_of_another_vendor_is_404_service_not_found(cb):
    v1, v2 = make_vendor(cb, key="1"), make_vendor(cb, key="2", external_id="sn2")
    s = cb.create_service(v1.id, ServiceCreate(name="Hosting"))
    with pytest.raises(CoverbaseNotFound) as exc:
        cb.update_service(v2.id, s.id, ServiceUpdate(name="x"))
    assert exc.value.code == "service_not_found"


def test_service_create_ignores_idempotency_and_a_lost_response_is_ambiguous(coverbase, cb):
    v = make_vendor(cb)
    coverbase.emu.set_faults({"rate_ambiguous": 1.0, "ambiguous_mode": "disconnect"})
    with pytest.raises(CoverbaseAmbiguousWrite):
        cb.create_service(v.id, ServiceCreate(name="Hosting", external_id="eng1"))
    coverbase.emu.set_faults({"rate_ambiguous": 0.0})
    # The write was committed exactly once and the client did not retry it blindly.
    assert [s.external_id for s in cb.get_vendor(v.id).services] == ["eng1"]
    posts = [r for r in coverbase.requests() if r["method"] == "POST" and r["path"].endswith("/services")]
    assert len(posts) == 1


def test_a_5xx_on_service_create_is_ambiguous_not_retried(coverbase, cb):
    v = make_vendor(cb)
    coverbase.emu.set_faults({"rate_ambiguous": 1.0, "ambiguous_mode": "status"})
    with pytest.raises(CoverbaseAmbiguousWrite) as exc:
        cb.create_service(v.id, ServiceCreate(name="Hosting"))
    assert exc.value.status == 504
