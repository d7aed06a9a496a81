"""What each asset of the code location is, as named specs (no positional tuples).

``ExtractSpec``: an extraction asset and the staging streams it fills. ``PushSpec``: a push asset,
the extraction assets whose records it reads and what it does; its dependencies on other push
assets come from the entity's declaration (``EntitySync.depends_on``, ordered in
``connector/sync/order.py``), never written twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.sync.order import BY_NAME, ORDER


@dataclass(frozen=True)
class ExtractSpec:
    asset: str
    streams: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class PushSpec:
    entity: str  # an entity's name in connector/sync/order.py
    reads: tuple[str, ...]  # the extraction assets whose staged records it plans from
    description: str

    @property
    def asset(self) -> str:
        return f"coverbase_{self.entity}"

    @property
    def ledger_entity(self) -> str:
        return BY_NAME[self.entity].entity

    @property
    def deps(self) -> tuple[str, ...]:
        return tuple(f"coverbase_{d}" for d in BY_NAME[self.entity].depends_on) + self.reads


EXTRACT = (
    ExtractSpec("sn_users", ("users",),
                "ServiceNow `sys_user` rows: the people vendors, engagements and assessments reference."),
    ExtractSpec("sn_vendors", ("vendors", "vendor_types"),
                "ServiceNow `core_company` rows with `vendor=true` "
                "(and the `vendor_type` lookup used by the tag map)."),
    ExtractSpec("sn_vendor_contacts", ("contacts",),
                "ServiceNow `vm_vdr_contact` rows: the primary contact of each vendor."),
    ExtractSpec("sn_engagements", ("engagements",),
                "ServiceNow TPRM engagements (`sn_vdr_risk_asmt_vendor_engagement`), plus the companies they point "
                "at that are not vendors."),
    ExtractSpec("sn_assessments", ("assessments", "templates"),
                "ServiceNow TPRM assessments (`sn_vdr_risk_asmt_assessment`) and their templates."),
    ExtractSpec("sn_issues", ("issues",),
                "ServiceNow TPRM issues (`sn_vdr_risk_asmt_issue`, plus any `issues_<name>` tables of the mapping); "
                "deletions are found by a full id sweep."),
    ExtractSpec("sn_attachments", ("attachments",),
                "Attachment metadata of vendors, engagements and assessments; new or changed files are probed to tell "
                "SBOMs (by content) from documents; deletions are found by a full id sweep."),
)

_PUSH = (
    PushSpec("users", ("sn_users", "sn_vendors", "sn_engagements", "sn_assessments"),
             "People referenced by vendors, engagements and assessments, resolved to Coverbase user ids with "
             "create-or-get (`POST /v1/users`)."),
    PushSpec("vendors", ("sn_vendors", "sn_vendor_contacts"),
             "Vendors: idempotent create keyed by sys_id, external_id lookup, PATCH of changed fields."),
    PushSpec("services", ("sn_engagements",),
             "Engagements as vendor services; never duplicated (read-back before and after creates)."),
    PushSpec("documents", ("sn_attachments",),
             "Attachments streamed into `POST /v1/documents`, content-addressed by sha256; deleted attachments are "
             "archived."),
    PushSpec("boms", ("sn_attachments",),
             "CycloneDX / SPDX SBOMs (detected by content; schema findings are warnings) through the BOM upload flow; "
             "Coverbase's parse status read back."),
    PushSpec("assessments", ("sn_assessments",),
             "Assessments started with idempotency keys derived from the source record; cancelled ones archived."),
    PushSpec("findings", ("sn_issues",),
             "ServiceNow issues as findings on their assessment or vendor, exactly once (write-ahead baseline, "
             "read-back after an ambiguous create); status and due date PATCHed; deleted or cancelled ones archived."),
)

# In the engine's order; every entity has exactly one push asset.
PUSH = tuple(sorted(_PUSH, key=lambda s: [c.name for c in ORDER].index(s.entity)))
assert [s.entity for s in PUSH] == [c.name for c in ORDER], "every entity needs exactly one PushSpec"
