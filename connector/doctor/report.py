"""The doctor's rows and how they are shown: a table (rich) for people, JSON for tools."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import IO, Literal

Status = Literal["ok", "FAIL", "warn", "skip"]


@dataclass(frozen=True)
class Row:
    check: str
    status: Status
    result: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


def ok(check: str, result: str) -> Row:
    return Row(check, "ok", result)


def fail(check: str, result: str, fix: str) -> Row:
    return Row(check, "FAIL", result, fix)


def warn(check: str, result: str, fix: str = "") -> Row:
    return Row(check, "warn", result, fix)


def skip(check: str, result: str) -> Row:
    return Row(check, "skip", result)


STYLE = {"ok": "green", "FAIL": "bold red", "warn": "yellow", "skip": "dim"}


def render_table(rows: list[Row], out: IO[str], *, width: int | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=width, soft_wrap=False, highlight=False)
    table = Table(title="connector doctor", show_lines=False, expand=False)
    table.add_column("check", no_wrap=False, max_width=46)
    table.add_column("result")
    table.add_column("how to fix")
    for r in rows:
        status = f"[{STYLE[r.status]}]{r.status}[/]"
        table.add_row(r.check, f"{status} {_escape(r.result)}", _escape(r.fix))
    console.print(table)
    failed = sum(r.failed for r in rows)
    warned = sum(r.status == "warn" for r in rows)
    verdict = ("[green]all checks passed[/]" if not failed else f"[bold red]{failed} check{'s' if failed != 1 else ''} "
               "failed[/]")
    console.print(f"{verdict}" + (f", {warned} warning{'s' if warned != 1 else ''}" if warned else ""))


def render_json(rows: list[Row], out: IO[str]) -> None:
    json.dump({"passed": not any(r.failed for r in rows), "checks": [asdict(r) for r in rows]}, out, indent=2)
    out.write("\n")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
