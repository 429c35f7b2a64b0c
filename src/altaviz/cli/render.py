"""Rendering for the terminal, in one place: consoles, progress bars, summary tables and
number formats."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from altaviz.fleet.simulator import SimulationSummary
from altaviz.pipeline import RunSummary

out = Console()
err = Console(stderr=True)


@contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal (nothing on a pipe); yields its update callback."""
    if not sys.stderr.isatty():
        yield None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def working(label: str) -> Iterator[Callable[[str], None]]:
    """A spinner with what is being done now, on a terminal (nothing on a pipe or with
    --json); yields a callback that updates the message (``say``)."""
    if not sys.stderr.isatty():
        yield lambda _message: None
        return
    began = time.monotonic()
    with err.status(label) as status:

        def say(message: str) -> None:
            status.update(f"{label}: {message} [dim]({time.monotonic() - began:.0f} s)[/]")

        yield say


def print_simulation(s: SimulationSummary) -> None:
    """A simulation's summary table and the files it wrote."""
    table = Table(
        title=f"Simulated fleet  {s.start:%Y-%m-%d %H:%M} → {s.end:%Y-%m-%d %H:%M} UTC",
        show_header=False,
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row(
        "compressors / stations / basins", f"{s.compressors:,} / {s.stations:,} / {s.basins}"
    )
    table.add_row("readings written (scheduled)", f"{s.rows:,} ({s.scheduled_readings:,})")
    table.add_row("degrading units (at start)", f"{s.degrading:,} ({s.degrading_at_start:,})")
    table.add_row("critical units (at start)", f"{s.critical:,} ({s.critical_at_start:,})")
    table.add_row("failures in the run", f"{s.failures:,}")
    table.add_row("episodes by mode", ", ".join(f"{k} {v}" for k, v in s.modes.items() if v))
    table.add_row("injected dirt", ", ".join(f"{k} {v:,}" for k, v in s.dirt.items()))
    table.add_row("time", f"{s.duration_s:.1f} s ({s.rows_per_s:,.0f} rows/s)")
    out.print(table)
    for name, path in s.paths.items():
        out.print(f"  {name:<12} {path}", highlight=False)


def print_run(s: RunSummary) -> None:
    """A pipeline run's summary, its quality warnings and fleet health by basin."""
    verdict = "[green]passed[/]" if s.quality_passed else "[red]critical check failed[/]"
    table = Table(title=f"Pipeline run {s.run_id} ({s.engine}) - {s.status}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = s.rows
    table.add_row("bronze rows (dead letters)", f"{rows.bronze:,} ({rows.dead_letter:,})")
    table.add_row("silver rows", f"{rows.silver:,}")
    table.add_row("gold hourly / daily rows", f"{rows.gold_hourly:,} / {rows.gold_daily:,}")
    table.add_row(
        "alerts opened / resolved / open",
        f"{s.alerts.opened:,} / {s.alerts.resolved:,} / {s.alerts.open:,}",
    )
    table.add_row("cases on the worklist", f"{s.alerts.cases_open:,}")
    table.add_row("quality", verdict)
    ml = s.ml
    if ml.skipped:
        table.add_row("models", f"skipped ({ml.pending_dates} date(s) waiting)")
    elif ml.dates:
        model = f"{ml.model_name} v{ml.model_version}" if ml.model_version else "none yet"
        table.add_row(
            "models: predictions / units at risk",
            f"{ml.predictions:,} / {ml.units_at_risk:,} (anomaly model: {model})",
        )
        table.add_row(
            "  of which the models'",
            f"{ml.alerts_opened:,} / {ml.alerts_resolved:,}",
        )
    if s.blocked_dates:
        table.add_row("held back from gold", ", ".join(map(str, s.blocked_dates)))
    if s.refused_files:
        table.add_row("[red]landing files refused[/]", f"{len(s.refused_files):,} (below)")
    table.add_row(
        "time",
        f"{s.duration_s:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in s.durations.items()) + ")",
    )
    out.print(table)
    for q in s.quality:
        if q["severity"] in ("warning", "critical"):
            color = "red" if q["severity"] == "critical" else "yellow"
            out.print(
                f"  [{color}]{q['date']} {q['check']}: {q['value']:.4g} "
                f"({q['severity']}; {q['detail']})[/]"
            )
    if s.fleet_health:
        day = s.fleet_health[0]["date"]
        health = Table(
            "basin",
            "units",
            "reporting",
            "normal",
            "warning",
            "critical",
            "alerts opened",
            "health",
            title=f"Fleet health by basin, {day}",
        )
        for h in s.fleet_health:
            health.add_row(
                h["basin"],
                f"{h['units_registered']:,}",
                f"{h['units_reporting']:,}",
                f"{h['units_normal']:,}",
                f"{h['units_warning']:,}",
                f"{h['units_critical']:,}",
                f"{h['alerts_opened']:,}",
                f"{h['health_score']:.1f}" if h["health_score"] is not None else "-",
            )
        out.print(health)
    for name in s.refused_files:
        out.print(f"  [red]refused[/] {name}: unreadable, in the dead letter", highlight=False)
    for note in s.notes:
        out.print(f"  [dim]{note}[/]")


def num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"
