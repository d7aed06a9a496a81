"""Start-up validation of configured tables and fields against sys_db_object / sys_dictionary.

ServiceNow silently ignores unknown ``sysparm_fields`` and drops unknown query terms, so a
misspelt cursor or filter field turns into a full-table read (Pitfall 7). Checking the
dictionary first turns that into a configuration error that names the field.
"""

from __future__ import annotations

import difflib
import re

from connector.errors import ConfigError
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import ServiceNowPermissionDenied

_QUERY_FIELD = re.compile(r"(?:^|\^(?:OR|NQ)?)([a-z0-9_]+)"
                          r"(?=ISNOTEMPTY|ISEMPTY|ANYTHING|NOT IN|NOT LIKE|STARTSWITH|ENDSWITH|BETWEEN|"
                          r"LIKE|IN|!=|>=|<=|=|>|<)")


def fields_in_query(query: str) -> set[str]:
    return {m.group(1) for m in _QUERY_FIELD.finditer(query or "")}


def _chunks(items: list[str], n: int = 50) -> list[list[str]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


def _db_objects(client: ServiceNowClient, query: str) -> list[dict]:
    return client.get_json("/api/now/table/sys_db_object", {
        "sysparm_query": query, "sysparm_fields": "sys_id,name,super_class",
        "sysparm_exclude_reference_link": "true", "sysparm_limit": 1000})["result"]


def table_chains(client: ServiceNowClient, tables: list[str]) -> dict[str, list[str]]:
    """table -> [table, parent, grandparent, ...] from sys_db_object; unknown tables are absent."""
    by_name: dict[str, dict] = {}
    by_id: dict[str, dict] = {}

    def add(rows: list[dict]) -> None:
        for r in rows:
            by_name[r["name"]] = r
            by_id[r["sys_id"]] = r

    for part in _chunks(sorted(set(tables))):
        add(_db_objects(client, f"nameIN{','.join(part)}"))
    while True:  # fetch ancestors until every super_class is known
        missing = {r["super_class"] for r in by_name.values() if r.get("super_class")} - set(by_id)
        if not missing:
            break
        before = len(by_id)
        for part in _chunks(sorted(missing)):
            add(_db_objects(client, f"sys_idIN{','.join(part)}"))
        if len(by_id) == before:
            break  # an ancestor we may not read: stop with what we have
    chains: dict[str, list[str]] = {}
    for t in tables:
        chain, cur = [], by_name.get(t)
        while cur is not None and cur["name"] not in chain:
            chain.append(cur["name"])
            cur = by_id.get(cur.get("super_class") or "")
        if chain:
            chains[t] = chain
    return chains


def validate_tables(client: ServiceNowClient, wanted: dict[str, set[str]]) -> dict[str, dict[str, str]]:
    """``wanted``: table -> fields it must have. Returns table -> {field: internal_type}.
    Raises one ConfigError listing every problem, with suggestions for misspellings."""
    columns, problems = table_problems(client, wanted)
    flat = [p for table in sorted(problems) for p in problems[table]]
    if flat:
        raise ConfigError("ServiceNow configuration does not match the instance:\n  - " + "\n  - ".join(flat))
    return columns


def table_problems(client: ServiceNowClient,
                   wanted: dict[str, set[str]]) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """One pass over sys_db_object and sys_dictionary for every table: (columns of the tables
    that exist, problems by table)."""
    try:
        chains = table_chains(client, sorted(wanted))
    except ServiceNowPermissionDenied as exc:
        raise ConfigError(f"cannot read sys_db_object to validate the configuration: {exc.message}. "
                          "Grant the integration user read access to sys_db_object and sys_dictionary.") from None
    problems: dict[str, list[str]] = {
        t: [f"table {t!r} does not exist on the instance (or is not readable by the integration user)"]
        for t in sorted(wanted) if t not in chains}
    all_tables = sorted({t for chain in chains.values() for t in chain})
    columns: dict[str, dict[str, str]] = {t: {} for t in all_tables}
    for part in _chunks(all_tables, 20):
        offset = 0
        while True:
            rows = client.get_json("/api/now/table/sys_dictionary", {
                "sysparm_query": f"nameIN{','.join(part)}^elementISNOTEMPTY^ORDERBYsys_id",
                "sysparm_fields": "name,element,internal_type", "sysparm_limit": 5000, "sysparm_offset": offset,
                "sysparm_exclude_reference_link": "true"})["result"]
            for r in rows:
                columns.setdefault(r["name"], {})[r["element"]] = r.get("internal_type", "")
            if len(rows) < 5000:
                break
            offset += len(rows)
    out: dict[str, dict[str, str]] = {}
    for table, fields in sorted(wanted.items()):
        if table not in chains:
            continue
        available: dict[str, str] = {}
        for t in reversed(chains[table]):
            available.update(columns.get(t, {}))
        out[table] = available
        for f in sorted(fields):
            if f not in available:
                hint = difflib.get_close_matches(f, list(available), n=1)
                problems.setdefault(table, []).append(
                    f"field {table}.{f} does not exist" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    return out, problems
