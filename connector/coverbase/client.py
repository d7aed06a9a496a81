"""CoverbaseClient: the one object every Coverbase call goes through.

Retry decisions (contract §1.8, §3 items 5, 8, 11):
- GET, PATCH, DELETE, PUT and POSTs that carry an ``Idempotency-Key`` are safe to re-send:
  5xx, timeouts and resets are retried with backoff;
- ``POST /v1/users`` is create-or-get by email, so it is safe even without a key;
- other POSTs (services, BOMs, findings) are not: a lost response raises ``CoverbaseAmbiguousWrite``
  and the caller reads back before trying again;
- a 429, or a connection that was never established, is safe for every method because the
  server did not process the request.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, Unpack
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from connector.coverbase.boms_api import BomsApi
from connector.coverbase.errors import (
    CoverbaseAmbiguousWrite,
    CoverbaseError,
    CoverbaseNotFound,
    CoverbaseRateLimited,
    CoverbaseTransportError,
    CoverbaseUnexpectedResponse,
    error_from_response,
    request_id_of,
    retry_after_of,
)
from connector.coverbase.findings import FindingsApi
from connector.coverbase.models import (
    Archived,
    Assessment,
    AssessmentCreate,
    AuthTest,
    Document,
    DocumentDownload,
    DocumentFields,
    DocumentUpdate,
    Payload,
    Service,
    ServiceCreate,
    ServiceUpdate,
    User,
    UserCreate,
    UserResolution,
    UserUpdate,
    Vendor,
    VendorCreate,
    VendorSummary,
    VendorUpdate,
    WorkflowRun,
    WorkflowRunRequest,
)
from connector.coverbase.webhooks import Webhook, WebhookCreate, WebhookUpdate
from connector.errors import ConfigError
from connector.http.multipart import ByteSource, MultipartBody
from connector.http.nocookies import CookielessClient
from connector.http.paginators import OffsetPaginator, paginate
from connector.http.plumbing import HttpOptions, PlumbedClient, Plumbing
from connector.http.requestlog import CallCounter, RequestHook
from connector.http.retrying import RetrySettings, call_with_retries
from connector.http.safety import require_safe_base_url
from connector.http.transport import ATTEMPT, NOT_SENT, USER_AGENT

DEFAULT_API_URL = "https://api.coverbase.app"
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
MAX_PAGE = 200

M = TypeVar("M", bound=BaseModel)

def _seg(value: str) -> str:
    return quote(value, safe="")


def list_items(body: Any, path: str) -> tuple[list[Any], dict[str, Any]]:
    """(items, body) of a list answer, whichever envelope (§1.7: ``items``, or ``data``)."""
    if not isinstance(body, dict):
        raise CoverbaseUnexpectedResponse("list response is not an object", method="GET", path=path)
    items = body.get("items", body.get("data"))
    if not isinstance(items, list):
        raise CoverbaseUnexpectedResponse(f"list envelope without items/data (keys {sorted(body)})", method="GET",
                                          path=path)
    return items, body


def list_total(body: dict[str, Any]) -> int | None:
    """The list's total: ``total`` (items and most data lists) or ``total_count`` (BOM lists)."""
    total = body.get("total", body.get("total_count"))
    return total if isinstance(total, int) else None


def _is_safe(method: str, idempotency_key: str | None, retry_safe: bool | None) -> bool:
    if retry_safe is not None:
        return retry_safe
    return method in SAFE_METHODS or idempotency_key is not None


class CoverbaseClient(PlumbedClient, BomsApi, FindingsApi):
    def __init__(self, base_url: str, api_key: str, **options: Unpack[HttpOptions]) -> None:
        self.base_url = require_safe_base_url(base_url or DEFAULT_API_URL, "COVERBASE_API_URL")
        if not api_key:
            raise ConfigError("COVERBASE_API_KEY is not set")
        self.request_hook: RequestHook | None = options.get("request_hook")
        self.plumbing = Plumbing(options, name="Coverbase", api="coverbase", default_concurrency=8,
                                 default_retry=RetrySettings(), hook=lambda: self.request_hook,
                                 retry_after=retry_after_of)
        p = self.plumbing
        self.retry, self.calls, self.gate, self._sleep = p.retry, p.calls, p.gate, p.sleep
        self.storage_calls = CallCounter()  # presigned uploads: not Coverbase API calls
        self._http = CookielessClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            timeout=p.timeouts, transport=p.transport, follow_redirects=False)
        # Presigned upload targets must never receive the bearer token, and their URL (a signature
        # in the query) is never logged.
        storage = p.ungated(calls=self.storage_calls, max_connections=p.max_concurrency * 2,
                            path_label=lambda r: "presigned-upload")
        self._plain = CookielessClient(timeout=p.timeouts, transport=storage,
                                   headers={"User-Agent": USER_AGENT})

    # --- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
        self._plain.close()

    def __repr__(self) -> str:
        return f"CoverbaseClient({self.base_url!r})"


    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        body: MultipartBody | None = None,
        idempotency_key: str | None = None,
        retry_safe: bool | None = None,
        allow_status: Sequence[int] = (),
        client: httpx.Client | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; return a 2xx response (or one in ``allow_status``)."""
        safe = _is_safe(method, idempotency_key, retry_safe)
        http = client or self._http
        attempt = 0

        def once() -> httpx.Response:
            nonlocal attempt
            attempt += 1
            headers = dict(extra_headers or {})
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            content: bytes | Iterator[bytes] | None = None
            json_body = json
            if isinstance(json, Payload):  # serialized by pydantic-core in one pass, None meaning omit
                content, json_body = json.model_dump_json(exclude_none=True).encode(), None
                headers["Content-Type"] = "application/json"
            if body is not None:
                headers["Content-Type"] = body.content_type_header
                if body.content_length is not None:
                    headers["Content-Length"] = str(body.content_length)
                content = body.chunks()
            try:
                resp = http.request(method, path, params=params, json=json_body, content=content, headers=headers,
                                    extensions={ATTEMPT: attempt})
            except httpx.HTTPError as exc:
                sent = not isinstance(exc, NOT_SENT)
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if sent and not safe:
                    raise CoverbaseAmbiguousWrite(f"no response ({reason}); the write may have been committed",
                                                  method=method, path=path) from None
                raise CoverbaseTransportError(reason, sent=sent, method=method, path=path) from None
            if resp.is_success or resp.status_code in allow_status:
                return resp
            err = error_from_response(resp, method, path)
            if err.retryable and not safe and not isinstance(err, CoverbaseRateLimited):
                raise CoverbaseAmbiguousWrite(
                    f"{err.status} {err.code or ''} {err.message}; the write may have been committed".strip(),
                    status=err.status, code=err.code, method=method, path=path, request_id=err.request_id,
                )
            raise err

        return call_with_retries(once, self.retry, sleep=self._sleep, deadline=self.deadline)

    def _json(self, resp: httpx.Response, method: str, path: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise CoverbaseUnexpectedResponse(
                f"{resp.status_code} response is not JSON", status=resp.status_code,
                method=method, path=path, request_id=request_id_of(resp),
            ) from None

    def _call(self, model: type[M], method: str, path: str, **kw: Any) -> M:
        resp = self._request(method, path, **kw)
        try:
            # pydantic-core parses and validates in one pass (no intermediate dicts).
            return model.model_validate_json(resp.content)
        except ValueError as exc:
            message = f"{resp.status_code} response does not match {model.__name__}: {exc}".splitlines()[0]
            # The server said 2xx: a non-idempotent write did happen, we just cannot read its id.
            unsafe = not _is_safe(method, kw.get("idempotency_key"), kw.get("retry_safe"))
            cls = CoverbaseAmbiguousWrite if unsafe else CoverbaseUnexpectedResponse
            raise cls(message, status=resp.status_code, method=method, path=path,
                      request_id=request_id_of(resp)) from None

    def _paginate(self, model: type[M], path: str, params: dict[str, Any], page_size: int) -> Iterator[M]:
        """Offset paging (``OffsetPaginator``) over any of the three list envelopes of contract §1.7."""

        def fetch(paging: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
            resp = self._request("GET", path, params={**params, **paging})
            return list_items(self._json(resp, "GET", path), path)

        paginator = OffsetPaginator(max(1, min(page_size, MAX_PAGE)), total_of=list_total)
        for items in paginate(fetch, paginator):
            for item in items:
                yield model.model_validate(item)

    # --- utils ------------------------------------------------------------------------------

    def auth_test(self) -> AuthTest:
        return self._call(AuthTest, "GET", "/v1/utils/authtest")

    # --- users ------------------------------------------------------------------------------

    def find_user_by_email(self, email: str) -> User | None:
        resp = self._request("GET", "/v1/users", params={"email": email})
        items = self._json(resp, "GET", "/v1/users").get("items") or []
        return User.model_validate(items[0]) if items else None

    def iter_users(self, *, include_archived: bool = False, page_size: int = MAX_PAGE) -> Iterator[User]:
        params = {"include_archived": "true"} if include_archived else {}
        return self._paginate(User, "/v1/users", params, page_size)

    def create_or_get_user(self, payload: UserCreate, *, idempotency_key: str | None = None) -> UserResolution:
        """201 → created, 200 → already in this org; 409 user_exists raises CoverbaseConflict."""
        # Create-or-get by email is itself safe to repeat, with or without a key.
        resp = self._request("POST", "/v1/users", json=payload,
                             idempotency_key=idempotency_key, retry_safe=True)
        user = User.model_validate(self._json(resp, "POST", "/v1/users"))
        return UserResolution(user=user, created=resp.status_code == 201)

    def get_user(self, user_id: str) -> User:
        return self._call(User, "GET", f"/v1/users/{_seg(user_id)}")

    def update_user(self, user_id: str, payload: UserUpdate) -> User:
        return self._call(User, "PATCH", f"/v1/users/{_seg(user_id)}", json=payload)

    # --- vendors and services ---------------------------------------------------------------

    def create_vendor(self, payload: VendorCreate, *, idempotency_key: str) -> Vendor:
        if not idempotency_key:
            raise ValueError("vendor creation requires an Idempotency-Key (no upsert on external_id)")
        return self._call(Vendor, "POST", "/v1/vendors", json=payload, idempotency_key=idempotency_key)

    def iter_vendors(self, *, external_id: str | None = None, name: str | None = None,
                     page_size: int = MAX_PAGE) -> Iterator[VendorSummary]:
        params = {k: v for k, v in (("external_id", external_id), ("name", name)) if v is not None}
        return self._paginate(VendorSummary, "/v1/vendors", params, page_size)

    def count_vendors(self) -> int:
        """How many vendors the org has (one cheap read: ``limit=1``)."""
        body = self._json(self._request("GET", "/v1/vendors", params={"limit": 1, "offset": 0}), "GET", "/v1/vendors")
        return int(body.get("total") or 0) if isinstance(body, dict) else 0

    def find_vendors_by_external_id(self, external_id: str) -> list[VendorSummary]:
        return list(self.iter_vendors(external_id=external_id))

    def get_vendor(self, vendor_id: str) -> Vendor:
        return self._call(Vendor, "GET", f"/v1/vendors/{_seg(vendor_id)}")

    def update_vendor(self, vendor_id: str, payload: VendorUpdate) -> Vendor:
        return self._call(Vendor, "PATCH", f"/v1/vendors/{_seg(vendor_id)}", json=payload)

    def create_service(self, vendor_id: str, payload: ServiceCreate) -> Service:
        """Not idempotent: a lost response raises CoverbaseAmbiguousWrite; read back first."""
        return self._call(Service, "POST", f"/v1/vendors/{_seg(vendor_id)}/services",
                          json=payload, retry_safe=False)

    def update_service(self, vendor_id: str, service_id: str, payload: ServiceUpdate) -> Service:
        return self._call(Service, "PATCH", f"/v1/vendors/{_seg(vendor_id)}/services/{_seg(service_id)}",
                          json=payload)

    # --- documents --------------------------------------------------------------------------

    def upload_document(
        self,
        fields: DocumentFields,
        *,
        filename: str,
        source: ByteSource,
        content_type: str = "application/octet-stream",
        size: int | None = None,
        idempotency_key: str | None = None,
    ) -> Document:
        """Streamed multipart upload. ``source`` is re-opened on every attempt (path, seekable
        file or a callable returning a fresh byte iterator); the file is never held in memory."""
        body = MultipartBody(fields=fields.form_fields(), file_field="file", filename=filename,
                             source=source, content_type=content_type, file_size=size)
        return self._call(Document, "POST", "/v1/documents", body=body, idempotency_key=idempotency_key)

    def iter_documents(self, *, vendor_id: str | None = None, service_id: str | None = None,
                       assessment_id: str | None = None, page_size: int = MAX_PAGE) -> Iterator[Document]:
        params = {k: v for k, v in (("vendor_id", vendor_id), ("service_id", service_id),
                                    ("assessment_id", assessment_id)) if v}
        return self._paginate(Document, "/v1/documents", params, page_size)

    def get_document(self, document_id: str) -> Document:
        return self._call(Document, "GET", f"/v1/documents/{_seg(document_id)}")

    def update_document(self, document_id: str, payload: DocumentUpdate) -> Document:
        return self._call(Document, "PATCH", f"/v1/documents/{_seg(document_id)}", json=payload)

    def archive_document(self, document_id: str) -> Archived:
        return self._call(Archived, "DELETE", f"/v1/documents/{_seg(document_id)}")

    def document_download(self, document_id: str) -> DocumentDownload:
        return self._call(DocumentDownload, "GET", f"/v1/documents/{_seg(document_id)}/download")

    # --- assessments and workflows ----------------------------------------------------------

    def create_assessment(self, payload: AssessmentCreate, *, idempotency_key: str) -> Assessment:
        if not idempotency_key:
            raise ValueError("assessment creation requires an Idempotency-Key")
        return self._call(Assessment, "POST", "/v1/assessments", json=payload,
                          idempotency_key=idempotency_key)

    def get_assessment(self, assessment_id: str) -> Assessment:
        return self._call(Assessment, "GET", f"/v1/assessments/{_seg(assessment_id)}")

    def archive_assessment(self, assessment_id: str) -> Archived:
        return self._call(Archived, "DELETE", f"/v1/assessments/{_seg(assessment_id)}")

    def run_workflow(self, name: str, input: dict[str, Any] | None = None, *,
                     idempotency_key: str | None = None) -> WorkflowRun:
        return self._call(WorkflowRun, "POST", f"/v1/workflows/{_seg(name)}/run",
                          json=WorkflowRunRequest(input=input or {}), idempotency_key=idempotency_key)

    def workflow_exists(self, name: str) -> bool:
        """A read that predicts ``404 workflow_not_found`` (used by dry runs)."""
        try:
            self._request("GET", "/v1/workflows/runs", params={"workflow_name": name, "limit": 1})
        except CoverbaseNotFound:
            return False
        return True

    # --- webhooks (POST is not idempotent: a lost answer raises CoverbaseAmbiguousWrite) --------

    def create_webhook(self, payload: WebhookCreate) -> Webhook:
        return self._call(Webhook, "POST", "/v1/webhooks", json=payload.body())

    def list_webhooks(self) -> list[Webhook]:
        body = self._json(self._request("GET", "/v1/webhooks"), "GET", "/v1/webhooks")
        return [Webhook.model_validate(w) for w in (body.get("data") or [])] if isinstance(body, dict) else []

    def update_webhook(self, webhook_id: str, payload: WebhookUpdate) -> Webhook:
        return self._call(Webhook, "PATCH", f"/v1/webhooks/{_seg(webhook_id)}", json=payload.body())

    def delete_webhook(self, webhook_id: str) -> None:
        self._request("DELETE", f"/v1/webhooks/{_seg(webhook_id)}")


__all__ = ["CoverbaseClient", "CoverbaseError", "DEFAULT_API_URL"]
