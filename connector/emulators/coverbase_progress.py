"""Assessments of the Coverbase emulator move through their statuses over virtual time.

Each assessment gets a seeded schedule when first seen: ``created → collecting_documents →
indexing_supporting_documents → analyzing_questionnaire → review_evals → complete`` (or ``failed``
after the questionnaire, for a seeded share), each step lasting around ``step_seconds`` of the
store's clock (``store.now()``: real time plus the offset ``/_emulator/clock`` advances).
``findings_count`` appears in review and grows at completion, which sets ``score_percent`` (0–1).
Archiving (``DELETE``) makes it ``canceled`` and stops it. Tests drive it with ``advance`` (or set
an assessment by hand, which stops its schedule). Every status change emits
``Assessment.StatusChanged`` to the webhook hub.

Transitions are applied lazily (``tick`` runs before every API request and on a clock change)
from a heap of due times, so a request costs nothing when nothing is due.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from connector.emulators.coverbase_state import StoreState

FLOW = ("created", "collecting_documents", "indexing_supporting_documents", "analyzing_questionnaire",
        "review_evals", "complete")
TERMINAL = frozenset({"complete", "failed", "canceled"})

Emit = Callable[[str, str, dict[str, Any]], None]  # (org, event_type, data)


class ProgressSettings(BaseModel):
    enabled: bool = True
    seed: int = 0
    step_seconds: float = Field(3600.0, gt=0)  # mean virtual time per status
    failed_rate: float = Field(0.05, ge=0, le=1)


class AssessmentProgress:
    def __init__(self, store: StoreState, emit: Emit | None = None,
                 settings: ProgressSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ProgressSettings()
        self.emit: Emit = emit or (lambda org, event_type, data: None)
        self._heap: list[tuple[float, int, str, int]] = []  # (due, tiebreak, assessment id, step index)
        self._plans: dict[str, list[dict[str, Any]]] = {}
        self._seen_status: dict[str, str] = {}
        self._n = 0
        self._lock = threading.RLock()

    def _plan(self, a: dict) -> list[dict[str, Any]]:
        """The seeded schedule: one entry per transition after ``created``."""
        s = self.settings
        digest = hashlib.sha256(f"{s.seed}|{a['name']}".encode()).digest()  # ids are random; names are not
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        t = float(a["created_at"])
        steps: list[dict[str, Any]] = []
        fails = rng.random() < s.failed_rate
        findings = 0
        for status in FLOW[1:]:
            t += s.step_seconds * rng.uniform(0.5, 1.5)
            if fails and status == "review_evals":
                steps.append({"at": t, "status": "failed"})
                break
            step: dict[str, Any] = {"at": t, "status": status}
            if status == "review_evals":
                findings = rng.randint(0, 6)
                step["findings_count"] = findings
            if status == "complete":
                step["findings_count"] = findings + rng.randint(0, 3)
                step["score_percent"] = round(rng.uniform(0.35, 0.98), 4)
            steps.append(step)
        return steps

    def _track_new(self) -> None:
        for aid, a in self.store.assessments.items():
            if aid in self._seen_status:
                continue
            self._seen_status[aid] = a["status"]
            self.emit(a["org"], "Assessment.Created", {"assessment_id": aid})
            if a["is_archived"] or a["status"] in TERMINAL:
                continue
            self._plans[aid] = self._plan(a)
            self._n += 1
            heapq.heappush(self._heap, (self._plans[aid][0]["at"], self._n, aid, 0))

    def tick(self) -> None:
        with self.store.lock, self._lock:
            if len(self._seen_status) != len(self.store.assessments):
                self._track_new()
            if not self.settings.enabled:
                return
            now = self.store.now()
            while self._heap and self._heap[0][0] <= now:
                _, _, aid, index = heapq.heappop(self._heap)
                plan = self._plans.get(aid)
                a = self.store.assessments.get(aid)
                if plan is None or a is None or a["is_archived"]:
                    continue
                step = plan[index]
                self._apply(a, {k: v for k, v in step.items() if k != "at"}, at=int(step["at"]))
                if index + 1 < len(plan):
                    self._n += 1
                    heapq.heappush(self._heap, (plan[index + 1]["at"], self._n, aid, index + 1))

    def _apply(self, a: dict, change: dict[str, Any], *, at: int) -> None:
        old = a["status"]
        a.update(change)
        a["updated_at"] = at
        self._status_changed(a, old)

    def _status_changed(self, a: dict, old: str) -> None:
        if a["status"] != old:
            self._seen_status[a["id"]] = a["status"]
            self.emit(a["org"], "Assessment.StatusChanged",
                      {"assessment_id": a["id"], "old_status": old, "new_status": a["status"]})

    # --- control (tests, admin routes) ------------------------------------------------------

    def advance(self, seconds: float) -> int:
        """Move the store's clock forward and apply what fell due; returns the new time."""
        with self.store.lock:
            self.store.clock_offset += seconds
        self.tick()
        return self.store.now()

    def set_by_hand(self, assessment_id: str, change: dict[str, Any]) -> dict:
        """Set status / score_percent / findings_count directly; the schedule of that assessment stops."""
        allowed = {k: change[k] for k in ("status", "score_percent", "findings_count") if k in change}
        with self.store.lock, self._lock:
            self.tick()
            a = self.store.assessments[assessment_id]
            self._plans.pop(assessment_id, None)
            self._apply(a, allowed, at=self.store.now())
            return dict(a)

    def archived(self, assessment_id: str) -> None:
        """After a DELETE: the assessment stops, and its move to ``canceled`` is an event."""
        with self.store.lock, self._lock:
            a = self.store.assessments.get(assessment_id)
            if a is None:
                return
            self._plans.pop(assessment_id, None)
            self._status_changed(a, self._seen_status.get(assessment_id, a["status"]))

    def set_settings(self, patch: dict) -> ProgressSettings:
        self.settings = ProgressSettings.model_validate({**self.settings.model_dump(), **patch})
        return self.settings

    def routes(self) -> list:
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def settings(request: Request) -> Response:
            if request.method == "PUT":
                self.set_settings(await request.json())
            return JSONResponse(self.settings.model_dump())

        async def by_hand(request: Request) -> Response:
            aid = request.path_params["assessment_id"]
            if aid not in self.store.assessments:
                return JSONResponse({"error": "no such assessment"}, status_code=404)
            a = self.set_by_hand(aid, await request.json())
            return JSONResponse({k: v for k, v in a.items() if not k.startswith("_") and k != "org"})

        return [Route("/_emulator/progress", settings, methods=["GET", "PUT"]),
                Route("/_emulator/assessments/{assessment_id}", by_hand, methods=["PATCH"])]
