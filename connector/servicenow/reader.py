"""Keyset paging over ``(sys_updated_on, sys_id)`` (tap-servicenow's pattern, servicenow.md Pitfalls 1–3, 9).

A page after cursor ``(T, S)`` asks for
``<filter>^sys_updated_on>T^NQ<filter>^sys_updated_on=T^sys_id>S^ORDERBYsys_updated_on^ORDERBYsys_id``:
a unique, stable order, so rows inserted or updated while we read never shift a page and
hundreds of rows sharing one second are walked by sys_id. Reading stops on an *empty* page
(row ACLs make short pages normal). A sys_id seen earlier in the same read is not returned
again; the next incremental read starts at ``min(last cursor, server time at start) - lag``
and so picks up whatever changed while we were reading.

On "Transaction cancelled: maximum execution time exceeded" the page size is halved, and
doubled back after a run of good pages.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.errors import ConfigError
from connector.http.paginators import (
    Cursor,
    KeysetPaginator,
    PageSizePolicy,
    PagingError,
    SysIdPaginator,
    keyset_query,
    paginate,
)

__all__ = ["ATTACHMENT_PATH", "Cursor", "Page", "ReadStats", "TABLE_PATH", "TableReader", "check_base_query",
           "format_sn_time", "incremental_since", "keyset_query", "parse_sn_time"]
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import ServiceNowError, ServiceNowQuotaCancelled

SN_TIME = "%Y-%m-%d %H:%M:%S"
TABLE_PATH = "/api/now/table/{table}"
ATTACHMENT_PATH = "/api/now/attachment"


def parse_sn_time(value: str) -> datetime:
    return datetime.strptime(value, SN_TIME).replace(tzinfo=UTC)


def format_sn_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(SN_TIME)


@dataclass
class Page:
    records: list[dict[str, Any]]
    cursor: Cursor
    page_size: int


@dataclass
class ReadStats:
    pages: int = 0
    records: int = 0
    duplicates_dropped: int = 0
    page_size_halvings: int = 0
    server_started_at: str | None = None  # server clock when the read began (next watermark bound)
    last_cursor: Cursor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check_base_query(base: str, where: str) -> None:
    if "^NQ" in base or "ORDERBY" in base:
        raise ConfigError(f"{where}: the filter {base!r} may not contain ^NQ or ORDERBY (the reader adds its own)")


def incremental_since(cursor: Cursor | None, server_started_at: str | None, lag_seconds: int) -> str | None:
    """Where the next incremental read starts: the earlier of the last cursor and the server
    time the previous read began, minus the lag window (late commits, clock skew)."""
    if cursor is None:
        return None
    start = parse_sn_time(cursor.updated_on)
    if server_started_at:
        start = min(start, parse_sn_time(server_started_at))
    return format_sn_time(start - timedelta(seconds=lag_seconds))


def _server_time(http_date: str | None) -> str | None:
    if not http_date:
        return None
    try:
        return format_sn_time(email.utils.parsedate_to_datetime(http_date))
    except (TypeError, ValueError):
        return None


class TableReader:
    def __init__(self, client: ServiceNowClient, *, page_size: int = 1000, min_page_size: int = 25,
                 restore_after: int = 5, cancels_at_min: int = 5) -> None:
        self.client = client
        self.page_size = page_size
        self.min_page_size = min(min_page_size, page_size)
        self.restore_after = restore_after
        self.cancels_at_min = cancels_at_min

    def read(
        self,
        table: str,
        fields: list[str] | None,
        *,
        base_query: str = "",
        since: str | None = None,
        until: str | None = None,
        after: Cursor | None = None,
        attachments: bool = False,
        stats: ReadStats | None = None,
    ) -> Iterator[Page]:
        """Yield pages of raw records (all values strings) in (sys_updated_on, sys_id) order."""
        check_base_query(base_query, f"table {table}")
        stats = stats if stats is not None else ReadStats()
        path = ATTACHMENT_PATH if attachments else TABLE_PATH.format(table=table)
        wanted = None if fields is None else sorted({*fields, "sys_id", "sys_updated_on"})
        fixed: dict[str, Any] = {}
        if not attachments:
            fixed.update(sysparm_display_value="false", sysparm_exclude_reference_link="true",
                         sysparm_no_count="true", sysparm_suppress_pagination_header="true")
            if wanted:
                fixed["sysparm_fields"] = ",".join(wanted)
        sizes = PageSizePolicy(self.page_size, floor=self.min_page_size, restore_after=self.restore_after,
                               cancels_at_floor=self.cancels_at_min)
        keyset = KeysetPaginator(base_query, since=since, until=until, after=after, where=table)
        seen: set[str] = set()

        def fetch(params: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
            while True:
                try:
                    body = self.client.get_json(path, {**params, **fixed, "sysparm_limit": sizes.size},
                                                retry_cancels=False)
                except ServiceNowQuotaCancelled:
                    if sizes.cancel():
                        continue
                    raise
                sizes.success()
                break
            if stats.server_started_at is None:
                stats.server_started_at = _server_time(self.client.last_server_date)
            rows = body["result"]
            if not isinstance(rows, list):
                raise ServiceNowError("list response 'result' is not an array", method="GET", path=path)
            for r in rows:
                if not r.get("sys_id") or not r.get("sys_updated_on"):
                    raise ConfigError(
                        f"{table}: a row came back without sys_id/sys_updated_on (a field ACL hides the cursor "
                        "columns from the integration user); keyset paging cannot continue safely")
            keyset.check(rows)  # a page that does not advance is an error before it is used
            return rows, body

        try:
            for rows in paginate(fetch, keyset):
                stats.page_size_halvings = sizes.halvings
                if not rows:
                    return
                cursor = Cursor(rows[-1]["sys_updated_on"], rows[-1]["sys_id"])
                fresh = [r for r in rows if r["sys_id"] not in seen]
                stats.duplicates_dropped += len(rows) - len(fresh)
                seen.update(r["sys_id"] for r in fresh)
                stats.pages += 1
                stats.records += len(fresh)
                stats.last_cursor = cursor
                yield Page(fresh, cursor, sizes.size)
        except PagingError as exc:
            raise ServiceNowError(str(exc), method="GET", path=path) from None

    def list_ids(self, table: str, *, base_query: str = "", attachments: bool = False) -> set[str]:
        """Every sys_id currently visible (keyset by sys_id): the reconciliation that finds
        deletions no ``sys_updated_on`` watermark can see."""
        path = ATTACHMENT_PATH if attachments else TABLE_PATH.format(table=table)
        # Only ids travel, so pages can be large: fewer round trips for the sweep.
        fixed: dict[str, Any] = {"sysparm_limit": max(self.page_size, 10000)}
        if not attachments:
            fixed.update(sysparm_fields="sys_id", sysparm_no_count="true", sysparm_suppress_pagination_header="true")

        def fetch(params: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
            return self.client.get_json(path, {**params, **fixed})["result"], None

        ids: set[str] = set()
        try:
            for rows in paginate(fetch, SysIdPaginator(base_query, where=table)):
                ids.update(r["sys_id"] for r in rows)
        except PagingError as exc:
            raise ServiceNowError(str(exc), method="GET", path=path) from None
        return ids
