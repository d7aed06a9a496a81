"""Paginators without a server: what each asks for first and next, when each stops, and what is an
error; plus the clients' loops over them on ``httpx.MockTransport`` (a page that does not advance,
short pages from row ACLs, the page-size policy, every Coverbase list envelope)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest

from connector.coverbase.client import CoverbaseClient
from connector.http.paginators import (
    Cursor,
    KeysetPaginator,
    OffsetPaginator,
    PageSizePolicy,
    PagingError,
    SysIdPaginator,
    paginate,
)
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import CANCELLED, ServiceNowError
from connector.servicenow.reader import TableReader
from tests.conftest import FAST_RETRY, SN_FAST_RETRY


def row(ts: str, sid: str) -> dict:
    return {"sys_updated_on": ts, "sys_id": sid}


# --- the paginators alone ------------------------------------------------------------------------

def test_the_keyset_paginator_moves_its_cursor_to_the_last_row_of_each_page():
    p = KeysetPaginator("vendor=true", where="core_company")
    assert p.first()["sysparm_query"] == "vendor=true^ORDERBYsys_updated_on^ORDERBYsys_id"
    nxt = p.next([row("2026-10-01 00:00:00", "a"), row("2026-10-01 00:00:01", "b")], None)
    assert p.cursor == Cursor("2026-10-01 00:00:01", "b")
    assert "sys_updated_on>2026-10-01 00:00:01^NQvendor=true^sys_updated_on=2026-10-01 00:00:01^sys_id>b" in \
        nxt["sysparm_query"]


def test_the_keyset_paginator_stops_on_an_empty_page_not_a_short_one():
    p = KeysetPaginator()
    assert p.next([row("2026-10-01 00:00:00", "a")], None) is not None  # one row: ACLs shrink pages
    assert p.next([], None) is None


def test_a_page_that_does_not_advance_the_keyset_cursor_is_an_error():
    p = KeysetPaginator(where="core_company", after=Cursor("2026-10-01 00:00:05", "m"))
    with pytest.raises(PagingError, match="core_company: keyset cursor did not advance"):
        p.next([row("2026-10-01 00:00:05", "m")], None)


def test_the_sys_id_sweep_stops_empty_and_refuses_to_go_backwards():
    p = SysIdPaginator("table_nameINcore_company")
    assert p.first()["sysparm_query"] == "table_nameINcore_company^ORDERBYsys_id"
    assert p.next([{"sys_id": "b"}], None)["sysparm_query"] == "table_nameINcore_company^sys_id>b^ORDERBYsys_id"
    with pytest.raises(PagingError):
        p.next([{"sys_id": "a"}], None)
    assert SysIdPaginator().next([], None) is None


def test_the_offset_paginator_stops_at_the_total_or_on_an_empty_page():
    p = OffsetPaginator(2, total_of=lambda body: body["total"])
    assert p.first() == {"limit": 2, "offset": 0}
    assert p.next([1, 2], {"total": 3}) == {"limit": 2, "offset": 2}
    assert p.next([3], {"total": 3}) is None
    q = OffsetPaginator(2)  # a list that gives no total
    assert q.next([1, 2], {}) == {"limit": 2, "offset": 2}
    assert q.next([], {}) is None


def test_the_page_size_halves_on_cancels_and_comes_back_after_good_pages():
    sizes = PageSizePolicy(1000, floor=100, restore_after=2, cancels_at_floor=1)
    assert sizes.cancel() and sizes.size == 500
    assert sizes.cancel() and sizes.cancel() and sizes.size == 125
    assert sizes.cancel() and sizes.size == 100 and sizes.halvings == 4
    assert sizes.cancel()  # at the floor: one more try
    assert not sizes.cancel()  # then give up
    sizes.success()
    sizes.success()
    assert sizes.size == 200


def test_the_loop_yields_every_page_until_the_paginator_says_stop():
    pages = iter([[1, 2], [3], []])
    assert list(paginate(lambda params: (next(pages), None), OffsetPaginator(2))) == [[1, 2], [3], []]


# --- the clients' loops on a mock transport -------------------------------------------------------

def _servicenow(handler) -> ServiceNowClient:
    return ServiceNowClient("https://acme.service-now.com", username="u", password="p", retry=SN_FAST_RETRY,
                            transport=httpx.MockTransport(handler))


def _sn_rows(request: httpx.Request, rows: list[dict]) -> httpx.Response:
    return httpx.Response(200, json={"result": rows}, headers={"content-type": "application/json"})


def test_the_reader_fails_clearly_when_the_instance_ignores_the_ordering():
    same = [row("2026-10-01 00:00:00", "a")]
    with _servicenow(lambda r: _sn_rows(r, same)) as client, pytest.raises(ServiceNowError, match="did not advance"):
        list(TableReader(client, page_size=10).read("core_company", ["name"]))


def test_the_reader_halves_its_page_on_a_cancel_and_reads_on():
    limits: list[int] = []
    served = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(parse_qs(request.url.query.decode())["sysparm_limit"][0])
        limits.append(limit)
        if limit > 250:
            tail = json.dumps({"error": {"message": CANCELLED, "detail": "x"}, "status": "failure"}).encode()
            return httpx.Response(200, content=b'{"result":[{"sys_id":"a' + tail,
                                  headers={"content-type": "application/json"})
        served["n"] += 1
        rows = [row("2026-10-01 00:00:00", f"{served['n']:02d}")] if served["n"] < 3 else []
        return _sn_rows(request, rows)

    with _servicenow(handler) as client:
        pages = list(TableReader(client, page_size=1000, min_page_size=25).read("core_company", ["name"]))
    assert [len(p.records) for p in pages] == [1, 1]
    assert limits[:3] == [1000, 500, 250]


def test_the_coverbase_loop_reads_every_envelope_to_its_total():
    users = [{"id": f"cbuser_{i:032x}", "email": f"u{i}@example.com"} for i in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        q = parse_qs(request.url.query.decode())
        limit, offset = int(q["limit"][0]), int(q["offset"][0])
        key = "data" if "data" in request.url.path else "items"
        return httpx.Response(200, json={key: users[offset:offset + limit], "total": len(users)})

    with CoverbaseClient("https://api.example.com", "ak_x", retry=FAST_RETRY,
                         transport=httpx.MockTransport(handler)) as cb:
        got = list(cb.iter_users(page_size=2))
    assert [u.email for u in got] == [u["email"] for u in users]
