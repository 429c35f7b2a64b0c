"""``altaviz quality``: the data-quality report of a date."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from altaviz.cli.app import app
from altaviz.cli.options import (
    LakehouseOption,
    open_lakehouse,
    parse_date,
)
from altaviz.cli.render import out


@app.command("quality")
def quality_command(
    lakehouse: LakehouseOption = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Date (YYYY-MM-DD) \\[default: the last complete day]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the data-quality report stored for a date."""
    from altaviz.pipeline.reports import quality_report_rows

    wanted = parse_date(day)
    when, rows = quality_report_rows(open_lakehouse(lakehouse), wanted)
    if as_json:
        print(json.dumps({"date": str(when), "checks": rows}, indent=2, default=str))
        return
    table = Table(
        "check",
        "value",
        "threshold",
        "severity",
        "detail",
        title=f"Data quality {when}" + ("" if wanted else " (the last complete day)"),
    )
    for r in rows:
        if r["severity"] == "info" and not r["value"]:
            continue  # nothing of that kind happened
        style = {"critical": "red", "warning": "yellow"}.get(r["severity"], "")
        value = "" if r["value"] is None else f"{r['value']:,.4g}"
        limit = "" if r["threshold"] is None else f"{r['threshold']:,.4g}"
        table.add_row(
            r["check"],
            value,
            limit,
            f"[{style}]{r['severity']}[/]" if style else r["severity"],
            r["detail"] or "",
        )
    out.print(table)
