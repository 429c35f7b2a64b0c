"""``altaviz emissions``: methane and CO2e totals with packing flags."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from altaviz.cli.app import app
from altaviz.cli.errors import fail
from altaviz.cli.options import (
    LakehouseOption,
    open_lakehouse,
    parse_date,
)
from altaviz.cli.render import out
from altaviz.config import load_config


@app.command("emissions")
def emissions_command(
    lakehouse: LakehouseOption = None,
    by: Annotated[
        str, typer.Option(help="Totals per unit, station or basin (the reporting facility).")
    ] = "station",
    since: Annotated[
        str | None, typer.Option(help="First date (YYYY-MM-DD) \\[default: all on record].")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last date (YYYY-MM-DD) \\[default: all on record].")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows to print, largest CO2e first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print every row as JSON.")] = False,
) -> None:
    """Methane and CO2e totals (EPA Subpart W), annualised, with OOOOb packing flags and the
    25,000 t CO2e/yr facility reporting threshold."""
    from altaviz.pipeline.reports import emissions_totals

    if by not in ("unit", "station", "basin"):
        fail(f"--by {by!r}: choose unit, station or basin")
    first, last = parse_date(since, "--since"), parse_date(until, "--until")
    if first and last and first > last:
        fail(f"--since {first} is after --until {last}")
    engine = open_lakehouse(lakehouse)
    totals, span = emissions_totals(engine, load_config(), by, first, last)  # type: ignore[arg-type]
    if span is None:
        fail("no emissions estimates for those dates (run `altaviz pipeline` first)")
    if as_json:
        print(json.dumps(totals.rows(named=True), indent=2, default=str))
        return
    key = totals.columns[0]
    table = Table(
        key,
        "units",
        "CH4 t",
        "CO2e t",
        "CO2e t/yr",
        "packing over limit",
        "check due",
        title=f"Emissions by {by}, {span[0]} to {span[1]} ({totals['hours'].max():,} h)",
    )
    for r in totals.head(top).rows(named=True):
        flag = " [red]reportable[/]" if r.get("over_reporting_threshold") else ""
        table.add_row(
            str(r[key]),
            f"{r['units']:,}",
            f"{r['ch4_t']:,.2f}",
            f"{r['co2e_t']:,.1f}",
            f"{r['annualised_co2e_t']:,.0f}{flag}",
            "yes" if r["packing_over_limit"] else "-",
            "yes" if r["packing_check_due"] else "-",
        )
    out.print(table)
