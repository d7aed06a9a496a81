"""Reading the tables of a file export (CSV, JSON or XLSX) and validating them before any write.

A table is ``<folder>/<name>.csv``, ``.json`` (a list of objects, or ``{"rows": [...]}``) or
``.xlsx`` (first sheet, first row is the header). Column names go through the mapping in the
config (``source.columns.<table>.<field>: <column>``), so an export with its own headings needs
no editing. Every problem is reported with its file, row and column.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLES = ("users", "vendors", "services", "assessments", "issues")
FORMATS = ("csv", "json", "xlsx")

# field -> default column; required fields first. Documented in docs/migrating.md.
COLUMNS: dict[str, dict[str, str]] = {
    "users": {"key": "id", "email": "email", "first_name": "first_name", "last_name": "last_name",
              "active": "active"},
    "vendors": {"key": "id", "name": "name", "website": "website", "description": "description",
                "hq_location": "hq_location", "city": "city", "state": "state", "country": "country",
                "owners": "owners", "contact_email": "contact_email", "contact_name": "contact_name",
                "contact_title": "contact_title", "contact_phone": "contact_phone", "status": "status",
                "tags": "tags", "documents": "documents", "boms": "boms"},
    "services": {"key": "id", "vendor": "vendor_id", "name": "name", "description": "description",
                 "owners": "owners", "documents": "documents", "boms": "boms"},
    "assessments": {"key": "id", "vendor": "vendor_id", "service": "service_id", "name": "name",
                    "assignee": "assignee", "template": "template", "state": "state", "documents": "documents"},
    "issues": {"key": "id", "title": "title", "vendor": "vendor_id", "service": "service_id",
               "assessment": "assessment_id", "number": "number", "description": "description", "state": "state",
               "due_date": "due_date"},
}
REQUIRED = {"users": ("key", "email"), "vendors": ("key", "name"), "services": ("key", "vendor", "name"),
            "assessments": ("key", "vendor"), "issues": ("key", "title")}
LIST_SEPARATORS = (";", "|", "\n")


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None  # 1-based line/row as a spreadsheet shows it (header = 1); None: the whole file
    column: str | None
    message: str

    def __str__(self) -> str:
        where = (self.file + (f", row {self.row}" if self.row else "")
                 + (f", column {self.column!r}" if self.column else ""))
        return f"{where}: {self.message}"


@dataclass
class Table:
    name: str
    file: str | None  # relative file name, None when the export has no such table
    rows: list[tuple[int, dict[str, str | None]]] = field(default_factory=list)  # (row number, values by column)
    columns: list[str] = field(default_factory=list)


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    parts = [value]
    for sep in LIST_SEPARATORS:
        parts = [p for chunk in parts for p in chunk.split(sep)]
    return [p.strip() for p in parts if p.strip()]


def _clean(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        rows = []
        for i, raw in enumerate(reader, start=2):
            rows.append((i, {(k or "").strip(): _clean(v) for k, v in raw.items() if k is not None}))
        return cols, rows


def _read_json(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError("must be a JSON list of objects (or {\"rows\": [...]})")
    cols: list[str] = []
    for r in data:
        cols += [k for k in r if k not in cols]
    return cols, [(i, {k: _clean(v) for k, v in r.items()}) for i, r in enumerate(data, start=1)]


def _read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = next(it, None) or ()
        cols = [str(c).strip() if c is not None else "" for c in header]
        rows = []
        for i, values in enumerate(it, start=2):
            if values is None or all(v is None for v in values):
                continue
            rows.append((i, {cols[j]: _clean(v) for j, v in enumerate(values) if j < len(cols) and cols[j]}))
        return [c for c in cols if c], rows
    finally:
        wb.close()


def read_table(root: Path, name: str, problems: list[Problem]) -> Table:
    found = [root / f"{name}.{ext}" for ext in FORMATS if (root / f"{name}.{ext}").is_file()]
    if not found:
        return Table(name, None)
    if len(found) > 1:
        problems.append(Problem(", ".join(p.name for p in found), None, None,
                                f"more than one {name} table; keep one of them"))
    path = found[0]
    reader = {"csv": _read_csv, "json": _read_json, "xlsx": _read_xlsx}[path.suffix[1:]]
    try:
        cols, rows = reader(path)
    except Exception as exc:  # any parser's error becomes a report line, not a crash
        problems.append(Problem(path.name, None, None, f"cannot be read: {exc}"))
        return Table(name, path.name)
    return Table(name, path.name, rows, cols)
