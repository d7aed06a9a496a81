"""Streaming multipart/form-data bodies.

httpx's ``files=`` cannot take a byte iterator, and it buffers nothing only for real files.
This encoder yields the body in chunks from any *re-openable* source, so an upload can be
retried (documents carry an Idempotency-Key) without ever holding the file in memory, and
it computes Content-Length up front whenever the file size is known.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 64 * 1024

# A source the client can open again for every attempt.
ByteSource = Path | str | BinaryIO | Callable[[], Iterable[bytes]]


def iter_source(source: ByteSource, chunk: int = CHUNK) -> Iterator[bytes]:
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            while block := fh.read(chunk):
                yield block
    elif callable(source):
        for block in source():
            if block:
                yield bytes(block)
    else:
        source.seek(0)
        while block := source.read(chunk):
            yield block


def source_size(source: ByteSource) -> int | None:
    if isinstance(source, (str, Path)):
        return os.path.getsize(source)
    if callable(source):
        return None
    try:
        pos = source.tell()
        source.seek(0, os.SEEK_END)
        end = source.tell()
        source.seek(pos)
        return end
    except (OSError, AttributeError):
        return None


def _quote(value: str) -> str:
    # WHATWG form encoding of names/filenames: escape the three characters that break the
    # header; keep UTF-8 as is (what browsers send and python-multipart reads).
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


@dataclass
class MultipartBody:
    fields: list[tuple[str, str]]
    file_field: str
    filename: str
    source: ByteSource
    content_type: str = "application/octet-stream"
    file_size: int | None = None
    boundary: str = ""

    def __post_init__(self) -> None:
        if not self.boundary:
            self.boundary = "cbconnector" + secrets.token_hex(16)
        if self.file_size is None:
            self.file_size = source_size(self.source)

    @property
    def content_type_header(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _head(self) -> bytes:
        b = self.boundary
        parts = [
            f'--{b}\r\nContent-Disposition: form-data; name="{_quote(k)}"\r\n\r\n{v}\r\n'
            for k, v in self.fields
        ]
        parts.append(
            f'--{b}\r\nContent-Disposition: form-data; name="{_quote(self.file_field)}"; '
            f'filename="{_quote(self.filename)}"\r\nContent-Type: {self.content_type}\r\n\r\n'
        )
        return "".join(parts).encode("utf-8")

    def _tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_length(self) -> int | None:
        if self.file_size is None:
            return None
        return len(self._head()) + self.file_size + len(self._tail())

    def chunks(self) -> Iterator[bytes]:
        """A fresh body iterator; call once per attempt."""
        yield self._head()
        yield from iter_source(self.source)
        yield self._tail()
