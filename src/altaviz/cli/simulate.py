"""``altaviz simulate``: a compressor fleet's telemetry and truth, to files or a stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from altaviz.cli.app import app
from altaviz.cli.errors import fail
from altaviz.cli.options import (
    parse_start,
)
from altaviz.cli.render import out, print_simulation, progress
from altaviz.config import load_config
from altaviz.core.errors import InputError
from altaviz.fleet import SimulationRequest, continue_simulation, simulate
from altaviz.fleet.simulator import DEFAULT_COMPRESSORS, DEFAULT_DAYS
from altaviz.settings import get_settings


@app.command("simulate")
def simulate_command(
    ctx: typer.Context,
    compressors: Annotated[
        int | None,
        typer.Option(help=f"Fleet size \\[default: {DEFAULT_COMPRESSORS:,}; 10 with --demo]."),
    ] = None,
    days: Annotated[int, typer.Option(help="Days of telemetry.")] = DEFAULT_DAYS,
    seed: Annotated[
        int,
        typer.Option(help="Random seed; the same seed and start give identical files."),
    ] = 42,
    start: Annotated[
        str | None,
        typer.Option(
            help="First reading, UTC ISO-8601 on a 5-minute boundary "
            "\\[default: DAYS before now, floored]."
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            help="Output folder \\[default: data/fleet, or data/demo with --demo]; or `kafka` / "
            "`eventhub` to stream the telemetry (the simulation is kept in data/stream)."
        ),
    ] = None,
    rate: Annotated[
        str,
        typer.Option(
            help="Streaming pace: `max` (as fast as possible), `realtime` (the readings' own "
            "spacing) or events per second."
        ),
    ] = "max",
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="The spec's 10-unit demo fleet at 4 Texas stations, 2 failing."
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(help="Threads generating chunks \\[default: cores, at most 4]."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary.")
    ] = False,
    continue_from: Annotated[
        Path | None,
        typer.Option(
            "--continue",
            help="Extend the simulation in this folder by --days: the same fleet and episodes, "
            "the next landing days beside the earlier ones (feed the pipeline day by day).",
            metavar="FOLDER",
        ),
    ] = None,
) -> None:
    """Simulate a compressor fleet: telemetry, metadata, maintenance log and ground truth;
    with --output kafka|eventhub, also stream the telemetry to the telemetry topic."""
    if continue_from is not None:
        given = [
            f"--{name}"
            for name in ("compressors", "seed", "start", "demo", "output")
            if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
        ]
        if given:
            fail(f"--continue takes the fleet from {continue_from}; drop {', '.join(given)}")
        with progress("Simulating fleet") as update:
            continued = continue_simulation(continue_from, days, workers, on_progress=update)
        if as_json:
            print(json.dumps(continued.model_dump(mode="json"), indent=2))
        else:
            print_simulation(continued)
        return
    begin = parse_start(start)
    target = output if output in ("kafka", "eventhub") else None
    pace = _parse_rate(rate)
    data_dir = get_settings().altaviz_data_dir
    if target:
        folder = data_dir / "stream"
    else:
        folder = Path(output) if output else data_dir / ("demo" if demo else "fleet")
    request = SimulationRequest(
        output=folder,
        compressors=compressors,
        days=days,
        seed=seed,
        start=begin,
        demo=demo,
        workers=workers,
    )
    with progress("Simulating fleet") as update:
        summary = simulate(request, on_progress=update)
    report = None
    if target:
        with progress(f"Streaming to {target}") as update:
            report = _stream_fleet(target, folder, pace, update)
    if as_json:
        document = summary.model_dump(mode="json")
        if report is not None:
            document["stream"] = report
        print(json.dumps(document, indent=2))
    else:
        print_simulation(summary)
        if report is not None:
            out.print(
                f"streamed to {report['topic']} on {report['broker']}: "
                f"{report['delivered']:,} delivered, {report['failed']:,} failed "
                f"({report['events_per_s']:,.0f} events/s)",
                highlight=False,
            )
    if report is not None and report["failed"]:
        raise typer.Exit(1)


def _parse_rate(rate: str) -> float | str:
    if rate in ("max", "realtime"):
        return rate
    try:
        value = float(rate)
    except ValueError:
        raise InputError(
            f"--rate {rate!r}: expected max, realtime or a number of events per second"
        ) from None
    if value <= 0:
        raise InputError(f"--rate {rate!r}: must be positive")
    return value


def _stream_fleet(target: str, folder: Path, pace: float | str, progress: Any) -> dict[str, Any]:
    from altaviz.stream.producer import produce_fleet
    from altaviz.stream.service import stream_connection

    cfg = load_config()
    conn = stream_connection(target, get_settings(), cfg)  # type: ignore[arg-type]
    report = produce_fleet(
        conn,
        folder,
        [b.name for b in cfg.fleet.basins],
        rate=pace if isinstance(pace, float) else None,
        realtime=pace == "realtime",
        on_progress=progress,
    )
    return {
        "topic": conn.topic,
        "broker": conn.describe,
        "produced": report.produced,
        "delivered": report.delivered,
        "failed": report.failed,
        "errors": report.errors,
        "duration_s": report.duration_s,
        "events_per_s": report.events_per_s,
    }
