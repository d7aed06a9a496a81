"""The bill-of-materials endpoints of ``CoverbaseClient`` (contract §2.4), kept in their own module.

A BOM is delivered in three steps: ask for a presigned upload target, ``PUT`` the file there (no
bearer token, streamed, retried: ``PUT`` is idempotent), then ``POST /v1/bill_of_materials`` with
the returned key. That POST answers 200 and honours no ``Idempotency-Key``: a lost answer raises
``CoverbaseAmbiguousWrite`` and the caller reads the latest BOM back before trying again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from connector.coverbase import uploadable_url
from connector.coverbase.errors import (
    CoverbaseNotFound,
    CoverbaseTransportError,
    CoverbaseUnexpectedResponse,
    error_from_response,
)
from connector.coverbase.models import Bom, BomCreate
from connector.http.multipart import ByteSource, iter_source, source_size
from connector.http.retrying import call_with_retries
from connector.http.safety import require_safe_base_url
from connector.http.transport import ATTEMPT, NOT_SENT

MAX_PAGE = 200


class BomsApi:
    """Mixed into ``CoverbaseClient`` (uses its ``_request``, ``_json``, ``_call``, ``_paginate``, the
    storage client ``_plain`` and its retry settings)."""

    _request: Any
    _json: Any
    _call: Any
    _paginate: Any
    _plain: Any
    _sleep: Any
    retry: Any
    deadline: Any

    def get_upload_target(self, filename: str, content_type: str = "application/json") -> uploadable_url.UploadTarget:
        resp = self._request("GET", uploadable_url.PATH, params=uploadable_url.query_params(filename, content_type))
        try:
            target = uploadable_url.parse(self._json(resp, "GET", uploadable_url.PATH))
        except ValueError as exc:
            raise CoverbaseUnexpectedResponse(str(exc), method="GET", path=uploadable_url.PATH) from None
        require_safe_base_url(target.url, "presigned upload URL")
        return target

    def put_to_upload_target(self, target: uploadable_url.UploadTarget, source: ByteSource,
                             *, size: int | None = None) -> None:
        """Upload to a presigned URL: no bearer token, streamed, retried (PUT is idempotent)."""
        size = size if size is not None else source_size(source)
        headers = dict(target.headers)
        if size is not None:
            headers["Content-Length"] = str(size)

        path_for_log = "presigned-upload"
        attempt = 0

        def once() -> None:
            nonlocal attempt
            attempt += 1
            try:
                resp = self._plain.request(target.method, target.url, content=iter_source(source), headers=headers,
                                           extensions={ATTEMPT: attempt})
            except httpx.HTTPError as exc:
                raise CoverbaseTransportError(type(exc).__name__, sent=not isinstance(exc, NOT_SENT),
                                              method=target.method, path=path_for_log) from None
            if not resp.is_success:
                raise error_from_response(resp, target.method, path_for_log)

        call_with_retries(once, self.retry, sleep=self._sleep, deadline=self.deadline)

    def create_bom(self, payload: BomCreate) -> Bom:
        """Not idempotent (answers 200): a lost response raises CoverbaseAmbiguousWrite."""
        return self._call(Bom, "POST", "/v1/bill_of_materials", json=payload, retry_safe=False)

    def latest_bom(self, *, vendor_id: str | None = None, service_id: str | None = None) -> Bom | None:
        if (vendor_id is None) == (service_id is None):
            raise ValueError("exactly one of vendor_id and service_id")
        params = {"vendor_id": vendor_id} if vendor_id else {"service_id": service_id}
        resp = self._request("GET", "/v1/bill_of_materials/latest", params=params)
        body = self._json(resp, "GET", "/v1/bill_of_materials/latest")
        return None if body is None else Bom.model_validate(body)

    def iter_boms(self, *, vendor_id: str | None = None, service_id: str | None = None,
                  include_archived: bool = False, page_size: int = MAX_PAGE) -> Iterator[Bom]:
        if (vendor_id is None) == (service_id is None):
            raise ValueError("exactly one of vendor_id and service_id")
        params: dict[str, Any] = {"vendor_id": vendor_id} if vendor_id else {"service_id": service_id}
        if include_archived:
            params["include_archived"] = "true"
        return self._paginate(Bom, "/v1/bill_of_materials", params, page_size)

    def get_bom(self, bom_id: str) -> Bom:
        return self._call(Bom, "GET", f"/v1/bill_of_materials/{quote(bom_id, safe='')}")

    def archive_bom(self, bom_id: str) -> Bom:
        # Archiving twice is harmless (same end state), so re-sending after a lost response is safe.
        return self._call(Bom, "POST", f"/v1/bill_of_materials/{quote(bom_id, safe='')}/archive", retry_safe=True)

    def bom_entitled(self, vendor_id: str) -> bool:
        """Probe the org's BOM entitlement with a read on a vendor known to exist: every BOM
        route answers 404 while the entitlement is off (contract §2.4)."""
        try:
            self._request("GET", "/v1/bill_of_materials", params={"vendor_id": vendor_id, "limit": 1})
        except CoverbaseNotFound:
            return False
        return True
