"""ServiceNow's error framing is recognised only where ServiceNow puts it (response structure),
never by searching what the records say; file bodies are bytes whatever their content type."""

from __future__ import annotations

import json

import httpx
import pytest

from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import (
    CANCELLED,
    ServiceNowBadBody,
    ServiceNowQuotaCancelled,
    validate_body,
)
from tests.conftest import SN_FAST_RETRY

PATH = "/api/now/table/core_company"
NOTE = f"Last review said: {CANCELLED}. Also see \"error\": {{\"message\": \"{CANCELLED}\"}}"


def _resp(body: bytes, ctype: str = "application/json") -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": ctype})


def test_a_record_that_quotes_the_cancel_sentence_is_just_a_record():
    body = json.dumps({"result": [{"sys_id": "a" * 32, "notes": NOTE}]}).encode()
    assert validate_body(_resp(body), "GET", PATH)["result"][0]["notes"] == NOTE


def test_a_body_cut_mid_json_that_ends_in_the_cancel_error_is_a_quota_cancel():
    cut = b'{"result":[{"sys_id":"aaaa","notes":"x"},{"sys_id":"bb'
    tail = json.dumps({"error": {"message": CANCELLED, "detail": "Check logs"}, "status": "failure"}).encode()
    with pytest.raises(ServiceNowQuotaCancelled):
        validate_body(_resp(cut + tail), "GET", PATH)


def test_the_kb_shape_error_next_to_a_partial_result_is_a_quota_cancel():
    body = (b'{"result":[{"sys_id":"a"}],"error":{"message":"' + CANCELLED.encode()
            + b'","detail":null},"status":"failure"}')
    with pytest.raises(ServiceNowQuotaCancelled):
        validate_body(_resp(body), "GET", PATH)


def test_a_cut_body_whose_last_record_quotes_the_sentence_is_a_bad_body_not_a_cancel():
    cut = json.dumps({"result": [{"sys_id": "a" * 32, "notes": NOTE}]}).encode()[:-3]
    with pytest.raises(ServiceNowBadBody):
        validate_body(_resp(cut), "GET", PATH)


def test_a_vendor_whose_notes_quote_the_cancel_sentence_is_read_without_halving_the_page(servicenow, sn):
    vendor = next(iter(servicenow.emu.tables["core_company"]))
    servicenow.emu.update("core_company", vendor, {"notes": NOTE})
    from connector.servicenow.reader import ReadStats, TableReader

    stats = ReadStats()
    rows = [r for p in TableReader(sn, page_size=100).read("core_company", ["sys_id", "notes", "sys_updated_on"],
                                                           stats=stats) for r in p.records]
    assert stats.page_size_halvings == 0 and any(r["notes"] == NOTE for r in rows)


def test_an_attachment_served_as_html_is_downloaded_as_bytes(servicenow, sn):
    page = b"<html><body><h1>Acme trust center</h1></body></html>"
    row = servicenow.emu.add_attachment("core_company", next(iter(servicenow.emu.tables["core_company"])),
                                        "trust-center.html", page, "text/html")
    with sn.stream(f"/api/now/attachment/{row['sys_id']}/file") as resp:
        assert resp.read() == page


def test_html_on_a_json_endpoint_still_says_the_instance_may_be_hibernating():
    def handler(request):
        return httpx.Response(200, content=b"<html>Instance Hibernating</html>", headers={"content-type": "text/html"})

    with ServiceNowClient("https://acme.service-now.com", username="u", password="p", retry=SN_FAST_RETRY,
                          transport=httpx.MockTransport(handler)) as c, pytest.raises(Exception, match="hibernating"):
        c.get_json(PATH)
