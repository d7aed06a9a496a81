"""The curl examples of the seed pages (S1), replayed against the emulator over HTTP."""

import json
import re
import shlex
from pathlib import Path

import httpx
import pytest

from connector.coverbase.models import ServiceCreate, VendorCreate

EXAMPLES = Path(__file__).parent / "data" / "seed_curl_examples.sh"


def parse_curls(text: str) -> list[dict]:
    out = []
    for block in re.split(r"\n\s*\n", text):
        block = "\n".join(line for line in block.splitlines() if not line.startswith("#")).strip()
        if not block.startswith("curl"):
            continue
        argv = shlex.split(block.replace("\\\n", " "))
        req = {"method": "GET", "headers": {}, "data": None}
        it = iter(argv[1:])
        for a in it:
            if a == "-X":
                req["method"] = next(it)
            elif a == "-H":
                k, v = next(it).split(":", 1)
                req["headers"][k.strip()] = v.strip()
            elif a == "-d":
                req["data"] = next(it)
            else:
                req["url"] = a
        out.append(req)
    return out


@pytest.fixture
def examples():
    return parse_curls(EXAMPLES.read_text())


def replay(coverbase, req, *, data=None):
    url = req["url"].replace("https://api.coverbase.app", coverbase.url)
    headers = {k: (v.replace("ak_live_xxx", coverbase.api_key)) for k, v in req["headers"].items()}
    return httpx.request(req["method"], url, headers=headers, content=data or req["data"])


def test_three_examples_are_parsed(examples):
    assert [e["url"].split("/v1/")[1] for e in examples] == [
        "assessments", "workflows/quarterly-privacy-sweep/run", "workflows/onboard-vendor/run"]


def test_assessment_example_with_unknown_ids_is_the_documented_400(coverbase, examples):
    r = replay(coverbase, examples[0])
    assert r.status_code == 400 and "error" in r.json()["detail"]


def test_assessment_example_with_existing_ids_is_201_and_starts_the_workflow(coverbase, cb, examples):
    body = json.loads(examples[0]["data"])
    v = cb.create_vendor(VendorCreate(name="Acme"), idempotency_key="acme")
    s = cb.create_service(v.id, ServiceCreate(name="Portal"))
    coverbase.emu.store.main_org.control_sets[body["control_set_ids"][0]] = "from the example"
    body.update(vendor_id=v.id, service_ids=[s.id])
    r = replay(coverbase, examples[0], data=json.dumps(body))
    assert r.status_code == 201
    out = r.json()
    assert out["vendor_id"] == v.id and out["status"] == "created" and out["workflow_run_id"].startswith("cbwr_")
    assert out["control_set_ids"] == body["control_set_ids"] and out["findings_count"] == 0


def test_workflow_example_answers_like_the_documented_response(coverbase, examples):
    r = replay(coverbase, examples[1])
    assert r.status_code == 201
    out = r.json()
    assert set(out) == {"workflow_run_id", "workflow_name", "status", "started_at", "input"}
    assert out["workflow_name"] == "quarterly-privacy-sweep" and out["status"] == "started"
    assert out["input"] == {"vendor_filter": {"tags": ["processes_pii"]}, "due_date": "2026-06-30"}
    assert isinstance(out["started_at"], int)


def test_idempotent_workflow_example_replays_the_original_response(coverbase, examples):
    first, second = replay(coverbase, examples[2]), replay(coverbase, examples[2])
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
