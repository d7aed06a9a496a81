"""The three scanners behind ``BomSniffer`` (``bom_detect.py``): JSON, XML and SPDX tag-value.

Each is fed bytes and keeps only parser state: which format the document declares, its spec
version and serial number, and a running component count. ``NotBomContent`` says why a document is not
a BOM, in the parser's words.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.parsers import expat

import ijson

if TYPE_CHECKING:
    from connector.files.bom_detect import BomSniffer

JSON, XML, TAG_VALUE = "json", "xml", "tag-value"
CYCLONEDX, SPDX = "cyclonedx", "spdx"
LINE_LIMIT = 64 * 1024  # a tag-value line longer than this is skipped to its end, not buffered
CDX_NS = "http://cyclonedx.org/schema/bom/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
SPDX_NS = "http://spdx.org/rdf/terms#"
_TAG = re.compile(rb"^[A-Za-z][A-Za-z0-9_.-]*:")


class NotBomContent(Exception):
    """Not a BOM. ``early``: decided by how the document starts (first byte, first line, root
    element, top-level type), not by something found (or missing) further in."""

    def __init__(self, message: str, *, early: bool = False) -> None:
        super().__init__(message)
        self.early = early


class JsonScan:
    """Top-level keys and component counts from ijson's basic events (no path strings built)."""

    def __init__(self, sniffer: BomSniffer) -> None:
        self.s = sniffer
        self.events = ijson.sendable_list()
        self.coro = ijson.basic_parse_coro(self.events, use_float=True)
        self.stack: list[list] = []  # [is_map, current key, role]
        self.cdx_components = 0
        self.spdx_packages = 0
        self.top_keys: set[str] = set()
        self.bom_format: str | None = None
        self.cdx_spec: str | None = None
        self.ended = False

    def feed(self, data: bytes) -> None:
        try:
            self.coro.send(data)
        except ijson.common.IncompleteJSONError as exc:
            raise NotBomContent(_json_message(exc, self.s.consumed)) from None
        self._consume()

    def close(self) -> None:
        try:
            self.coro.close()
        except ijson.common.IncompleteJSONError as exc:
            raise NotBomContent(_json_message(exc, self.s.consumed)) from None
        self._consume()

    def _consume(self) -> None:
        stack = self.stack
        for event, value in self.events:
            depth = len(stack)
            if event == "map_key":
                stack[-1][1] = value
                if depth == 1:
                    self.top_keys.add(value)
                continue
            if event == "start_map":
                role = "root" if depth == 0 else "other"
                if depth:
                    parent = stack[-1]
                    if parent[2] == "components":
                        self.cdx_components += 1
                        role = "component"
                    elif parent[2] == "packages":
                        self.spdx_packages += 1
                stack.append([True, None, role])
                continue
            if event == "start_array":
                if depth == 0:
                    raise NotBomContent("the top level is a JSON array, not an object", early=True)
                parent = stack[-1]
                key = parent[1] if parent[0] else None
                role = "other"
                if key == "components" and parent[2] in ("root", "component"):
                    role = "components"
                elif key == "packages" and parent[2] == "root":
                    role = "packages"
                elif key == "@context" and parent[2] == "root":
                    role = "context"
                stack.append([False, key, role])
                continue
            if event in ("end_map", "end_array"):
                stack.pop()
                if not stack:
                    self.ended = True
                continue
            # a scalar
            if depth == 0:
                raise NotBomContent(f"the top level is a JSON {event}, not an object", early=True)
            if depth == 1:
                self._top_scalar(stack[-1][1], value)
            elif stack[-1][2] == "context" and isinstance(value, str):
                self._context(value)
        del self.events[:]
        self._decide()

    def _top_scalar(self, key: str | None, value: object) -> None:
        s = self.s
        if key == "bomFormat" and isinstance(value, str):
            self.bom_format = value
            if value.strip().lower() == "cyclonedx":
                s.found(CYCLONEDX, JSON)
        elif key == "specVersion" and isinstance(value, (str, int, float)):
            self.cdx_spec = str(value)
            if s.format == CYCLONEDX:
                s.spec_version = self.cdx_spec
        elif key == "spdxVersion" and isinstance(value, str):
            s.found(SPDX, JSON)
            s.spec_version = value
        elif key == "serialNumber" and isinstance(value, str):
            s.serial_number = value
        elif key == "@context" and isinstance(value, str):
            self._context(value)

    def _context(self, value: str) -> None:
        if "spdx.org/rdf/3" in value:
            self.s.found(SPDX, JSON)
            m = re.search(r"spdx\.org/rdf/(3[0-9.]*)", value)
            self.s.spec_version = f"SPDX-{m.group(1).rstrip('.')}" if m else "SPDX-3"

    def _decide(self) -> None:
        s = self.s
        if s.format == CYCLONEDX and s.spec_version is None and self.cdx_spec:
            s.spec_version = self.cdx_spec
        if s.format is None and self.bom_format is None and self.cdx_spec and \
                self.top_keys & {"components", "metadata", "dependencies"}:
            # CycloneDX without its bomFormat: a generator's slip, still a vendor's SBOM.
            s.found(CYCLONEDX, JSON)
            s.spec_version = self.cdx_spec
            s.notes.append("no bomFormat key; recognised as CycloneDX by its specVersion")

    def finish(self) -> None:
        s = self.s
        if not self.ended:
            raise NotBomContent("the JSON document ends early (truncated)")
        if s.format is None:
            if self.bom_format is not None:
                raise NotBomContent(f"a JSON object whose bomFormat is {self.bom_format!r}, not CycloneDX")
            raise NotBomContent("a JSON object without a top-level bomFormat, spdxVersion or specVersion key")
        s.components = self.cdx_components if s.format == CYCLONEDX else self.spdx_packages


def _json_message(exc: Exception, consumed: int) -> str:
    text = " ".join(str(exc).split("\n")[0].split())
    if "premature EOF" in text:
        return f"the JSON document ends early (truncated after {consumed:,} bytes)"
    return f"not valid JSON (near byte {consumed:,}): {text}"


class XmlScan:
    def __init__(self, sniffer: BomSniffer) -> None:
        self.s = sniffer
        p = expat.ParserCreate(namespace_separator=" ")
        p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        p.StartDoctypeDeclHandler = self._doctype
        p.EntityDeclHandler = self._entity
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text
        self.p = p
        self.stack: list[tuple[str, str]] = []  # (local name, role)
        self.components = 0
        self.spec_text: list[str] | None = None
        self.rdf = False

    def _doctype(self, *args: object) -> None:
        raise NotBomContent("the XML declares a DOCTYPE, which is not read (entity expansion); no CycloneDX or SPDX "
                      "document needs one", early=True)

    def _entity(self, *args: object) -> None:
        raise NotBomContent("the XML declares an entity, which is not read (entity expansion)")

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        ns, _, local = name.rpartition(" ")
        s, depth = self.s, len(self.stack)
        role = "other"
        if depth == 0:
            if local == "bom" and ns.startswith(CDX_NS):
                s.found(CYCLONEDX, XML)
                s.spec_version = ns[len(CDX_NS):].strip("/") or None
                s.serial_number = attrs.get("serialNumber")
                role = "component"  # the root holds the top-level components
            elif local == "RDF" and ns == RDF_NS:
                self.rdf = True
            else:
                raise NotBomContent(f"the XML root element is <{local}>{f' in namespace {ns}' if ns else ''}, not a "
                              "CycloneDX <bom> or an SPDX RDF document", early=True)
        elif depth == 1 and self.rdf and s.format is None:
            if ns == SPDX_NS and local == "SpdxDocument":
                s.found(SPDX, XML)
            else:
                raise NotBomContent("an RDF document that is not an SPDX document", early=True)
        if s.format == CYCLONEDX and depth:
            parent = self.stack[-1][1]
            if local == "components" and parent == "component":
                role = "components"
            elif local == "component" and parent == "components":
                self.components += 1
                role = "component"
        elif s.format == SPDX:
            if ns == SPDX_NS and local == "Package":
                self.components += 1
            elif ns == SPDX_NS and local == "specVersion" and s.spec_version is None:
                self.spec_text = []
        self.stack.append((local, role))

    def _end(self, name: str) -> None:
        self.stack.pop()
        if self.spec_text is not None:
            self.s.spec_version = "".join(self.spec_text).strip() or None
            self.spec_text = None

    def _text(self, data: str) -> None:
        if self.spec_text is not None:
            self.spec_text.append(data)

    def feed(self, data: bytes) -> None:
        try:
            self.p.Parse(data, False)
        except expat.ExpatError as exc:
            raise NotBomContent(f"not well-formed XML: {exc}") from None

    def close(self) -> None:
        try:
            self.p.Parse(b"", True)
        except expat.ExpatError as exc:
            text = str(exc)
            if "no element found" in text or "unclosed token" in text:
                raise NotBomContent(f"the XML document ends early (truncated): {text}") from None
            raise NotBomContent(f"not well-formed XML: {text}") from None

    def finish(self) -> None:
        if self.s.format is None:
            raise NotBomContent("an XML document that is not CycloneDX or SPDX")
        self.s.components = self.components


class TagValueScan:
    """SPDX tag-value, line by line; a ``<text>`` value may span lines."""

    def __init__(self, sniffer: BomSniffer) -> None:
        self.s = sniffer
        self.tail = b""
        self.skipping = False  # inside an over-long line
        self.in_text = False
        self.seen_tag = False
        self.packages = 0

    def feed(self, data: bytes) -> None:
        data = self.tail + data
        lines = data.split(b"\n")
        self.tail = lines.pop()
        for line in lines:
            if self.skipping:
                self.skipping = False
                continue
            self._line(line)
        if len(self.tail) > LINE_LIMIT:
            self._line(self.tail[:LINE_LIMIT])
            self.tail, self.skipping = b"", True

    def close(self) -> None:
        if self.tail and not self.skipping:
            self._line(self.tail)
        self.tail = b""

    def _line(self, raw: bytes) -> None:
        line = raw.strip()
        if self.in_text:
            if b"</text>" in line:
                self.in_text = False
            return
        if not line or line.startswith(b"#"):
            return
        if not _TAG.match(line):
            if not self.seen_tag:
                raise NotBomContent("not JSON, XML or SPDX tag-value text", early=True)
            return  # an odd line in a tag-value file: the validator reports it
        self.seen_tag = True
        tag, _, value = line.partition(b":")
        value = value.strip()
        if b"<text>" in value and b"</text>" not in value.split(b"<text>", 1)[1]:
            self.in_text = True
        if tag == b"SPDXVersion" and self.s.format is None:
            self.s.found(SPDX, TAG_VALUE)
            self.s.spec_version = value.decode("utf-8", "replace") or None
        elif tag == b"PackageName":
            self.packages += 1

    def finish(self) -> None:
        if self.in_text:
            raise NotBomContent("a <text> value is never closed (truncated?)")
        if self.s.format is None:
            raise NotBomContent("not JSON or XML, and no SPDXVersion tag")
        self.s.components = self.packages
