"""The findings endpoints of ``CoverbaseClient`` (contract §2.6), kept in their own module.

``POST /v1/findings`` does not honour ``Idempotency-Key``: it is sent ``retry_safe=False``, so a
lost answer (timeout, reset, 5xx after the request went out, a 2xx body we cannot read) raises
``CoverbaseAmbiguousWrite`` and is never re-sent blindly; the caller reads the target's findings
back. ``GET`` and ``PATCH`` (same end state when repeated) are retried as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from connector.coverbase.models import Finding, FindingCreate, FindingUpdate

PATH = "/v1/findings"
MAX_PAGE = 200


class FindingsApi:
    """Mixed into ``CoverbaseClient`` (uses its ``_call`` and ``_paginate``)."""

    _call: Any
    _paginate: Any

    def create_finding(self, payload: FindingCreate) -> Finding:
        """Not idempotent: a lost response raises CoverbaseAmbiguousWrite; read back first."""
        return self._call(Finding, "POST", PATH, json=payload.body(), retry_safe=False)

    def get_finding(self, finding_id: str) -> Finding:
        return self._call(Finding, "GET", f"{PATH}/{quote(finding_id, safe='')}")

    def iter_findings(self, *, vendor_id: str | None = None, assessment_id: str | None = None,
                      page_size: int = MAX_PAGE) -> Iterator[Finding]:
        """Findings of a vendor or an assessment (``items`` envelope), every page. A finding that
        shows up twice while pages shift under concurrent creates is returned once."""
        params = {k: v for k, v in (("vendor_id", vendor_id), ("assessment_id", assessment_id)) if v}
        seen: set[str] = set()
        for f in self._paginate(Finding, PATH, params, page_size):
            if f.id not in seen:
                seen.add(f.id)
                yield f

    def list_findings(self, *, vendor_id: str | None = None, assessment_id: str | None = None) -> list[Finding]:
        return list(self.iter_findings(vendor_id=vendor_id, assessment_id=assessment_id))

    def update_finding(self, finding_id: str, payload: FindingUpdate) -> Finding:
        return self._call(Finding, "PATCH", f"{PATH}/{quote(finding_id, safe='')}", json=payload.body())

    def archive_finding(self, finding_id: str) -> Finding:
        return self.update_finding(finding_id, FindingUpdate(is_archived=True))

    def restore_finding(self, finding_id: str) -> Finding:
        return self.update_finding(finding_id, FindingUpdate(is_archived=False))
