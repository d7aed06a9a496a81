"""The ServiceNow encoded-query subset the emulator understands (servicenow.md §1.3).

Supported: ``=, !=, >, >=, <, <=, IN, NOT IN, LIKE, NOT LIKE, STARTSWITH, ENDSWITH, ISEMPTY,
ISNOTEMPTY, ANYTHING, BETWEEN``, ``^`` (AND), ``^OR`` (OR with the previous condition),
``^NQ`` (new OR-ed group), ``ORDERBY`` / ``ORDERBYDESC`` (multi-key), ``^^`` as a literal ``^``.
Like ServiceNow, a condition on an unknown field is silently dropped unless
``invalid_returns_no_rows`` is set (``glide.invalid_query.returns_no_rows``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

OPS = ("ISNOTEMPTY", "ISEMPTY", "ANYTHING", "NOT IN", "NOT LIKE", "STARTSWITH", "ENDSWITH", "BETWEEN", "LIKE",
       "IN", "!=", ">=", "<=", "=", ">", "<")
_COND = re.compile(r"^([a-z0-9_.]+?)(" + "|".join(re.escape(o) for o in OPS) + r")(.*)$", re.S)
NUMERIC = {"integer", "decimal", "float"}


@dataclass
class Cond:
    field: str
    op: str
    value: str


@dataclass
class Query:
    groups: list[list[list[Cond]]] = field(default_factory=list)  # OR of groups; group = AND of OR-lists
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    invalid: bool = False  # some condition named an unknown field


def _split(q: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(q):
        if q[i] == "^":
            if i + 1 < len(q) and q[i + 1] == "^":
                cur.append("^")
                i += 2
                continue
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(q[i])
        i += 1
    parts.append("".join(cur))
    return [p for p in parts if p != ""]


def parse(q: str, known_fields: set[str]) -> Query:
    out = Query()
    group: list[list[Cond]] = []
    for token in _split(q or ""):
        if token.startswith("ORDERBYDESC"):
            out.order.append((token[len("ORDERBYDESC"):], True))
            continue
        if token.startswith("ORDERBY"):
            out.order.append((token[len("ORDERBY"):], False))
            continue
        if token == "EQ":
            continue
        new_group = token.startswith("NQ")
        is_or = token.startswith("OR") and not new_group
        body = token[2:] if (new_group or is_or) else token
        if new_group and group:
            out.groups.append(group)
            group = []
        m = _COND.match(body)
        if not m or m.group(1).split(".")[0] not in known_fields:
            out.invalid = True
            continue
        cond = Cond(m.group(1), m.group(2), m.group(3))
        if is_or and group:
            group[-1].append(cond)
        else:
            group.append([cond])
    if group:
        out.groups.append(group)
    return out


def _cmp_key(value: str, typ: str):
    if typ in NUMERIC:
        try:
            return (0, float(value))
        except ValueError:
            return (1, value)
    return (0, value)


def evaluate(c: Cond, row: dict[str, str], types: dict[str, str]) -> bool:
    v = row.get(c.field, "")
    t = types.get(c.field, "string")
    if c.op == "ISEMPTY":
        return v == ""
    if c.op == "ISNOTEMPTY":
        return v != ""
    if c.op == "ANYTHING":
        return True
    if c.op == "=":
        return v == c.value
    if c.op == "!=":
        return v != c.value
    if c.op in ("IN", "NOT IN"):
        hit = v in c.value.split(",") if t != "glide_list" else bool(set(v.split(",")) & set(c.value.split(",")))
        return hit if c.op == "IN" else not hit
    if c.op in ("LIKE", "NOT LIKE"):
        hit = c.value.lower() in v.lower()
        return hit if c.op == "LIKE" else not hit
    if c.op == "STARTSWITH":
        return v.lower().startswith(c.value.lower())
    if c.op == "ENDSWITH":
        return v.lower().endswith(c.value.lower())
    if c.op == "BETWEEN":
        lo, _, hi = c.value.partition("@")
        return _cmp_key(lo, t) <= _cmp_key(v, t) <= _cmp_key(hi, t)
    a, b = _cmp_key(v, t), _cmp_key(c.value, t)
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[c.op]


def matcher(q: Query, types: dict[str, str], invalid_returns_no_rows: bool) -> Callable[[dict[str, str]], bool]:
    if q.invalid and invalid_returns_no_rows:
        return lambda row: False
    if not q.groups:
        return lambda row: True

    def match(row: dict[str, str]) -> bool:
        return any(all(any(evaluate(c, row, types) for c in ors) for ors in group) for group in q.groups)

    return match


def sort_key(order: list[tuple[str, bool]], types: dict[str, str]):
    """A key for ``sorted`` honouring mixed ascending/descending order."""

    def inv(s: str) -> tuple:
        return tuple(-ord(ch) for ch in s) + (1,)

    def key(row: dict[str, str]):
        out = []
        for f, desc in order:
            v = row.get(f, "")
            k = _cmp_key(v, types.get(f, "string"))
            if desc:
                k = (-k[0], -k[1]) if isinstance(k[1], float) else (-k[0], inv(str(k[1])))
            out.append(k)
        return tuple(out)

    return key
