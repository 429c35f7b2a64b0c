"""The ``altaviz`` command line. Each command parses options, calls the library, prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from altaviz import __version__
from altaviz.config import ConfigError, load_config
from altaviz.fleet import OutputError, SimulationError, SimulationRequest, simulate
from altaviz.fleet.simulator import DEFAULT_COMPRESSORS, DEFAULT_DAYS, SimulationSummary
from altaviz.settings import get_settings

app = typer.Typer(
    name="altaviz",
    help="Compressor fleet integrity: simulate, land, clean, alert, predict, explain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Inspect and validate settings and YAML configuration.", no_args_is_help=True
)
app.add_typer(config_app, name="config")

out = Console()
err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """One line on stderr and exit code 2: the contract for every user error."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _version(value: bool) -> None:
    if value:
        out.print(f"altaviz {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Altaviz command line."""


@app.command("simulate")
def simulate_command(
    compressors: Annotated[
        int | None,
        typer.Option(help=f"Fleet size [default: {DEFAULT_COMPRESSORS:,}; 10 with --demo]."),
    ] = None,
    days: Annotated[int, typer.Option(help="Days of telemetry.")] = DEFAULT_DAYS,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed and start give identical files.")
    ] = 42,
    start: Annotated[
        str | None,
        typer.Option(
            help="First reading, UTC ISO-8601 on a 5-minute boundary "
            "[default: DAYS before now, floored]."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Output folder [default: data/fleet, or data/demo with --demo]."),
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="The spec's 10-unit demo fleet at 4 Texas stations, 2 failing.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Threads generating chunks [default: cores, at most 4].")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary.")
    ] = False,
) -> None:
    """Simulate a compressor fleet: telemetry, metadata, maintenance log and ground truth."""
    begin = _parse_start(start)
    folder = output or get_settings().altaviz_data_dir / ("demo" if demo else "fleet")
    request = SimulationRequest(
        output=folder,
        compressors=compressors,
        days=days,
        seed=seed,
        start=begin,
        demo=demo,
        workers=workers,
    )
    with _errors_as_exit(), _progress("Simulating fleet") as progress:
        summary = simulate(request, on_progress=progress)
    if as_json:
        print(json.dumps(summary.model_dump(mode="json"), indent=2))
    else:
        _print_summary(summary)


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Print the settings read from the environment (secrets masked) and the config files in use."""
    with _errors_as_exit():
        cfg = load_config()
    settings = {
        k: (str(v) if v is not None else None) for k, v in get_settings().model_dump().items()
    }
    if as_json:
        print(json.dumps({"settings": settings, "config_files": cfg.sources}, indent=2))
        return
    table = Table("setting", "value", title="Settings (environment)")
    for key, value in settings.items():
        table.add_row(key.upper(), value if value is not None else "[dim]unset[/]")
    out.print(table)
    files = Table("file", "read from", title="Configuration")
    for name, source in cfg.sources.items():
        files.add_row(name, source)
    out.print(files)


@config_app.command("validate")
def config_validate(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder with YAML files overriding the packaged ones.")
    ] = None,
) -> None:
    """Validate the configuration; exit code 2 and the bad file and key if it is invalid."""
    with _errors_as_exit():
        cfg = load_config(folder)
    out.print(
        f"configuration valid: {len(cfg.fleet.models)} models, {len(cfg.fleet.basins)} basins, "
        f"{sum(b.stations for b in cfg.fleet.basins)} stations, "
        f"{len(cfg.fleet.failures.modes)} failure modes"
    )


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        fail(f"--start {value!r} is not an ISO-8601 date or time (e.g. 2026-01-01T00:00Z)")


@contextmanager
def _errors_as_exit() -> Iterator[None]:
    try:
        yield
    except (SimulationError, OutputError, ConfigError) as exc:
        fail(str(exc))


@contextmanager
def _progress(label: str) -> Iterator:
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


def _print_summary(s: SimulationSummary) -> None:
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
