"""Typed request and response models of the Coverbase API (shared/docs/coverbase-api.md §2).

Request payloads forbid unknown keys, so a typo in the mapping fails in our process rather
than being ignored by the API. Responses ignore unknown keys: Coverbase adds fields (e.g.
``custom_fields``) without notice and a sync must not break on that.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def body(self) -> dict[str, Any]:
        """JSON body: ``None`` means "omit" everywhere in this API (PATCH null = no change)."""
        return self.model_dump(mode="json", exclude_none=True)


class Resource(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- shared -------------------------------------------------------------------------------


class PrimaryContact(Payload):
    email: str
    name: str | None = None
    title: str | None = None
    phone_number: str | None = None


class PrimaryContactOut(Resource):
    email: str | None = None
    name: str | None = None
    title: str | None = None
    phone_number: str | None = None


class AuthTest(Resource):
    msg: str


# --- users --------------------------------------------------------------------------------

Role = Literal[
    "org:admin", "org:member", "org:siloed_member", "org:guest", "org:auxiliary_member",
    "org:service_account", "member", "basic_member", "org:basic_member", "admin",
]


class UserCreate(Payload):
    email: str
    first_name: str | None = None
    last_name: str | None = None
    role: Role | None = None


class UserUpdate(Payload):
    role: Role | None = None
    is_archived: bool | None = None


class User(Resource):
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    status: str | None = None
    is_archived: bool = False
    created_at: int | None = None
    updated_at: int | None = None


class UserResolution(Resource):
    """Outcome of create-or-get: ``created`` is True for 201, False for 200 (already in org)."""

    user: User
    created: bool


# --- vendors and services -----------------------------------------------------------------


class VendorCreate(Payload):
    name: str
    website: str | None = None
    description: str | None = None
    hq_location: str | None = None
    use_case: str | None = None
    external_id: str | None = None
    risk_analyst_ids: list[str] | None = None
    relationship_owner_ids: list[str] | None = None
    watcher_ids: list[str] | None = None
    primary_contact: PrimaryContact | None = None


class VendorUpdate(Payload):
    name: str | None = None
    website: str | None = None
    description: str | None = None
    hq_location: str | None = None
    use_case: str | None = None
    engagement_type: str | None = None
    status_id: str | None = None
    tag_ids: list[str] | None = None
    risk_analyst_ids: list[str] | None = None
    relationship_owner_ids: list[str] | None = None
    watcher_ids: list[str] | None = None
    inherent_risk_level_id: str | None = None
    residual_risk_level_id: str | None = None
    primary_contact: PrimaryContact | None = None


class Service(Resource):
    id: str
    vendor_id: str | None = None
    name: str
    description: str | None = None
    external_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    relationship_owner_ids: list[str] = Field(default_factory=list)
    watcher_ids: list[str] = Field(default_factory=list)
    primary_contact: PrimaryContactOut | None = None
    created_at: int | None = None


class VendorSummary(Resource):
    id: str
    external_id: str | None = None
    name: str
    website: str | None = None
    description: str | None = None
    hq_location: str | None = None
    status: str | None = None
    status_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    use_case: str | None = None
    tier: str | None = None
    primary_contact: PrimaryContactOut | None = None
    created_at: int | None = None
    updated_at: int | None = None


class Vendor(VendorSummary):
    risk_analyst_ids: list[str] = Field(default_factory=list)
    relationship_owner_ids: list[str] = Field(default_factory=list)
    watcher_ids: list[str] = Field(default_factory=list)
    inherent_risk_level_id: str | None = None
    residual_risk_level_id: str | None = None
    engagement_type: str | None = None
    services: list[Service] = Field(default_factory=list)


class ServiceCreate(Payload):
    name: str
    description: str | None = None
    external_id: str | None = None
    tag_ids: list[str] | None = None
    relationship_owner_ids: list[str] | None = None
    watcher_ids: list[str] | None = None
    primary_contact: PrimaryContact | None = None


class ServiceUpdate(Payload):
    name: str | None = None
    description: str | None = None
    tag_ids: list[str] | None = None
    relationship_owner_ids: list[str] | None = None
    watcher_ids: list[str] | None = None
    primary_contact: PrimaryContact | None = None


# --- documents ----------------------------------------------------------------------------


class DocumentFields(Payload):
    """The non-file form fields of ``POST /v1/documents`` (lists become repeated fields)."""

    vendor_id: str
    service_ids: list[str] = Field(default_factory=list)
    assessment_ids: list[str] = Field(default_factory=list)
    document_type: str | None = None
    name: str | None = None

    def form_fields(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = [("vendor_id", self.vendor_id)]
        out += [("service_ids", s) for s in self.service_ids]
        out += [("assessment_ids", a) for a in self.assessment_ids]
        if self.document_type:
            out.append(("document_type", self.document_type))
        if self.name:
            out.append(("name", self.name))
        return out


class DocumentUpdate(Payload):
    name: str | None = None
    document_type: str | None = None
    service_ids: list[str] | None = None
    assessment_ids: list[str] | None = None


class Document(Resource):
    id: str
    vendor_id: str
    name: str
    extension: str | None = None
    size: int | None = None
    document_type: str | None = None
    status: str | None = None
    service_ids: list[str] = Field(default_factory=list)
    assessment_ids: list[str] = Field(default_factory=list)
    created_at: int | None = None
    updated_at: int | None = None


class Archived(Resource):
    id: str
    is_archived: bool
    archived_at: int | None = None
    status: str | None = None


class DocumentDownload(Resource):
    url: str
    filename: str
    expires_in: int


# --- bills of materials -------------------------------------------------------------------


class BomCreate(Payload):
    vendor_id: str
    s3_url: str
    size: int
    name: str
    extension: str
    service_ids: list[str] | None = None


class BomDocument(Resource):
    id: str | None = None
    name: str | None = None
    s3_url: str | None = None
    size: int | None = None
    extension: str | None = None
    created_at: int | None = None


class BomComponent(Resource):
    id: str
    name: str
    version: str | None = None
    purl: str | None = None
    component_type: str | None = None
    licenses: list[Any] = Field(default_factory=list)


class Bom(Resource):
    id: str
    vendor_id: str
    vendor_document_id: str | None = None
    format: str | None = None
    bom_type: str | None = None
    parse_status: str | None = None
    spec_version: str | None = None
    serial_number: str | None = None
    component_count: int = 0
    name: str | None = None
    parse_error: str | None = None
    is_archived: bool = False
    service_ids: list[str] = Field(default_factory=list)
    document: BomDocument | None = None
    components: list[BomComponent] | None = None
    created_at: int | None = None
    updated_at: int | None = None


# --- assessments and workflows ------------------------------------------------------------


class AssessmentCreate(Payload):
    vendor_id: str
    # Required by the API even when empty: never excluded from the body.
    control_set_ids: list[str]
    name: str | None = None
    assessment_name_format: str | None = None
    service_ids: list[str] | None = None
    assignee_id: str | None = None
    trigger_workflow: str | None = None
    supporting_document_ids: list[str] | None = None

    def body(self) -> dict[str, Any]:
        out = super().body()
        out["control_set_ids"] = list(self.control_set_ids)
        return out


class Assessment(Resource):
    id: str
    vendor_id: str
    name: str | None = None
    status: str | None = None
    control_set_ids: list[str] = Field(default_factory=list)
    service_ids: list[str] = Field(default_factory=list)
    assignee_id: str | None = None
    score_percent: float | None = None
    findings_count: int = 0
    initiated_at: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    workflow_run_id: str | None = None
    is_archived: bool = False


class WorkflowRunRequest(Payload):
    input: dict[str, Any] = Field(default_factory=dict)


class WorkflowRun(Resource):
    workflow_run_id: str
    workflow_name: str | None = None
    status: str
    started_at: int | None = None
    completed_at: int | None = None
    input: dict[str, Any] | None = None


# --- findings ----------------------------------------------------------------------------


class FindingCreate(Payload):
    """``POST /v1/findings``: exactly one target (checked here, so a bad mapping never reaches the API)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: str = Field(min_length=1)
    # The wire name is ``body``, which ``Payload.body()`` (the JSON of the request) already uses.
    text: str | None = Field(None, alias="body")
    vendor_id: str | None = None
    assessment_id: str | None = None
    finding_status_id: str | None = None
    due_date: int | None = None  # Unix seconds

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    @model_validator(mode="after")
    def _one_target(self) -> FindingCreate:
        if (self.vendor_id is None) == (self.assessment_id is None):
            raise ValueError("exactly one of vendor_id or assessment_id")
        return self


class FindingUpdate(Payload):
    """``PATCH /v1/findings/{id}``: title and body cannot be changed; null means no change."""

    finding_status_id: str | None = None
    due_date: int | None = None
    is_archived: bool | None = None


class Finding(Resource):
    id: str
    public_idx: str | None = None
    vendor_id: str | None = None
    assessment_id: str | None = None
    finding_status_id: str | None = None
    due_date: int | None = None
    is_archived: bool = False
    created_at: int | None = None
    updated_at: int | None = None
    # Not in the documented object; a real Coverbase may send them (contract §4 q7). None: not sent.
    title: str | None = None
    body: str | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int | None
