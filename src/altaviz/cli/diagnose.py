"""``altaviz diagnose``: one unit's diagnosis with its evidence."""

from __future__ import annotations

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
from altaviz.settings import get_settings


@app.command("diagnose")
def diagnose_command(
    compressor_id: Annotated[str, typer.Argument(help="The unit, e.g. COMP-0003.")],
    lakehouse: LakehouseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Diagnose one compressor from its own data: what is wrong, how sure, how long it has,
    what to do, and the evidence. Uses DIAGNOSTICS_MODEL when set, else offline rules; reads
    the serving database when DATABASE_URL is set, else the lakehouse."""
    from altaviz.agent.diagnostics import diagnose, diagnostics_data

    cfg = load_config()
    settings = get_settings()
    engine = None if settings.database_url is not None else open_lakehouse(lakehouse)
    data = diagnostics_data(cfg, settings, engine)
    report, note = diagnose(compressor_id, data, cfg, settings)
    if as_json:
        print(report.model_dump_json(indent=2))
        return
    colors = {"healthy": "green", "warning": "yellow", "critical": "red", "emergency": "bold red"}
    out.print(
        f"[bold]{report.compressor_id}[/]: [{colors[report.severity]}]{report.severity}[/]"
        f" - {report.root_cause}"
    )
    ttf = report.time_to_failure_hours
    out.print(
        f"failure mode: {report.failure_mode or '-'}; confidence {report.confidence:.0%}; "
        f"time to failure: {'-' if ttf is None else f'{ttf:.0f} h'}; by {report.diagnosed_by}"
    )
    out.print(f"[dim]{report.data_summary}[/]")
    for factor in report.contributing_factors:
        out.print(f"  - {factor}")
    actions = Table("priority", "action", "downtime h", "why", title="Recommended actions")
    for a in report.recommended_actions:
        downtime = "-" if a.estimated_downtime_hours is None else f"{a.estimated_downtime_hours:g}"
        actions.add_row(a.priority, a.action, downtime, a.rationale)
    out.print(actions)
    evidence = Table("tool", "item", "value", "meaning", title="Evidence")
    for e in report.evidence:
        evidence.add_row(e.tool, e.item, e.value, e.note)
    out.print(evidence)
    if note:
        out.print(f"  [dim]offline diagnosis ({note})[/]")
