"""BOMs are recognised by parsing the whole document (streamed), and read before upload: a
well-formed BOM goes, with the libraries' schema findings as advice; only what is not a BOM at
all is refused, with the parser's message."""

import io
import json
import random

import pytest

from connector.emulators import sn_sboms
from connector.files.bom_detect import BomSniffer, detect_bytes
from connector.files.bom_validate import NotABom, StrictRefusal, analyse_bom
from tests.bom_files import (
    corpus_or_skip,
    cyclonedx_xml,
    dashless_cyclonedx,
    sorted_keys_spdx,
    spdx_tag_value,
    syft_spdx,
)


def analyse(raw: bytes, **kw):
    return analyse_bom(io.BytesIO(raw), len(raw), **kw)


def test_every_corpus_file_is_detected_with_the_format_version_and_count_of_expected_json():
    root, expected = corpus_or_skip()
    for rel, e in expected.items():
        raw = (root / rel).read_bytes()
        facts = detect_bytes(raw)
        assert facts.is_bom, f"{rel}: {facts.problem}"
        assert (facts.format, facts.encoding, facts.spec_version) == (e["format"], e["encoding"],
                                                                      e["spec_version"]), rel
        if e["components"] is not None:
            assert facts.components == e["components"], rel
        assert detect_bytes(raw, full=False).format == e["format"], f"{rel}: the probe disagrees"


def test_a_sorted_keys_spdx_is_a_bom_although_spdx_version_sits_past_the_first_64_kib():
    raw = sorted_keys_spdx()
    probe = BomSniffer()
    for i in range(0, len(raw), 4096):
        probe.feed(raw[i:i + 4096])
    facts = probe.close()
    assert facts.is_bom and facts.format == "spdx" and facts.spec_version == "SPDX-2.3"
    assert probe.consumed == len(raw)  # no marker early: the probe had to read to the end, streamed


def test_a_probe_stops_at_the_first_chunk_that_decides():
    raw = sn_sboms.cyclonedx(random.Random(1), "p", "s") + b" " * 500_000
    probe = BomSniffer()
    chunks = [raw[i:i + 4096] for i in range(0, len(raw), 4096)]
    used = next(n for n, c in enumerate(chunks, 1) if probe.feed(c))
    assert used == 1 and probe.close().format == "cyclonedx"
    pdf = BomSniffer()
    assert pdf.feed(b"%PDF-1.7\n" + b"\0" * 4000) and pdf.rejected_early


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_detection_does_not_depend_on_how_the_bytes_are_chunked(size):
    for raw in (syft_spdx(), dashless_cyclonedx(), cyclonedx_xml(), spdx_tag_value()):
        s = BomSniffer(full=True)
        for i in range(0, len(raw), size):
            s.feed(raw[i:i + size])
        assert s.close() == detect_bytes(raw)


def test_cyclonedx_xml_and_spdx_tag_value_are_boms_too():
    xml = detect_bytes(cyclonedx_xml(components=3))
    assert (xml.format, xml.encoding, xml.spec_version, xml.components) == ("cyclonedx", "xml", "1.4", 3)
    tv = detect_bytes(spdx_tag_value(packages=2))
    assert (tv.format, tv.encoding, tv.spec_version, tv.components) == ("spdx", "tag-value", "SPDX-2.2", 2)


def test_tolerated_variants_are_still_boms():
    bare = detect_bytes(json.dumps({"specVersion": "1.4", "components": [{"name": "a"}]}).encode())
    assert bare.format == "cyclonedx" and "no bomFormat" in bare.notes[0]
    assert detect_bytes(b'{"bomFormat": "cyclonedx", "specVersion": "1.6"}').format == "cyclonedx"
    assert detect_bytes("\ufeff".encode() + syft_spdx()).format == "spdx"  # UTF-8 byte order mark
    assert detect_bytes(syft_spdx().decode().encode("utf-16")).format == "spdx"  # a PowerShell redirect
    spdx3 = detect_bytes(json.dumps({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
                                     "@graph": []}).encode())
    assert spdx3.format == "spdx" and spdx3.spec_version == "SPDX-3.0.1"


NOT_BOMS = [
    ("a PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "not JSON, XML or SPDX tag-value"),
    ("empty", b"", "empty"),
    ("JSON without a format key", b'{"feature_flags": {"x": true}}', "without a top-level bomFormat"),
    ("a JSON array", b'[{"bomFormat": "CycloneDX"}]', "JSON array"),
    ("another bomFormat", b'{"bomFormat": "SWID", "specVersion": "1"}', "not CycloneDX"),
    ("truncated JSON", b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "a"', "ends early"),
    ("bad JSON", b'{"bomFormat": "CycloneDX", "specVersion": "1.5",, }', "not valid JSON"),
    ("an HTML page", b"<!doctype html><html><body>Login</body></html>", "not well-formed XML"),
    ("other XML", b'<?xml version="1.0"?><project><name>x</name></project>', "root element is <project>"),
    ("truncated XML", cyclonedx_xml()[:120], "ends early"),
    ("an XML entity bomb", b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><bom/>', "DOCTYPE"),
    ("a CSV", b"name,email\nDana,dana@example.com\n", "not JSON, XML or SPDX tag-value"),
    ("text with a colon", b"Note: call the vendor\nThanks\n", "no SPDXVersion tag"),
    ("unterminated text block", b"SPDXVersion: SPDX-2.2\nPackageCopyrightText: <text>Copyright\n", "never closed"),
]


@pytest.mark.parametrize("what,raw,message", NOT_BOMS, ids=[n[0] for n in NOT_BOMS])
def test_what_is_not_a_bom_is_refused_with_the_parser_message(what, raw, message):
    with pytest.raises(NotABom, match=message):
        analyse(raw)


def test_a_well_formed_bom_with_schema_violations_is_uploaded_with_warnings():
    a = analyse(sn_sboms.malformed_cyclonedx())
    assert a.facts.is_bom and a.validation == "findings" and a.finding_count >= 2
    assert all(w.startswith("schema: ") for w in a.warnings)
    assert "uploaded anyway" in a.summary()


def test_syft_fractional_second_timestamps_are_a_warning_not_a_refusal():
    a = analyse(syft_spdx())
    assert a.facts.format == "spdx" and a.facts.components == 3
    assert any("503859Z" in w for w in a.warnings), a.warnings


def test_a_dashless_urn_uuid_serial_is_a_warning_not_a_refusal():
    a = analyse(dashless_cyclonedx())
    assert a.facts.format == "cyclonedx" and a.facts.components == 3
    assert any("serialNumber" in w for w in a.warnings), a.warnings


def test_clean_boms_have_no_warnings():
    for raw in (sn_sboms.cyclonedx(random.Random(3), "p", "s"), sn_sboms.spdx(random.Random(3), "p", "s"),
                cyclonedx_xml(), spdx_tag_value()):
        a = analyse(raw)
        assert a.validation == "clean" and a.warnings == [], a.warnings


def test_strict_validation_refuses_what_lenient_uploads_with_warnings():
    for raw in (syft_spdx(), dashless_cyclonedx(), sn_sboms.malformed_cyclonedx()):
        with pytest.raises(StrictRefusal, match="boms.validation is strict"):
            analyse(raw, mode="strict")
    assert analyse(sn_sboms.spdx(random.Random(3), "p", "s"), mode="strict").validation == "clean"


def test_validation_is_skipped_with_a_note_above_the_size_limit_and_strict_refuses_then():
    raw = sorted_keys_spdx()
    a = analyse(raw, validation_max_bytes=64 * 1024)
    assert a.validation == "skipped" and "over boms.validation_max_bytes" in a.warnings[0]
    assert a.facts.components > 100  # counted by streaming anyway
    with pytest.raises(StrictRefusal, match="skipped"):
        analyse(raw, mode="strict", validation_max_bytes=64 * 1024)
