"""Is this file a bill of materials? Decided by parsing the content, streamed, never by its name.

``BomSniffer`` is fed the bytes chunk by chunk and holds only parser state, never the document:

- JSON (ijson, event by event): a CycloneDX document has a top-level ``bomFormat`` of
  ``CycloneDX`` (or, tolerated, a top-level ``specVersion`` next to ``components`` or
  ``metadata``); an SPDX 2 document a top-level ``spdxVersion``; an SPDX 3 document an
  ``@context`` on spdx.org/rdf/3. The keys are found wherever they sit in the object (a
  sorted-keys SPDX has ``spdxVersion`` after megabytes of ``packages``).
- XML (expat): a root ``bom`` element in a ``http://cyclonedx.org/schema/bom/<version>``
  namespace, or an RDF document whose first element is an ``spdx:SpdxDocument``. A DOCTYPE is
  refused (entity expansion), which no CycloneDX or SPDX file needs.
- SPDX tag-value: ``Tag: value`` lines with an ``SPDXVersion`` tag.

Two modes. A *probe* (extraction) stops as soon as the answer is known: the first byte of a PDF,
the root element of an XML file, the ``bomFormat`` of a CycloneDX file; only a JSON object whose
format key sits late is read to its end. A *full* read (before upload) goes to the end: it proves
the document is well-formed (a truncated file is not a BOM) and counts its components the way
``shared/corpus/sbom/expected.json`` does: every CycloneDX ``components`` entry, nested ones
included; every SPDX package.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from connector.files.bom_scan import (
    CYCLONEDX,
    JSON,
    SPDX,
    TAG_VALUE,
    XML,
    JsonScan,
    NotBomContent,
    TagValueScan,
    XmlScan,
)

__all__ = ["CYCLONEDX", "JSON", "SPDX", "TAG_VALUE", "XML", "BomFacts", "BomSniffer", "detect_bytes"]

ENCODING_LABEL = {JSON: "JSON", XML: "XML", TAG_VALUE: "tag-value"}
LEAD_LIMIT = 1024 * 1024  # whitespace before the first character: more than this is not a BOM
SPEC_GRACE = 1024 * 1024  # a probe that found the format reads this much further for the version


@dataclass(frozen=True)
class BomFacts:
    """What the content says. ``format`` is set for a BOM; ``problem`` says why it is not one."""

    format: str | None = None  # cyclonedx | spdx
    encoding: str | None = None  # json | xml | tag-value
    spec_version: str | None = None
    serial_number: str | None = None
    components: int | None = None  # counted on a full read
    problem: str | None = None
    complete: bool = False  # the whole document was read and parsed
    notes: tuple[str, ...] = ()

    @property
    def is_bom(self) -> bool:
        return self.format is not None and self.problem is None

    def describe(self) -> str:
        if not self.is_bom:
            return f"not a bill of materials: {self.problem or 'no CycloneDX or SPDX format marker'}"
        name = {CYCLONEDX: "CycloneDX", SPDX: "SPDX"}[self.format or ""]
        spec = self.spec_version or "(no version)"
        if self.format == SPDX and spec.upper().startswith("SPDX-"):
            spec = spec[5:]
        out = f"{name} {spec} {ENCODING_LABEL.get(self.encoding or '', '')}".strip()
        if self.components is not None:
            out += f", {self.components} component{'s' if self.components != 1 else ''}"
        return out


class BomSniffer:
    """Feed bytes; ``feed`` returns True once the answer cannot change (a probe may stop)."""

    def __init__(self, *, full: bool = False) -> None:
        self.full = full
        self.consumed = 0
        self.format: str | None = None
        self.encoding: str | None = None
        self.spec_version: str | None = None
        self.serial_number: str | None = None
        self.components: int | None = None
        self.notes: list[str] = []
        self.problem: str | None = None
        self.rejected_early = False  # the verdict came from how the document starts
        self.done = False
        self._found_at = 0
        self._lead = b""
        self._decoder: codecs.IncrementalDecoder | None = None
        self._scan: JsonScan | XmlScan | TagValueScan | None = None

    def found(self, fmt: str, encoding: str) -> None:
        if self.format is None:
            self.format, self.encoding, self._found_at = fmt, encoding, self.consumed

    def feed(self, chunk: bytes) -> bool:
        if self.done or not chunk:
            return self.done
        self.consumed += len(chunk)
        if self._decoder is not None:
            chunk = self._decoder.decode(chunk).encode("utf-8")
        try:
            if self._scan is None:
                chunk = self._start(chunk)
                if self._scan is None:
                    return self.done
            self._scan.feed(chunk)
        except NotBomContent as exc:
            self.problem, self.done, self.rejected_early = str(exc), True, exc.early
            return True
        if not self.full and self.format is not None and (
                self.spec_version is not None or self.consumed - self._found_at > SPEC_GRACE):
            self.done = True
        return self.done

    def _start(self, chunk: bytes) -> bytes:
        data = self._lead + chunk
        if self.consumed == len(chunk) or self._lead:  # the very start of the file
            if data.startswith(codecs.BOM_UTF8):
                data = data[3:]
            elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and self._decoder is None:
                self._decoder = codecs.getincrementaldecoder("utf-16")()
                data = self._decoder.decode(data).encode("utf-8")
                self.notes.append("UTF-16 text")
        stripped = data.lstrip()
        if not stripped:
            self._lead = data
            if len(data) > LEAD_LIMIT:
                raise NotBomContent("only whitespace")
            return b""
        self._lead = b""
        first = stripped[:1]
        if first in (b"{", b"["):
            self._scan = JsonScan(self)
        elif first == b"<":
            self._scan = XmlScan(self)
        else:
            self._scan = TagValueScan(self)
        return stripped

    def close(self) -> BomFacts:
        """The verdict; after a full read, also whether the document is complete and well-formed."""
        complete = False
        if self.problem is None and not self.done:
            try:
                if self._scan is None:
                    raise NotBomContent("the file is empty" if not self.consumed else "only whitespace")
                self._scan.close()
                self._scan.finish()
                complete = True
            except NotBomContent as exc:
                self.problem = str(exc)
        problem = self.problem
        if not self.full and self.format is not None and problem is not None:
            # A probe: the file declares itself a BOM. Whether it is a sound one is the full
            # read's question (before upload), answered with the parser's message there.
            self.notes.append(f"seen while probing: {problem}")
            problem = None
        return BomFacts(format=self.format, encoding=self.encoding, spec_version=self.spec_version,
                        serial_number=self.serial_number, components=self.components if complete else None,
                        problem=problem, complete=complete, notes=tuple(self.notes))


def detect_bytes(data: bytes, *, full: bool = True) -> BomFacts:
    """Convenience for tests and small inputs: the facts of one in-memory document."""
    s = BomSniffer(full=full)
    for i in range(0, len(data), 64 * 1024):
        if s.feed(data[i:i + 64 * 1024]):
            break
    return s.close()
