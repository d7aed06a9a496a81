"""Documents: streamed multipart upload from path, file or iterator; limits measured server-side."""

import hashlib
import io

import pytest

from connector.coverbase.errors import CoverbaseBadRequest, CoverbaseError, CoverbaseNotFound, CoverbasePayloadTooLarge
from connector.coverbase.models import DocumentFields, DocumentUpdate, ServiceCreate, VendorCreate
from connector.emulators.fixtures import MAX_DOCUMENT_BYTES


@pytest.fixture
def vendor(cb):
    v = cb.create_vendor(VendorCreate(name="Acme", external_id="v1"), idempotency_key="v1")
    s1 = cb.create_service(v.id, ServiceCreate(name="A"))
    s2 = cb.create_service(v.id, ServiceCreate(name="B"))
    return v, s1, s2


def stored(coverbase, doc_id):
    return coverbase.emu.store.documents[doc_id]


def test_upload_from_a_path_keeps_bytes_and_repeated_service_ids(coverbase, cb, vendor, tmp_path):
    v, s1, s2 = vendor
    f = tmp_path / "SOC2 report.pdf"
    f.write_bytes(b"%PDF-1.7 hello")
    doc = cb.upload_document(DocumentFields(vendor_id=v.id, service_ids=[s1.id, s2.id]), filename=f.name, source=f)
    assert doc.service_ids == [s1.id, s2.id] and doc.extension == "pdf" and doc.size == 14
    assert stored(coverbase, doc.id)["_content"] == b"%PDF-1.7 hello"


def test_upload_from_a_byte_iterator_is_streamed_chunked(coverbase, cb, vendor):
    v, *_ = vendor
    parts = [b"a" * 1000, b"b" * 2000]
    doc = cb.upload_document(DocumentFields(vendor_id=v.id), filename="notes.txt", source=lambda: iter(parts))
    assert doc.size == 3000
    assert stored(coverbase, doc.id)["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()


def test_upload_from_a_file_object(cb, vendor):
    v, *_ = vendor
    doc = cb.upload_document(DocumentFields(vendor_id=v.id, name="Policy"), filename="p.md", source=io.BytesIO(b"# x"))
    assert doc.name == "Policy"


def test_unicode_file_name_survives(cb, vendor):
    v, *_ = vendor
    doc = cb.upload_document(DocumentFields(vendor_id=v.id), filename="Überprüfung – شركة.pdf", source=io.BytesIO(b"x"))
    assert doc.name == "Überprüfung – شركة.pdf"


def test_disallowed_extension_is_400_unsupported_file_type(cb, vendor):
    v, *_ = vendor
    with pytest.raises(CoverbaseBadRequest) as exc:
        cb.upload_document(DocumentFields(vendor_id=v.id), filename="setup.exe", source=io.BytesIO(b"MZ"))
    assert exc.value.code == "unsupported_file_type"


def test_unknown_document_type_is_422_invalid_document_type(cb, vendor):
    v, *_ = vendor
    with pytest.raises(CoverbaseError) as exc:
        cb.upload_document(DocumentFields(vendor_id=v.id, document_type="tax_return"), filename="a.pdf",
                           source=io.BytesIO(b"x"))
    assert exc.value.status == 422 and exc.value.code == "invalid_document_type"


def _generated(total: int, chunk: int = 1 << 20):
    def gen():
        left = total
        block = b"\0" * chunk
        while left > 0:
            n = min(chunk, left)
            yield block[:n]
            left -= n
    return gen


def test_one_byte_over_100_mib_is_413_measured_while_streaming(coverbase, cb, vendor):
    v, *_ = vendor
    with pytest.raises(CoverbasePayloadTooLarge) as exc:
        cb.upload_document(DocumentFields(vendor_id=v.id), filename="big.pdf",
                           source=_generated(MAX_DOCUMENT_BYTES + 1), size=MAX_DOCUMENT_BYTES + 1)
    assert exc.value.code == "file_too_large"
    assert not coverbase.state()["documents"]


def test_exactly_100_mib_is_accepted(cb, vendor):
    v, *_ = vendor
    doc = cb.upload_document(DocumentFields(vendor_id=v.id), filename="big.zip", source=_generated(MAX_DOCUMENT_BYTES),
                             size=MAX_DOCUMENT_BYTES)
    assert doc.size == MAX_DOCUMENT_BYTES


def test_upload_with_the_same_idempotency_key_is_replayed(coverbase, cb, vendor):
    v, *_ = vendor
    a = cb.upload_document(DocumentFields(vendor_id=v.id), filename="a.pdf", source=io.BytesIO(b"1"),
                           idempotency_key="att1")
    b = cb.upload_document(DocumentFields(vendor_id=v.id), filename="a.pdf", source=io.BytesIO(b"1"),
                           idempotency_key="att1")
    assert a.id == b.id and len(coverbase.state()["documents"]) == 1


def test_list_uses_the_data_envelope_and_filters(cb, vendor):
    v, s1, _ = vendor
    cb.upload_document(DocumentFields(vendor_id=v.id, service_ids=[s1.id]), filename="a.pdf", source=io.BytesIO(b"1"))
    cb.upload_document(DocumentFields(vendor_id=v.id), filename="b.pdf", source=io.BytesIO(b"2"))
    assert len(list(cb.iter_documents(vendor_id=v.id, page_size=1))) == 2
    assert [d.name for d in cb.iter_documents(service_id=s1.id)] == ["a.pdf"]


def test_patch_replaces_links_and_delete_archives(cb, vendor):
    v, s1, s2 = vendor
    d = cb.upload_document(DocumentFields(vendor_id=v.id, service_ids=[s1.id]), filename="a.pdf",
                           source=io.BytesIO(b"1"))
    assert cb.update_document(d.id, DocumentUpdate(service_ids=[s2.id])).service_ids == [s2.id]
    archived = cb.archive_document(d.id)
    assert archived.is_archived and archived.archived_at
    assert list(cb.iter_documents(vendor_id=v.id)) == []


def test_download_gives_a_presigned_url(cb, vendor):
    v, *_ = vendor
    d = cb.upload_document(DocumentFields(vendor_id=v.id), filename="a.pdf", source=io.BytesIO(b"1"))
    dl = cb.document_download(d.id)
    assert dl.expires_in == 3600 and dl.filename == "a.pdf"


def test_upload_for_an_unknown_vendor_is_404(cb):
    with pytest.raises(CoverbaseNotFound):
        cb.upload_document(DocumentFields(vendor_id="cbvndr_" + "1" * 32), filename="a.pdf", source=io.BytesIO(b"1"))
