"""``altaviz compliance``: the rod-packing programme (what is due), recording measurements,
operating-mode hours and the annual Subpart W report pack."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from altaviz.cli.errors import Group
from altaviz.cli.options import JsonOption, LakehouseOption, open_lakehouse
from altaviz.cli.render import num, out
from altaviz.config import load_config
from altaviz.core.errors import InputError

group = Group(help="Compliance: the rod-packing programme, measurements, the Subpart W report.")
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who acts, recorded with it \\[default: $USER].")
]


def _who(by: str | None) -> str:
    return by or os.environ.get("USER") or "unknown"


@group.command("due")
def due(
    lakehouse: LakehouseOption = None,
    basin: Annotated[str | None, typer.Option(help="A basin's name or code, e.g. PERM.")] = None,
    within: Annotated[
        int | None, typer.Option(help="Only units due within this many days (overdue included).")
    ] = 30,
    every: Annotated[bool, typer.Option("--all", help="Every unit, however far off.")] = False,
    limit: Annotated[int, typer.Option(help="Units to show.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Rod-packing measurements (OOOOb) and replacements (OOOOa) due, soonest first, with
    operating hours since the last and every exceedance awaiting repair."""
    from altaviz.pipeline.compliance import due_list

    as_of, units = due_list(
        open_lakehouse(lakehouse), load_config(), basin, None if every else within
    )
    if as_json:
        print(json.dumps(units.head(limit).to_dicts(), indent=2, default=str))
        return
    span = "every unit" if every else f"due within {within} days"
    title = (
        f"Rod-packing programme, {span}, as of {as_of:%Y-%m-%d %H:%M}Z: {units.height} units, "
        f"{int(units['overdue'].sum())} overdue, {int(units['exceedance_open'].sum())} "
        "exceedance(s) awaiting repair"
    )
    if not units.height:
        out.print(f"{title}.")
        return
    table = Table("unit", "rule", "due", "hours left", "last record", "repair by", title=title)
    for r in units.head(limit).iter_rows(named=True):
        table.add_row(
            r["compressor_id"],
            f"{r['rule']} {'measure' if r['rule'] == 'OOOOb' else 'replace'}",
            f"[red]{r['next_due']} overdue[/]" if r["overdue"] else str(r["next_due"]),
            num(r["hours_remaining"], ",.0f"),
            _last_record(r),
            f"[red]{r['repair_due']}[/]" if r["repair_due"] else "-",
        )
    out.print(table)


def _last_record(row: dict) -> str:
    """What the unit's rule counts from: its last replacement (OOOOa) or measurement."""
    if row["rule"] == "OOOOa":
        at = row["last_replacement_at"]
        return f"replaced {at:%Y-%m-%d}" if at else "-"
    at, scfm = row["last_measurement_at"], row["last_measurement_scfm"]
    return f"{at:%Y-%m-%d} {scfm:.2f} scfm" if at and scfm is not None else "-"


@group.command("record")
def record(
    unit: Annotated[str, typer.Argument(metavar="UNIT", help="Compressor ID, e.g. COMP-0042.")],
    vent: Annotated[
        str | None,
        typer.Option(help="Vent flow per cylinder in scf/min, comma-separated: 0.4,0.6,2.3,0.5."),
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="When measured, ISO 8601 with zone \\[default: now].")
    ] = None,
    replacement: Annotated[
        bool, typer.Option("--replacement", help="Record a packing replacement instead.")
    ] = False,
    instrument: Annotated[str | None, typer.Option(help="The meter or sampler used.")] = None,
    measured_by: Annotated[str | None, typer.Option(help="Who measured.")] = None,
    hour_meter: Annotated[
        float | None, typer.Option(help="The unit's hour meter at the measurement.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the record.")] = None,
    lakehouse: LakehouseOption = None,
    by: ByOption = None,
) -> None:
    """Record a rod-packing vent-flow measurement or a packing replacement (append-only).
    A measurement above the OOOOb limit opens a compliance case on the next pipeline run."""
    from altaviz.pipeline.compliance import record_measurement

    values: list[float] = []
    if vent:
        try:
            values = [float(v) for v in vent.split(",")]
        except ValueError:
            raise InputError(f"--vent {vent!r}: give numbers separated by commas") from None
    elif not replacement:
        raise InputError("give --vent (one flow per cylinder), or --replacement")
    try:
        moment = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        raise InputError(f"--at {at!r} is not an ISO-8601 time (e.g. 2026-11-30T09:00Z)") from None
    measurement_id = record_measurement(
        open_lakehouse(lakehouse),
        unit,
        values,
        moment,
        _who(by),
        "replacement" if replacement else "measurement",
        instrument,
        measured_by,
        hour_meter,
        note,
    )
    limit = load_config().models.emissions.packing_vent_limit_scfm_per_cylinder
    over = [v for v in values if v > limit]
    verdict = f" [red]{len(over)} cylinder(s) above the {limit} scf/min limit[/]" if over else ""
    out.print(f"recorded {measurement_id}{verdict}")


@group.command("modes")
def modes(
    year: Annotated[int, typer.Option(help="Calendar year.")] = datetime.now(UTC).year,
    by: Annotated[str, typer.Option(help="unit, station or basin.")] = "basin",
    lakehouse: LakehouseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hours in each operating mode (Subpart W, 98.233(p)) per unit, station or basin."""
    from altaviz.pipeline.compliance import mode_hours

    if by not in ("unit", "station", "basin"):
        raise InputError(f"--by {by!r}: choose unit, station or basin")
    rows = mode_hours(open_lakehouse(lakehouse), year, by)
    if as_json:
        print(json.dumps(rows.to_dicts(), indent=2, default=str))
        return
    table = Table(
        by,
        "units",
        "operating h",
        "standby h",
        "depressurised h",
        "not reporting h",
        title=f"Operating-mode hours, {year}",
    )
    for r in rows.iter_rows(named=True):
        table.add_row(
            str(r[rows.columns[0]]),
            f"{r['units']:,}",
            *(f"{r[c]:,.1f}" for c in rows.columns[2:]),
        )
    out.print(table)


@group.command("report")
def report(
    facility: Annotated[
        str, typer.Argument(metavar="FACILITY", help="A basin's name or code, e.g. PERM.")
    ],
    year: Annotated[int, typer.Option(help="Reporting year.")] = datetime.now(UTC).year,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write the files here.")
    ] = None,
    lakehouse: LakehouseOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate the facility's annual Subpart W report pack: CSV files and a PDF summary,
    kept with the lakehouse, and record who made it from which inputs."""
    from altaviz.pipeline.subpart_w import generate_report, report_folder

    engine = open_lakehouse(lakehouse)
    pack = generate_report(engine, load_config(), facility, year, _who(by), out_dir)
    if as_json:
        print(json.dumps({"report_id": pack.report_id, "files": pack.digests()}, indent=2))
        return
    verdict = "must report" if pack.over_threshold else "below the 25,000 t threshold"
    out.print(
        f"{pack.report_id}: {pack.facility} {pack.year}, {pack.data_from} to {pack.data_to}, "
        f"{pack.co2e_t:,.1f} t CO2e ({verdict})"
    )
    for folder in (report_folder(engine, pack.report_id), out_dir):
        if folder is not None:
            out.print(f"  {folder}/")
    for name in sorted(pack.files):
        out.print(f"    {name}")
