"""Streaming multipart parsing for the Coverbase emulator's document upload.

The file part is hashed and counted as it arrives and is never held whole: the 100 MiB limit
is measured while streaming, like the real API (which answers 413 ``file_too_large``).
Only files up to ``keep_bytes`` are kept in memory, so tests can compare small uploads byte
for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

MAX_FIELD_BYTES = 64 * 1024


class MultipartError(ValueError):
    pass


@dataclass
class UploadedFile:
    field_name: str
    filename: str
    content_type: str
    size: int = 0
    sha256: str = ""
    content: bytes | None = None
    too_large: bool = False


@dataclass
class ParsedForm:
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        for k, v in self.fields:
            if k == name:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]


def boundary_of(content_type: str) -> bytes:
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise MultipartError("Content-Type must be multipart/form-data with a boundary")
    return params[b"boundary"]


async def parse_stream(
    chunks: AsyncIterator[bytes], content_type: str, *, max_file_bytes: int, keep_bytes: int
) -> ParsedForm:
    form = ParsedForm()
    state: dict = {}

    def on_part_begin() -> None:
        state.update(headers={}, hname=b"", hvalue=b"", buf=bytearray(), file=None, hasher=None)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hvalue"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hname"].decode("latin-1").lower()] = state["hvalue"]
        state["hname"], state["hvalue"] = b"", b""

    def on_headers_finished() -> None:
        disp = state["headers"].get("content-disposition", b"")
        _, params = parse_options_header(disp)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if b"filename" in params:
            ctype = state["headers"].get("content-type", b"application/octet-stream").decode("latin-1")
            state["file"] = UploadedFile(name, params[b"filename"].decode("utf-8", "replace"), ctype)
            state["hasher"] = hashlib.sha256()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        f: UploadedFile | None = state["file"]
        if f is None:
            if len(state["buf"]) + len(piece) > MAX_FIELD_BYTES:
                raise MultipartError(f"form field {state['name']!r} is too large")
            state["buf"] += piece
            return
        f.size += len(piece)
        if f.size > max_file_bytes:
            f.too_large = True
        if f.too_large:
            state["buf"] = bytearray()  # stop keeping anything; just count
            return
        state["hasher"].update(piece)
        if f.size <= keep_bytes:
            state["buf"] += piece
        else:
            state["buf"] = bytearray()

    def on_part_end() -> None:
        f: UploadedFile | None = state["file"]
        if f is None:
            form.fields.append((state["name"], bytes(state["buf"]).decode("utf-8", "replace")))
        else:
            f.sha256 = "" if f.too_large else state["hasher"].hexdigest()
            f.content = bytes(state["buf"]) if (not f.too_large and f.size <= keep_bytes) else None
            form.files.append(f)

    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    async for chunk in chunks:
        if chunk:
            parser.write(chunk)
    parser.finalize()
    return form
