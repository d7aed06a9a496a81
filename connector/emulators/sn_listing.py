"""What the list endpoints of the emulated instance share (Table API and Attachment API lists).

``sysparm_limit`` / ``sysparm_offset`` checked as ServiceNow does; the encoded query
(``sn_query``); the order (``ORDERBY``, or none promised: rows shuffle per request unless
switched off); hidden ``ZZ_YY`` attachments; rows a row ACL hides after paging; and the
``X-Total-Count`` and ``Link`` headers (servicenow.md §1.5).
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from connector.emulators import sn_query
from connector.emulators.sn_instance import ServiceNowInstance
from connector.emulators.sn_responses import sn_error


def paging(request: Request, default_limit: int) -> tuple[int, int] | Response:
    q = request.query_params
    try:
        limit = int(q.get("sysparm_limit", default_limit))
        offset = int(q.get("sysparm_offset", 0))
    except ValueError:
        return sn_error(400, "Invalid value given for sysparm_limit or sysparm_offset")
    if limit <= 0:
        return sn_error(400, "Invalid value given for sysparm_limit", "sysparm_limit value must be a positive integer")
    if offset < 0:
        return sn_error(400, "Invalid value given for sysparm_offset")
    return limit, offset


def select(inst: ServiceNowInstance, table: str, request: Request, default_limit: int, *,
           include_hidden: bool = False) -> tuple[list[dict[str, str]], int, int, int] | Response:
    """The page of ``table`` a list request asks for: ``(rows, total, limit, offset)``, or the error."""
    q = request.query_params
    asked = paging(request, default_limit)
    if isinstance(asked, Response):
        return asked
    limit, offset = asked
    types = inst.table_types(table)
    query = sn_query.parse(q.get("sysparm_query", ""), set(types))
    match = sn_query.matcher(query, types, inst.faults.invalid_query_returns_no_rows)
    with inst.lock:
        rows = [r for r in inst.rows_of(table) if match(r)]
    if table == "sys_attachment" and not include_hidden and "ZZ_YY" not in q.get("sysparm_query", ""):
        rows = [r for r in rows if not r.get("table_name", "").startswith("ZZ_YY")]
    if query.order:
        rows.sort(key=sn_query.sort_key(query.order, types))
    elif inst.faults.unstable_order:
        inst.order_rng.shuffle(rows)  # no ORDERBY, no promise: missing tie-breaks show up
    total = len(rows)
    page = rows[offset: offset + limit]
    if inst.faults.acl_hide_rate:
        rate = inst.faults.acl_hide_rate
        page = [r for r in page if int(hashlib.md5(r["sys_id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF >= rate]
    return page, total, limit, offset


def link_headers(request: Request, total: int, limit: int, offset: int) -> dict[str, str]:
    q = request.query_params
    headers: dict[str, str] = {}
    if q.get("sysparm_no_count", "false") != "true":
        headers["X-Total-Count"] = str(total)
    if q.get("sysparm_suppress_pagination_header", "false") != "true":
        base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        params = dict(q)

        def link(off: int, rel: str) -> str:
            return f'<{base}?{urlencode({**params, "sysparm_offset": off, "sysparm_limit": limit})}>;rel="{rel}"'

        parts = [link(0, "first")]
        if offset > 0:
            parts.append(link(max(0, offset - limit), "prev"))
        if offset + limit < total:
            parts.append(link(offset + limit, "next"))
        parts.append(link(max(0, ((total - 1) // limit) * limit) if total else 0, "last"))
        headers["Link"] = ",".join(parts)
    return headers
