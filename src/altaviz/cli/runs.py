"""``altaviz runs``: recent pipeline runs, the slowest stages, the run-time trend."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from altaviz.cli.app import app
from altaviz.cli.options import (
    LakehouseOption,
    open_lakehouse,
)
from altaviz.cli.render import out
from altaviz.config import load_config
from altaviz.core.results import RunStatus


@app.command("runs")
def runs_command(
    lakehouse: LakehouseOption = None,
    limit: Annotated[int, typer.Option(help="Recent runs to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON.")] = False,
) -> None:
    """Recent pipeline runs, the slowest stages and how run time trends."""
    from altaviz.monitoring.monitor import PipelineMonitor, run_time_trend, stage_statistics

    engine = open_lakehouse(lakehouse)
    records = PipelineMonitor(engine, load_config(), sinks=[]).recent(limit)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return
    if not records:
        out.print("no pipeline runs recorded yet (run `altaviz pipeline`)")
        return
    table = Table(
        "run",
        "started",
        "status",
        "time s",
        "bronze rows",
        "rejected",
        "alerts",
        "at risk",
        "note",
        title=f"Recent pipeline runs ({len(records)})",
    )
    for r in records:
        note = r.error or ("; ".join(r.warnings) if r.warnings else "")
        color = {RunStatus.FAILED: "red", RunStatus.QUALITY_FAILED: "yellow"}.get(r.status, "green")
        table.add_row(
            r.run_id,
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"[{color}]{r.status}[/]",
            f"{r.duration_s:.1f}",
            f"{r.rows_bronze:,}",
            f"{r.rejected:,}" + (f" ({r.rejection_rate:.2%})" if r.rejection_rate else ""),
            f"{r.alerts_opened:,}",
            f"{r.units_at_risk:,}",
            note[:60],
        )
    out.print(table)
    slow = Table("stage", "median s", "max s", "runs", title="Slowest stages")
    for stage, median, longest, runs in stage_statistics(records):
        slow.add_row(stage, f"{median:.2f}", f"{longest:.2f}", str(runs))
    out.print(slow)
    trend = run_time_trend(records)
    if trend is not None:
        out.print(
            f"run time trend: median {trend[0]:.1f} s (older half) -> {trend[1]:.1f} s (newer half)"
        )
