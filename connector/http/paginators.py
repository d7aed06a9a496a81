"""Paginators: the state of one walk over a list, as small objects; ``paginate`` is the one loop.

dlt's ``BasePaginator`` is the model: a paginator says what the first request asks for and, given
a page, what the next one asks for (or that there is none). Stop rules are the paginator's, named
and tested without a server. The loop fetches, yields, and asks again; it never decides alone.

- ``KeysetPaginator``: ServiceNow's ``(sys_updated_on, sys_id)`` keyset (servicenow.md Pitfalls 1–3):
  stops on an *empty* page (row ACLs make short pages normal), and a page whose last key is not
  past the previous one is an error (the instance ignored the ordering: paging on would loop).
- ``SysIdPaginator``: the same rules over ``sys_id`` alone (the deletion sweep).
- ``OffsetPaginator``: Coverbase's ``limit``/``offset`` lists: stops on an empty page or at ``total``.
- ``PageSizePolicy``: halves the page on a transaction-quota cancel, restores it after good pages
  (its own policy, so the paginators stay about cursors).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

P = TypeVar("P")  # what one page is (rows, items)


class PagingError(Exception):
    """A list that cannot be walked safely (the cursor did not advance)."""


class Paginator(ABC, Generic[P]):
    @abstractmethod
    def first(self) -> dict[str, Any]:
        """Parameters of the first request."""

    @abstractmethod
    def next(self, page: P, body: Any) -> dict[str, Any] | None:
        """Parameters of the request after ``page`` (``body``: the whole answer), or None: done."""


def paginate(fetch: Callable[[dict[str, Any]], tuple[P, Any]], paginator: Paginator[P]) -> Iterator[P]:
    """The one loop: fetch a page, yield it, ask the paginator what comes next."""
    params: dict[str, Any] | None = paginator.first()
    while params is not None:
        page, body = fetch(params)
        yield page
        params = paginator.next(page, body)


# --- ServiceNow ----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Cursor:
    updated_on: str  # "YYYY-MM-DD HH:MM:SS", UTC: sorts like the datetime it is
    sys_id: str


def keyset_query(base: str, *, since: str | None, until: str | None, after: Cursor | None) -> str:
    """``<filter>^sys_updated_on>T^NQ<filter>^sys_updated_on=T^sys_id>S^ORDERBYsys_updated_on^ORDERBYsys_id``:
    a unique, stable order, so rows changed while we read never shift a page."""
    common = [c for c in (base, f"sys_updated_on>={since}" if since else "", f"sys_updated_on<{until}" if until else "")
              if c]

    def group(*extra: str) -> str:
        return "^".join([*common, *extra])

    if after is None:
        q = group()
    else:
        q = group(f"sys_updated_on>{after.updated_on}") + "^NQ" + group(
            f"sys_updated_on={after.updated_on}", f"sys_id>{after.sys_id}")
    return (q + "^" if q else "") + "ORDERBYsys_updated_on^ORDERBYsys_id"


class KeysetPaginator(Paginator[list[dict[str, Any]]]):
    def __init__(self, base_query: str = "", *, since: str | None = None, until: str | None = None,
                 after: Cursor | None = None, where: str = "") -> None:
        self.base_query, self.since, self.until = base_query, since, until
        self.cursor = after
        self.where = where  # names the table in errors

    def params(self) -> dict[str, Any]:
        return {"sysparm_query": keyset_query(self.base_query, since=self.since, until=self.until, after=self.cursor)}

    def first(self) -> dict[str, Any]:
        return self.params()

    def check(self, page: list[dict[str, Any]]) -> Cursor | None:
        """The cursor after ``page``; PagingError when it is not past the current one."""
        if not page:
            return None
        last = Cursor(page[-1]["sys_updated_on"], page[-1]["sys_id"])
        if self.cursor is not None and last <= self.cursor:
            raise PagingError(f"{self.where}: keyset cursor did not advance past {self.cursor}; the instance ignored "
                              "the ORDERBY or the boundary query")
        return last

    def next(self, page: list[dict[str, Any]], body: Any) -> dict[str, Any] | None:
        last = self.check(page)
        if last is None:
            return None
        self.cursor = last
        return self.params()


class SysIdPaginator(Paginator[list[dict[str, Any]]]):
    def __init__(self, base_query: str = "", *, where: str = "") -> None:
        self.base_query = base_query
        self.last: str | None = None
        self.where = where

    def params(self) -> dict[str, Any]:
        q = "^".join(c for c in (self.base_query, f"sys_id>{self.last}" if self.last else "") if c)
        return {"sysparm_query": (q + "^" if q else "") + "ORDERBYsys_id"}

    def first(self) -> dict[str, Any]:
        return self.params()

    def next(self, page: list[dict[str, Any]], body: Any) -> dict[str, Any] | None:
        if not page:
            return None
        nxt = page[-1]["sys_id"]
        if self.last is not None and nxt <= self.last:
            raise PagingError(f"{self.where}: sys_id sweep did not advance")
        self.last = nxt
        return self.params()


class PageSizePolicy:
    """How big the next page is: halved on a transaction-quota cancel (down to ``floor``), doubled
    back after ``restore_after`` good pages; ``cancel`` says whether to try again."""

    def __init__(self, size: int, *, floor: int = 25, restore_after: int = 5, cancels_at_floor: int = 5) -> None:
        self.ceiling = size
        self.size = size
        self.floor = min(floor, size)
        self.restore_after = restore_after
        self.cancels_at_floor = cancels_at_floor
        self.halvings = 0
        self._good = 0
        self._cancels = 0

    def cancel(self) -> bool:
        """A cancel answered the last request: False when giving up is the only answer left."""
        self._good = 0
        if self.size > self.floor:
            self.size = max(self.floor, self.size // 2)
            self.halvings += 1
            return True
        self._cancels += 1  # already at the floor: a busy node, not our page size; try again a few times
        return self._cancels <= self.cancels_at_floor

    def success(self) -> None:
        self._cancels = 0
        self._good += 1
        if self._good >= self.restore_after and self.size < self.ceiling:
            self.size, self._good = min(self.ceiling, self.size * 2), 0


# --- Coverbase -----------------------------------------------------------------------------------


class OffsetPaginator(Paginator[list[Any]]):
    """``limit``/``offset`` (contract §1.7); ``total`` read by ``total_of(body)`` when the list says it."""

    def __init__(self, limit: int, total_of: Callable[[Any], int | None] = lambda body: None) -> None:
        self.limit = limit
        self.offset = 0
        self.total_of = total_of

    def first(self) -> dict[str, Any]:
        return {"limit": self.limit, "offset": 0}

    def next(self, page: list[Any], body: Any) -> dict[str, Any] | None:
        self.offset += len(page)
        total = self.total_of(body)
        if not page or (total is not None and self.offset >= total):
            return None
        return {"limit": self.limit, "offset": self.offset}
