"""The ``/v1`` routes of Coverbase assessments and workflow runs (contract §2.5, §2.8)."""

from __future__ import annotations

from starlette.routing import Route

from connector.emulators.coverbase_errors import coded
from connector.emulators.coverbase_http import Api, Ctx, page
from connector.emulators.coverbase_progress import AssessmentProgress
from connector.emulators.coverbase_store import CoverbaseStore


def routes(api: Api, s: CoverbaseStore, progress: AssessmentProgress) -> list[Route]:
    async def post_assessments(c: Ctx):
        with s.lock:
            return 201, s.create_assessment(c.org, c.body or {})

    async def get_assessment(c: Ctx):
        with s.lock:
            return 200, s.assessment_view(s.assessment_in_org(c.org.id, c.request.path_params["assessment_id"]),
                                          with_run=False)

    async def delete_assessment(c: Ctx):
        with s.lock:
            out = s.archive_assessment(c.org.id, c.request.path_params["assessment_id"])
        progress.archived(out["id"])
        return 200, out

    async def post_workflow_run(c: Ctx):
        with s.lock:
            return 201, s.run_workflow(c.org, c.request.path_params["name"], c.body or {})

    async def get_workflow_runs(c: Ctx):
        q = c.request.query_params
        name = q.get("workflow_name")
        if name is not None and name not in c.org.workflows:
            raise coded(404, "workflow_not_found", f"Workflow '{name}' not found.")
        statuses = q.getlist("status")
        with s.lock:
            rows = [r for r in s.workflow_runs.values() if r["org"] == c.org.id
                    and (name is None or r["workflow_name"] == name) and (not statuses or r["status"] in statuses)]
        rows.sort(key=lambda r: -r["_seq"])
        view = [{k: r[k] for k in ("workflow_run_id", "workflow_name", "workflow_definition_id", "status",
                                   "started_at", "completed_at")} | {"step_count": 0} for r in rows]
        return 200, page(view, c.request, key="data", hi=500, default=100)

    async def get_workflow_run(c: Ctx):
        with s.lock:
            r = s.workflow_runs.get(c.request.path_params["run_id"])
            if not r or r["org"] != c.org.id:
                raise coded(404, "workflow_run_not_found", "Workflow run not found.")
            return 200, {k: v for k, v in r.items() if not k.startswith("_") and k not in ("org", "input")}

    return [
        api("/v1/assessments", post_assessments, idempotent=True),
        api("/v1/assessments/{assessment_id}", get_assessment),
        api("/v1/assessments/{assessment_id}", delete_assessment),
        api("/v1/workflows/runs", get_workflow_runs),
        api("/v1/workflows/runs/{run_id}", get_workflow_run),
        api("/v1/workflows/{name}/run", post_workflow_run, idempotent=True),
    ]
