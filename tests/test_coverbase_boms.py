"""Bills of materials: the presigned upload flow, parsing, history, archive, entitlement gate."""

import json

import pytest

from connector.coverbase.errors import CoverbaseAmbiguousWrite, CoverbaseNotFound
from connector.coverbase.models import BomCreate, ServiceCreate, VendorCreate

CDX = {"bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
       "version": 1, "metadata": {"component": {"type": "application", "name": "acme-portal"}},
       "components": [{"type": "library", "name": "requests", "version": "2.32.3", "purl": "pkg:pypi/requests@2.32.3"},
                      {"type": "library", "name": "urllib3", "version": "2.2.2", "purl": "pkg:pypi/urllib3@2.2.2"}]}


@pytest.fixture
def vendor(cb):
    v = cb.create_vendor(VendorCreate(name="Acme", external_id="v1"), idempotency_key="v1")
    return v, cb.create_service(v.id, ServiceCreate(name="Portal"))


def upload(cb, v, body: bytes, name="sbom.json", service_ids=None):
    target = cb.get_upload_target(name)
    cb.put_to_upload_target(target, lambda: iter([body]), size=len(body))
    return cb.create_bom(BomCreate(vendor_id=v.id, s3_url=target.s3_url, size=len(body), name=name,
                                   extension="json", service_ids=service_ids))


def test_create_answers_pending_then_reads_see_parsing_then_the_parse_with_components(cb, vendor):
    v, s = vendor
    bom = upload(cb, v, json.dumps(CDX).encode(), service_ids=[s.id])
    assert bom.parse_status == "pending" and bom.format == "unknown" and bom.components is None
    first = cb.latest_bom(vendor_id=v.id)  # parsing is asynchronous: the first read sees it under way
    assert first.id == bom.id and first.parse_status == "parsing" and first.component_count == 0
    latest = cb.latest_bom(vendor_id=v.id)
    assert latest.id == bom.id and latest.parse_status == "parsed" and latest.format == "cyclonedx"
    assert latest.component_count == 2 and latest.spec_version == "1.5" and len(latest.components) == 2
    assert cb.latest_bom(service_id=s.id).id == bom.id


def test_the_number_of_reads_before_the_verdict_is_set_through_the_admin_route(coverbase, cb, vendor):
    v, _ = vendor
    with coverbase.admin() as admin:
        admin.post("/_emulator/bom_parse", json={"reads": 3}).raise_for_status()
    bom = upload(cb, v, json.dumps(CDX).encode())
    assert [cb.get_bom(bom.id).parse_status for _ in range(4)] == ["parsing", "parsing", "parsing", "parsed"]
    coverbase.emu.store.bom_parse_reads = 0
    assert cb.get_bom(upload(cb, v, json.dumps(CDX).encode()).id).parse_status == "parsed"


def test_inspecting_the_emulator_state_does_not_advance_a_parse(coverbase, cb, vendor):
    v, _ = vendor
    bom = upload(cb, v, json.dumps(CDX).encode())
    for _ in range(3):
        assert coverbase.state()["boms"][0]["parse_status"] == "pending"
    assert cb.get_bom(bom.id).parse_status == "parsing"


VERDICTS = [
    ("CycloneDX XML", b'<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1"/>',
     "unsupported", None),
    ("SPDX tag-value", b"SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\n", "unsupported", None),
    ("JSON that is not a BOM", b'{"feature_flags": {}}', "unsupported", None),
    ("JSON that does not parse", b'{"bomFormat": "CycloneDX", "specVer', "failed", "invalid JSON"),
    ("a component without a name", json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5",
                                              "components": [{"type": "library"}]}).encode(), "failed",
     "without a name"),
    ("fractional-second timestamps and a dashless serial", json.dumps({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": "urn:uuid:" + "ab" * 16,
        "metadata": {"timestamp": "2022-10-15T14:03:51.503859Z"},
        "components": [{"type": "library", "name": "x", "components": [{"type": "library", "name": "y"}]}]}).encode(),
     "parsed", None),
]


@pytest.mark.parametrize("what,body,status,error", VERDICTS, ids=[v[0] for v in VERDICTS])
def test_the_parse_verdict_is_what_a_tolerant_parser_of_cyclonedx_and_spdx_json_gives(coverbase, cb, vendor, what,
                                                                                      body, status, error):
    v, _ = vendor
    coverbase.emu.store.bom_parse_reads = 0
    bom = cb.get_bom(upload(cb, v, body).id)
    assert bom.parse_status == status
    assert (error or "") in (bom.parse_error or "")
    if status == "parsed":
        assert bom.component_count == 2 and bom.serial_number == "urn:uuid:" + "ab" * 16


def test_a_bom_larger_than_what_the_emulator_keeps_in_memory_is_parsed_from_its_spill_file(coverbase, cb, vendor):
    v, _ = vendor
    coverbase.emu.store.keep_file_bytes = 1024
    coverbase.emu.store.bom_parse_reads = 0
    doc = dict(CDX, components=[{"type": "library", "name": f"lib{i}", "version": "1.0"} for i in range(500)])
    bom = cb.get_bom(upload(cb, v, json.dumps(doc).encode()).id)
    assert bom.parse_status == "parsed" and bom.component_count == 500


def test_upload_target_is_requested_without_leaking_the_key(coverbase, cb, vendor):
    v, _ = vendor
    upload(cb, v, b"{}")
    put = [r for r in coverbase.requests() if r["method"] == "PUT"]
    assert put == []  # the presigned PUT is outside /v1 and not in the API's log
    # The PUT carried no Authorization header: the emulator would have had no way to check it,
    # so the client is what we assert on: its plain client has no default auth header.
    assert "authorization" not in {k.lower() for k in cb._plain.headers}


def test_latest_is_null_without_a_bom(cb, vendor):
    v, _ = vendor
    assert cb.latest_bom(vendor_id=v.id) is None


def test_history_is_newest_first_with_the_data_total_count_envelope(cb, vendor):
    v, _ = vendor
    first = upload(cb, v, json.dumps(CDX).encode())
    second = upload(cb, v, json.dumps(CDX).encode())
    assert [b.id for b in cb.iter_boms(vendor_id=v.id, page_size=1)] == [second.id, first.id]


def test_archive_makes_the_previous_upload_the_applied_one(cb, vendor):
    v, _ = vendor
    first = upload(cb, v, json.dumps(CDX).encode())
    second = upload(cb, v, json.dumps(CDX).encode())
    assert cb.archive_bom(second.id).is_archived
    assert cb.latest_bom(vendor_id=v.id).id == first.id


def test_spdx_is_parsed(cb, vendor):
    v, _ = vendor
    spdx = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "acme", "dataLicense": "CC0-1.0",
            "documentNamespace": "https://acme.example/spdx/1",
            "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: x"]},
            "packages": [{"SPDXID": "SPDXRef-1", "name": "openssl", "versionInfo": "3.0.13",
                          "downloadLocation": "NOASSERTION"}]}
    upload(cb, v, json.dumps(spdx).encode())
    cb.latest_bom(vendor_id=v.id)  # parsing
    latest = cb.latest_bom(vendor_id=v.id)
    assert latest.format == "spdx" and latest.component_count == 1 and latest.spec_version == "SPDX-2.3"


def test_entitlement_off_makes_every_bom_route_404(coverbase, cb, vendor):
    v, _ = vendor
    bom = upload(cb, v, json.dumps(CDX).encode())
    coverbase.emu.store.main_org.bom_entitled = False
    assert cb.bom_entitled(v.id) is False
    for call in (lambda: cb.latest_bom(vendor_id=v.id), lambda: list(cb.iter_boms(vendor_id=v.id)),
                 lambda: cb.get_bom(bom.id), lambda: cb.archive_bom(bom.id),
                 lambda: cb.create_bom(BomCreate(vendor_id=v.id, s3_url="s3://x", size=1, name="x", extension="json"))):
        with pytest.raises(CoverbaseNotFound):
            call()


def test_bom_post_is_not_retried_after_a_lost_response(coverbase, cb, vendor):
    v, _ = vendor
    target = cb.get_upload_target("s.json")
    cb.put_to_upload_target(target, lambda: iter([b"{}"]), size=2)
    coverbase.emu.set_faults({"rate_ambiguous": 1.0, "ambiguous_mode": "status", "path_filter": "bill_of_materials"})
    with pytest.raises(CoverbaseAmbiguousWrite):
        cb.create_bom(BomCreate(vendor_id=v.id, s3_url=target.s3_url, size=2, name="s.json", extension="json"))
    coverbase.emu.set_faults({"rate_ambiguous": 0.0, "path_filter": None})
    # Read back: the BOM exists once, findable by its s3_url.
    assert [b.document.s3_url for b in cb.iter_boms(vendor_id=v.id)] == [target.s3_url]
