"""Assessments and workflow runs in the Coverbase emulator (contract §2.5, §2.8).

``POST /v1/assessments`` is the one endpoint whose business failures use the free-form
``{"detail": {"error": ...}}`` shape; an assessment may start a workflow run. How assessments then
move through their statuses over time is ``coverbase_progress.py``'s business.
"""

from __future__ import annotations

import hashlib
from typing import Any

from connector.emulators.coverbase_errors import ApiProblem, coded, invalid
from connector.emulators.coverbase_state import Org, StoreState


class AssessmentRecords(StoreState):
    """The assessments and workflow runs part of the store (the caller holds ``lock``)."""

    @staticmethod
    def assessment_view(a: dict, *, with_run: bool) -> dict:
        out = {k: a[k] for k in ("id", "vendor_id", "name", "status", "control_set_ids", "service_ids",
                                 "assignee_id", "score_percent", "findings_count", "initiated_at", "created_at",
                                 "updated_at")}
        if with_run:
            out["workflow_run_id"] = a["workflow_run_id"]
        return out

    def _start_run(self, org: Org, name: str, run_input: Any) -> dict:
        if name not in org.workflows:
            raise coded(404, "workflow_not_found", f"Workflow '{name}' not found.")
        if not org.workflows[name]:
            raise coded(409, "workflow_disabled", f"Workflow '{name}' is disabled.")
        run = {"workflow_run_id": self.new_id("cbwr"), "org": org.id, "workflow_name": name,
               "workflow_definition_id": "cbwd_" + hashlib.md5(name.encode()).hexdigest(), "status": "started",
               "started_at": self.now(), "completed_at": None, "input": run_input, "steps": [],
               "_seq": self.next_seq()}
        self.workflow_runs[run["workflow_run_id"]] = run
        return run

    def create_assessment(self, org: Org, body: dict) -> dict:
        missing = [k for k in ("vendor_id", "control_set_ids") if k not in body]
        if missing:
            raise invalid(*[(["body", k], "Field required", "missing") for k in missing])
        if not isinstance(body["control_set_ids"], list):
            raise invalid((["body", "control_set_ids"], "Input should be a valid list", "list_type"))

        def fail(msg: str) -> ApiProblem:  # the only endpoint with the free-form "error" shape
            return ApiProblem(400, {"detail": {"error": msg}})

        v = self.vendors.get(body["vendor_id"])
        if not v or v["org"] != org.id:
            raise fail(f"Invalid vendor_id: {body['vendor_id']}")
        for cs in body["control_set_ids"]:
            if cs not in org.control_sets:
                raise fail(f"Invalid control_set_ids: {cs}")
        service_ids = body.get("service_ids") or []
        for sid in service_ids:
            if sid not in v["service_ids"]:
                raise fail(f"Invalid service_ids: {sid} is not a service of this vendor")
        assignee = body.get("assignee_id")
        if assignee is not None:
            u = self.users.get(assignee)
            if not u or u["org"] != org.id:
                raise fail(f"Invalid assignee_id: {assignee}")
        docs = body.get("supporting_document_ids") or []
        for did in docs:
            d = self.documents.get(did)
            if not d or d["org"] != org.id or d["is_archived"]:
                raise fail(f"Invalid supporting_document_ids: {did}")
        run = (self._start_run(org, body["trigger_workflow"], {"source": "assessment"})
               if body.get("trigger_workflow") else None)
        now = self.now()
        a = {"id": self.new_id("cbqsrw"), "org": org.id, "vendor_id": v["id"],
             "name": body.get("name") or f"{v['name']} assessment",
             "status": "created", "control_set_ids": list(body["control_set_ids"]), "service_ids": service_ids,
             "assignee_id": assignee, "score_percent": None, "findings_count": 0, "initiated_at": now,
             "created_at": now, "updated_at": now, "workflow_run_id": run["workflow_run_id"] if run else None,
             "is_archived": False, "archived_at": None, "supporting_document_ids": docs, "_seq": self.next_seq()}
        self.assessments[a["id"]] = a
        for did in docs:
            if a["id"] not in self.documents[did]["assessment_ids"]:
                self.documents[did]["assessment_ids"].append(a["id"])
        return self.assessment_view(a, with_run=True)

    def assessment_in_org(self, org: str, aid: str) -> dict:
        a = self.assessments.get(aid)
        if not a or a["org"] != org:
            raise coded(404, "assessment_not_found", "Assessment not found.")
        return a

    def archive_assessment(self, org: str, aid: str) -> dict:
        a = self.assessment_in_org(org, aid)
        if not a["is_archived"]:
            a.update(is_archived=True, archived_at=self.now(), status="canceled", updated_at=self.now())
            for f in self.findings.values():  # "the assessment, its evals and its findings get is_archived"
                if f["assessment_id"] == aid and not f["is_archived"]:
                    f.update(is_archived=True, updated_at=self.now())
        return {"id": a["id"], "status": a["status"], "is_archived": True, "archived_at": a["archived_at"]}

    def run_workflow(self, org: Org, name: str, body: dict) -> dict:
        run = self._start_run(org, name, body.get("input") if isinstance(body.get("input"), dict) else {})
        return {k: run[k] for k in ("workflow_run_id", "workflow_name", "status", "started_at", "input")}
