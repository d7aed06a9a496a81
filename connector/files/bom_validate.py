"""A downloaded BOM, read before upload: well-formed or not (a gate), schema findings (advice).

``analyse_bom`` streams the spooled file once through ``BomSniffer`` (full mode): content that
is not a BOM at all (not JSON/XML/tag-value, no format marker, truncated) raises ``NotABom``
with the parser's message. A well-formed BOM is then checked against its schema by the
maintained libraries (cyclonedx-python-lib for CycloneDX JSON and XML, spdx-tools for SPDX JSON,
tag-value and RDF). Their findings are *advice*: Coverbase parses BOMs itself and real SBOMs are
often not valid against their own schema (fractional-second timestamps, licenses by name,
serial numbers that are not RFC 4122 UUIDs). With ``boms.validation: strict`` a finding, or a
file too large to validate, refuses the BOM instead (``StrictRefusal``).

Schema validation needs the document in memory, so it runs only up to
``boms.validation_max_bytes``; above that it is skipped with a note (detection and the component
count have streamed the whole file). Validation is CPU work that builds large object graphs:
one file at a time per process (a bounded wait for the slot; skipped with a note on timeout).
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import quote

from connector.files.bom_detect import CYCLONEDX, JSON, SPDX, TAG_VALUE, XML, BomFacts, BomSniffer

READ_BLOCK = 256 * 1024
MAX_FINDINGS = 20
MIB = 1024 * 1024
_VALIDATOR_SLOT = threading.BoundedSemaphore(1)
VALIDATOR_WAIT_SECONDS = 300.0


class NotABom(ValueError):
    """The content is not a bill of materials that anyone could parse (the parser's message)."""


class StrictRefusal(ValueError):
    """``boms.validation: strict`` and the libraries did not pass the file."""


@dataclass
class BomAnalysis:
    facts: BomFacts
    findings: list[str] = field(default_factory=list)  # schema findings (first MAX_FINDINGS)
    finding_count: int = 0
    validation: str = "clean"  # clean | findings | skipped | unavailable
    validation_note: str | None = None

    @property
    def warnings(self) -> list[str]:
        out = list(self.facts.notes)
        if self.validation == "findings":
            more = self.finding_count - len(self.findings)
            out += [f"schema: {f}" for f in self.findings]
            if more > 0:
                out.append(f"schema: … and {more} more finding(s)")
        elif self.validation_note:
            out.append(self.validation_note)
        return out

    def summary(self) -> str:
        out = self.facts.describe()
        if self.validation == "findings":
            out += f"; {self.finding_count} schema warning(s), uploaded anyway (validation is advice)"
        elif self.validation == "clean":
            out += "; schema-valid"
        elif self.validation_note:
            out += f"; {self.validation_note}"
        return out


def analyse_bom(fh: BinaryIO, size: int, *, mode: str = "lenient", validation_max_bytes: int = 5 * MIB) -> BomAnalysis:
    fh.seek(0)
    sniffer = BomSniffer(full=True)
    while block := fh.read(READ_BLOCK):
        if sniffer.feed(block):
            break
    facts = sniffer.close()
    if not facts.is_bom:
        raise NotABom(facts.problem or "no CycloneDX or SPDX format marker")
    out = BomAnalysis(facts)
    if size > validation_max_bytes:
        out.validation = "skipped"
        out.validation_note = (f"schema validation skipped: {size / MIB:.1f} MiB is over boms.validation_max_bytes "
                               f"({validation_max_bytes / MIB:.1f} MiB); format and component count were read by "
                               "streaming the whole file")
    elif not _VALIDATOR_SLOT.acquire(timeout=VALIDATOR_WAIT_SECONDS):
        out.validation = "skipped"
        out.validation_note = f"schema validation skipped: the validator was busy for {VALIDATOR_WAIT_SECONDS:.0f} s"
    else:
        try:
            fh.seek(0)
            findings = _schema_findings(fh, facts)
        finally:
            _VALIDATOR_SLOT.release()
        if findings is None:
            out.validation = "unavailable"
            out.validation_note = f"no schema validator for {facts.describe().split(',')[0]}"
        elif findings:
            out.validation, out.finding_count, out.findings = "findings", len(findings), findings[:MAX_FINDINGS]
    if mode == "strict" and out.validation != "clean":
        detail = "; ".join(out.findings[:3]) if out.validation == "findings" else (out.validation_note or "")
        raise StrictRefusal(f"boms.validation is strict and {facts.describe()} did not pass: {detail}"
                            f"{' …' if out.finding_count > 3 else ''}")
    return out


# --- the libraries ----------------------------------------------------------------------------


def _text(fh: BinaryIO) -> str:
    raw = fh.read()
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig", errors="replace")


def _schema_findings(fh: BinaryIO, facts: BomFacts) -> list[str] | None:
    """Every finding of the library for this format (None: no validator for it)."""
    if facts.format == CYCLONEDX and facts.encoding in (JSON, XML):
        return _cyclonedx(_text(fh), facts)
    if facts.format == SPDX and facts.encoding == JSON and (facts.spec_version or "").upper().startswith("SPDX-2"):
        try:
            doc = json.loads(_text(fh))
        except ValueError as exc:  # the stream parser accepted it; json is stricter (e.g. NaN)
            return [f"JSON: {exc}"]
        from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser

        return _spdx(lambda: JsonLikeDictParser().parse(doc))
    if facts.format == SPDX and facts.encoding == TAG_VALUE:
        text = _text(fh)

        def parse():
            from ply import yacc
            from spdx_tools.spdx.parser.tagvalue.parser import Parser

            return Parser(write_tables=False, debug=False, errorlog=yacc.NullLogger()).parse(text)

        return _spdx(parse)
    if facts.format == SPDX and facts.encoding == XML:
        data = fh.read()

        def parse_rdf():
            from rdflib import Graph
            from spdx_tools.spdx.parser.rdf.rdf_parser import translate_graph_to_document

            graph = Graph()
            graph.parse(io.BytesIO(data), format="xml")
            return translate_graph_to_document(graph)

        return _spdx(parse_rdf)
    return None


def _cyclonedx(text: str, facts: BomFacts) -> list[str]:
    from cyclonedx.schema import SchemaVersion

    spec = facts.spec_version or ""
    try:
        version = SchemaVersion.from_version(spec)
    except (ValueError, KeyError):
        return [f"CycloneDX specVersion {spec!r} is not one cyclonedx-python-lib knows"]
    try:
        if facts.encoding == JSON:
            doc = json.loads(text)
            return [_cdx_message(e) for e in _json_validator(version).iter_errors(doc)]
        from cyclonedx.validation.xml import XmlValidator

        return [_cdx_message(e) for e in (XmlValidator(version).validate_str(text, all_errors=True) or [])]
    except Exception as exc:  # noqa: BLE001 - a validator crash is a finding, never a lost BOM
        return [f"the CycloneDX validator could not run: {type(exc).__name__}: {str(exc)[:200]}"]


_JSON_VALIDATORS: dict = {}


def _json_validator(version):
    """cyclonedx-python-lib's strict JSON-schema validator (its schema, registry and format
    checks) with one change: ``iri`` / ``iri-reference`` are checked by rfc3986-validator after
    the RFC 3987 IRI-to-URI mapping, not by the Earley parser jsonschema picks by default, which
    spends ~0.2 s per URL (minutes for one real SBOM with a thousand component URLs)."""
    v = _JSON_VALIDATORS.get(version)
    if v is None:
        _import_jsonschema()
        from cyclonedx.validation.json import JsonStrictValidator

        v = JsonStrictValidator(version)._validator.evolve(format_checker=_format_checker())
        _JSON_VALIDATORS[version] = v
    return v


def _import_jsonschema() -> None:
    """Import jsonschema without ``rfc3987_syntax``: that package compiles a lark grammar when it is
    imported (about 2 s of CPU in every process that validates a CycloneDX file), only to provide the
    ``iri`` / ``iri-reference`` checks that ``_format_checker`` replaces anyway. jsonschema imports
    it inside ``suppress(ImportError)``, so a ``None`` entry in ``sys.modules`` makes it skip it."""
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
    try:
        import jsonschema  # noqa: F401
    finally:
        del sys.modules["rfc3987_syntax"]


def _format_checker():
    from jsonschema import FormatChecker
    from jsonschema.validators import Draft7Validator

    checker = FormatChecker(formats=Draft7Validator.FORMAT_CHECKER.checkers.keys())
    try:
        from rfc3986_validator import validate_rfc3986
    except ImportError:  # without it jsonschema skips URI formats too: do the same for IRIs
        checker.checkers.pop("iri", None)
        checker.checkers.pop("iri-reference", None)
        return checker
    ascii_safe = "".join(chr(i) for i in range(128))

    def iri_check(rule: str):
        def check(instance: object) -> bool:
            if not isinstance(instance, str):
                return True
            return bool(validate_rfc3986(quote(instance, safe=ascii_safe), rule=rule))
        return check

    checker.checks("iri")(iri_check("URI"))
    checker.checks("iri-reference")(iri_check("URI_reference"))
    return checker


def _cdx_message(err: object) -> str:
    data = getattr(err, "data", err)
    path = getattr(data, "json_path", None)
    msg = getattr(data, "message", None) or str(data)
    line = getattr(data, "line", None)
    where = f"{path}: " if path and path != "$" else (f"line {line}: " if line else "")
    return f"{where}{' '.join(str(msg).split())[:300]}"


def _spdx(parse) -> list[str]:
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    logging.getLogger("ply").setLevel(logging.ERROR)
    try:
        doc = parse()
    except SPDXParsingError as exc:
        return [f"spdx-tools cannot read it: {' '.join(str(m).split())[:300]}" for m in exc.get_messages()]
    except Exception as exc:  # noqa: BLE001 - a parser crash is a finding, never a lost BOM
        return [f"spdx-tools cannot read it: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"]
    out = []
    for p in validate_full_spdx_document(doc):
        ctx = getattr(p.context, "spdx_id", None)
        out.append(f"{ctx + ': ' if ctx else ''}{' '.join(p.validation_message.split())[:300]}")
    return out
