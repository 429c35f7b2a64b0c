"""``altaviz lake``: the lakehouse's Delta tables (list, history, optimize, vacuum)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from altaviz.cli.errors import Group
from altaviz.cli.options import (
    LakehouseOption,
    open_lakehouse,
)
from altaviz.cli.render import out
from altaviz.config import load_config
from altaviz.lake import catalog

group = Group(help="Inspect and maintain the lakehouse's Delta tables.")
SomeTable = Annotated[
    str | None, typer.Argument(metavar="[TABLE]", help="One table \\[default: all].")
]


@group.command("tables")
def lake_tables(lakehouse: LakehouseOption = None) -> None:
    """List the catalogue's tables with their location and current version."""
    engine = open_lakehouse(lakehouse)
    listing = Table("table", "layer", "version", "partitioned by", "location")
    for spec in catalog.TABLES.values():
        version = engine.version(spec)
        listing.add_row(
            spec.name,
            spec.layer,
            "-" if version is None else str(version),
            ", ".join(spec.partition_by),
            engine.uri(spec),
        )
    out.print(listing)


@group.command("history")
def lake_history(
    table_name: Annotated[
        str, typer.Argument(metavar="TABLE", help="Table name, e.g. sensor_cleaned.")
    ],
    lakehouse: LakehouseOption = None,
    limit: Annotated[int, typer.Option(help="Most recent commits to show.")] = 10,
) -> None:
    """Show a table's Delta commit history."""
    spec = catalog.table(table_name)
    history = open_lakehouse(lakehouse).history(spec, limit)
    commits = Table("version", "timestamp", "operation", "rows written", title=spec.name)
    for h in history:
        metrics = h.get("operationMetrics") or {}
        rows = metrics.get("num_added_rows") or metrics.get("numOutputRows") or ""
        stamp = datetime.fromtimestamp(h.get("timestamp", 0) / 1000).isoformat(timespec="seconds")
        commits.add_row(str(h.get("version", "")), stamp, str(h.get("operation", "")), str(rows))
    out.print(commits)


@group.command("optimize")
def lake_optimize(
    table_name: SomeTable = None,
    lakehouse: LakehouseOption = None,
) -> None:
    """Compact small files; Z-order by compressor_id where the catalogue says so."""
    engine = open_lakehouse(lakehouse)
    for spec in catalog_tables(table_name):
        metrics = engine.optimize(spec)
        if metrics:
            out.print(
                f"{spec.name}: {metrics.get('numFilesRemoved', 0)} files -> "
                f"{metrics.get('numFilesAdded', 0)}"
                + (f" (z-ordered by {', '.join(spec.zorder_by)})" if spec.zorder_by else "")
            )


@group.command("vacuum")
def lake_vacuum(
    table_name: SomeTable = None,
    lakehouse: LakehouseOption = None,
    retain_hours: Annotated[
        int | None,
        typer.Option(help="Keep unreferenced files this long \\[default: lakehouse.yaml]."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed.")] = False,
) -> None:
    """Remove files no version within the retention period still needs."""
    retain = (
        retain_hours if retain_hours is not None else load_config().lakehouse.vacuum_retain_hours
    )
    engine = open_lakehouse(lakehouse)
    for spec in catalog_tables(table_name):
        removed = engine.vacuum(spec, retain, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        out.print(f"{spec.name}: {verb} {len(removed)} files")


def catalog_tables(name: str | None) -> list[catalog.TableSpec]:
    """One named table, or the whole catalogue."""
    return [catalog.table(name)] if name else list(catalog.TABLES.values())
