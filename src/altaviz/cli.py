"""The ``altaviz`` command line. Each command parses options, calls the library, prints."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from altaviz import __version__
from altaviz.config import ConfigError, load_config
from altaviz.engines import ENGINES
from altaviz.fleet import OutputError, SimulationError, SimulationRequest, simulate
from altaviz.fleet.simulator import DEFAULT_COMPRESSORS, DEFAULT_DAYS, SimulationSummary
from altaviz.pipeline import PipelineError, PipelineRequest, RunSummary, run_pipeline
from altaviz.sensors import SENSORS
from altaviz.settings import get_settings
from altaviz.stream import StreamError

EngineName = Enum("EngineName", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]
"""The compute engines, as the command line's choices."""


class Mode(StrEnum):
    batch = "batch"
    stream = "stream"


class Target(StrEnum):
    kafka = "kafka"
    eventhub = "eventhub"


app = typer.Typer(
    name="altaviz",
    help="Compressor fleet integrity: simulate, land, clean, alert, predict, explain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
lake_app = typer.Typer(
    help="Inspect and maintain the lakehouse's Delta tables.", no_args_is_help=True
)
config_app = typer.Typer(
    help="Inspect and validate settings and YAML configuration.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(lake_app, name="lake")
db_app = typer.Typer(help="The PostgreSQL serving database (DATABASE_URL).", no_args_is_help=True)
app.add_typer(db_app, name="db")
dev_app = typer.Typer(help="Local services for development and tests.", no_args_is_help=True)
kafka_app = typer.Typer(
    help="A single-node Apache Kafka broker (KRaft) from Maven Central, no Docker.",
    no_args_is_help=True,
)
dev_app.add_typer(kafka_app, name="kafka")
app.add_typer(dev_app, name="dev")

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
        str | None,
        typer.Option(
            help="Output folder [default: data/fleet, or data/demo with --demo]; or `kafka` / "
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
        bool, typer.Option(help="The spec's 10-unit demo fleet at 4 Texas stations, 2 failing.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Threads generating chunks [default: cores, at most 4].")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary.")
    ] = False,
) -> None:
    """Simulate a compressor fleet: telemetry, metadata, maintenance log and ground truth;
    with --output kafka|eventhub, also stream the telemetry to the telemetry topic."""
    begin = _parse_start(start)
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
    with _errors_as_exit(), _progress("Simulating fleet") as progress:
        summary = simulate(request, on_progress=progress)
    report = None
    if target:
        with _errors_as_exit(), _progress(f"Streaming to {target}") as progress:
            report = _stream_fleet(target, folder, pace, progress)
    if as_json:
        document = summary.model_dump(mode="json")
        if report is not None:
            document["stream"] = report
        print(json.dumps(document, indent=2))
    else:
        _print_summary(summary)
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
        fail(f"--rate {rate!r}: expected max, realtime or a number of events per second")
    if value <= 0:
        fail(f"--rate {rate!r}: must be positive")
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


LakehouseOption = Annotated[
    Path | None,
    typer.Option(help="Local lakehouse root [default: ALTAVIZ_LAKEHOUSE_ROOT or ./lakehouse]."),
]


@app.command("pipeline")
def pipeline_command(
    source: Annotated[
        Path | None,
        typer.Option(help="Landing folder written by `altaviz simulate` [default: data/fleet]."),
    ] = None,
    lakehouse: LakehouseOption = None,
    skip_quality: Annotated[
        bool, typer.Option(help="Promote to gold even when a quality check is critical.")
    ] = False,
    skip_ml: Annotated[bool, typer.Option(help="Skip the ML stage.")] = False,
    skip_db: Annotated[
        bool, typer.Option(help="Do not export to the serving database (DATABASE_URL).")
    ] = False,
    engine: Annotated[
        EngineName,
        typer.Option(
            help="Compute engine: polars (embedded) or spark (the cluster's session, or local[*]"
            " with Delta's jars from Maven Central; needs the spark extra and Java 17+).",
        ),
    ] = EngineName.polars,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary.")
    ] = False,
    mode: Annotated[
        Mode,
        typer.Option(
            help="batch: landing files once. stream: consume the telemetry topic until Ctrl-C."
        ),
    ] = Mode.batch,
    target: Annotated[
        Target,
        typer.Option(
            help="Stream mode: kafka (KAFKA_BOOTSTRAP_SERVERS, the local broker by default) or "
            "eventhub (EVENTHUB_CONNECTION_STRING or EVENTHUB_NAMESPACE)."
        ),
    ] = Target.kafka,
    trigger: Annotated[
        float | None,
        typer.Option(help="Stream mode: seconds between promotions to gold [platform.yaml: 300]."),
    ] = None,
    stop_when_idle: Annotated[
        float | None,
        typer.Option(help="Stream mode: stop after this many seconds without messages."),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="Stream mode on Spark: the query's checkpoint folder "
            "[default: Files/checkpoints/<topic> of the bronze lakehouse]."
        ),
    ] = None,
) -> None:
    """Run the pipeline: landing files (or the telemetry stream) -> bronze -> silver + quality
    -> gold -> alerts.

    Incremental: only new landing files and the dates they touch are processed; a rerun on the
    same input changes nothing. Exit code 1 when a critical quality check held dates back.
    In stream mode each micro-batch lands in bronze exactly once; --source then only registers
    the fleet (its compressor_metadata.parquet) before consuming.
    """
    if mode is Mode.stream:
        _stream_command(
            source,
            lakehouse,
            engine.value,
            target.value,
            trigger,
            stop_when_idle,
            checkpoint,
            skip_quality,
            skip_db,
            as_json,
        )
        return
    request = PipelineRequest(
        source=source or get_settings().altaviz_data_dir / "fleet",
        lakehouse=lakehouse,
        skip_quality=skip_quality,
        skip_ml=skip_ml,
        skip_db=skip_db,
        engine=engine.value,
    )
    with _errors_as_exit():
        summary = run_pipeline(request)
    if as_json:
        print(json.dumps(summary.model_dump(mode="json"), indent=2))
    else:
        _print_run(summary)
    if summary.status != "success":
        raise typer.Exit(1)


def _stream_command(
    source: Path | None,
    lakehouse: Path | None,
    engine: str,
    target: str,
    trigger: float | None,
    stop_when_idle: float | None,
    checkpoint: str | None,
    skip_quality: bool,
    skip_db: bool,
    as_json: bool,
) -> None:
    from altaviz.stream.service import StreamRequest, run_stream

    default = get_settings().altaviz_data_dir / "stream"
    request = StreamRequest(
        target=target,  # type: ignore[arg-type]
        source=source or (default if (default / "compressor_metadata.parquet").exists() else None),
        lakehouse=lakehouse,
        engine=engine,
        trigger_seconds=trigger,
        idle_exit_s=stop_when_idle,
        skip_quality=skip_quality,
        skip_db=skip_db,
        checkpoint=checkpoint,
    )
    say = (lambda _m: None) if as_json else (lambda m: err.print(m, highlight=False))
    with _errors_as_exit():
        summary = run_stream(request, say=say)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        out.print(
            f"consumed {summary['consumed']:,}: {summary['accepted']:,} into bronze, "
            f"{summary['rejected']:,} dead-lettered, in {summary['batches']:,} batches "
            f"({summary['events_per_s']:,.0f} events/s); {summary['promotions']} promotions",
            highlight=False,
        )


@app.command("diagnose")
def diagnose_command(
    compressor_id: Annotated[str, typer.Argument(help="The unit, e.g. COMP-0003.")],
    lakehouse: LakehouseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Diagnose one compressor from its own data: what is wrong, how sure, how long it has,
    what to do, and the evidence. Uses DIAGNOSTICS_MODEL when set, else offline rules; reads
    the serving database when DATABASE_URL is set, else the lakehouse."""
    from altaviz.agent.data import CompressorIdError, LakehouseData, UnknownCompressor
    from altaviz.agent.diagnostics import DiagnosisError, diagnose
    from altaviz.serving.database import DatabaseError

    cfg = load_config()
    settings = get_settings()
    try:
        if settings.database_url is not None:  # the serving database, when there is one
            from altaviz.agent.postgres import PostgresData

            data: Any = PostgresData(settings.database_url.get_secret_value(), cfg)
        else:
            data = LakehouseData(_engine(lakehouse), cfg)
        report, note = diagnose(compressor_id, data, cfg, settings)
    except (CompressorIdError, UnknownCompressor, DiagnosisError, DatabaseError) as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
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


@app.command("serve")
def serve_command(
    lakehouse: LakehouseOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8001,
) -> None:
    """The HTTP API (OpenAPI at /docs): fleet, compressors, alerts, predictions, diagnose.
    Every route but /health needs a key from ALTAVIZ_API_KEYS in the X-API-Key header."""
    import uvicorn

    from altaviz.api.app import create_app

    settings = get_settings()
    if not settings.api_keys():
        fail("set ALTAVIZ_API_KEYS (comma-separated keys) before serving the API")
    with _errors_as_exit():
        api = create_app(_engine(lakehouse), load_config(), settings)
    uvicorn.run(api, host=host, port=port, log_level="warning")


@app.command("runs")
def runs_command(
    lakehouse: LakehouseOption = None,
    limit: Annotated[int, typer.Option(help="Recent runs to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON.")] = False,
) -> None:
    """Recent pipeline runs, the slowest stages and how run time trends."""
    import statistics

    from altaviz.monitoring.monitor import PipelineMonitor

    with _errors_as_exit():
        engine = _engine(lakehouse)
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
        color = {"failed": "red", "quality_failed": "yellow"}.get(r.status, "green")
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
    stages: dict[str, list[float]] = {}
    for r in records:
        for stage, seconds in r.stage_durations.items():
            stages.setdefault(stage, []).append(seconds)
    slow = Table("stage", "median s", "max s", "runs", title="Slowest stages")
    for stage, times in sorted(stages.items(), key=lambda kv: -statistics.median(kv[1])):
        slow.add_row(stage, f"{statistics.median(times):.2f}", f"{max(times):.2f}", str(len(times)))
    out.print(slow)
    done = [r.duration_s for r in reversed(records) if r.status != "failed"]
    if len(done) >= 2:
        half = len(done) // 2
        older, newer = statistics.median(done[:half]), statistics.median(done[half:])
        out.print(
            f"run time trend: median {older:.1f} s (older half) -> {newer:.1f} s (newer half)"
        )


@app.command("quality")
def quality_command(
    lakehouse: LakehouseOption = None,
    day: Annotated[
        str | None, typer.Option("--date", help="Date (YYYY-MM-DD) [default: the latest].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the data-quality report stored for a date."""
    from altaviz.lake.inspect import quality_report_rows

    with _errors_as_exit():
        when, rows = quality_report_rows(_engine(lakehouse), _parse_date(day))
    if as_json:
        print(json.dumps({"date": str(when), "checks": rows}, indent=2, default=str))
        return
    table = Table("check", "value", "threshold", "severity", "detail", title=f"Data quality {when}")
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


@lake_app.command("tables")
def lake_tables(lakehouse: LakehouseOption = None) -> None:
    """List the catalogue's tables with their location and current version."""
    from altaviz.lake.catalog import TABLES

    engine = _engine(lakehouse)
    table = Table("table", "layer", "version", "partitioned by", "location")
    for spec in TABLES.values():
        version = engine.version(spec)
        table.add_row(
            spec.name,
            spec.layer,
            "-" if version is None else str(version),
            ", ".join(spec.partition_by),
            engine.uri(spec),
        )
    out.print(table)


@lake_app.command("history")
def lake_history(
    table_name: Annotated[
        str, typer.Argument(metavar="TABLE", help="Table name, e.g. sensor_cleaned.")
    ],
    lakehouse: LakehouseOption = None,
    limit: Annotated[int, typer.Option(help="Most recent commits to show.")] = 10,
) -> None:
    """Show a table's Delta commit history."""
    spec = _table(table_name)
    history = _engine(lakehouse).history(spec, limit)
    table = Table("version", "timestamp", "operation", "rows written", title=spec.name)
    for h in history:
        metrics = h.get("operationMetrics") or {}
        rows = metrics.get("num_added_rows") or metrics.get("numOutputRows") or ""
        stamp = datetime.fromtimestamp(h.get("timestamp", 0) / 1000).isoformat(timespec="seconds")
        table.add_row(str(h.get("version", "")), stamp, str(h.get("operation", "")), str(rows))
    out.print(table)


@lake_app.command("optimize")
def lake_optimize(
    table_name: Annotated[
        str | None, typer.Argument(metavar="[TABLE]", help="One table [default: all].")
    ] = None,
    lakehouse: LakehouseOption = None,
) -> None:
    """Compact small files; Z-order by compressor_id where the catalogue says so."""

    engine = _engine(lakehouse)
    for spec in _tables(table_name):
        metrics = engine.optimize(spec)
        if metrics:
            out.print(
                f"{spec.name}: {metrics.get('numFilesRemoved', 0)} files -> "
                f"{metrics.get('numFilesAdded', 0)}"
                + (f" (z-ordered by {', '.join(spec.zorder_by)})" if spec.zorder_by else "")
            )


@lake_app.command("vacuum")
def lake_vacuum(
    table_name: Annotated[
        str | None, typer.Argument(metavar="[TABLE]", help="One table [default: all].")
    ] = None,
    lakehouse: LakehouseOption = None,
    retain_hours: Annotated[
        int | None,
        typer.Option(help="Keep unreferenced files this long [default: lakehouse.yaml]."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="List what would be removed.")] = False,
) -> None:
    """Remove files no version within the retention period still needs."""

    with _errors_as_exit():
        retain = (
            retain_hours
            if retain_hours is not None
            else load_config().lakehouse.vacuum_retain_hours
        )
    engine = _engine(lakehouse)
    for spec in _tables(table_name):
        removed = engine.vacuum(spec, retain, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        out.print(f"{spec.name}: {verb} {len(removed)} files")


# ---------------------------------------------------------------------------- models


@app.command("train")
def train_command(
    lakehouse: LakehouseOption = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Learn from the training window ending at this date (YYYY-MM-DD) "
            "[default: the first days on record]."
        ),
    ] = None,
    promote: Annotated[
        bool, typer.Option(help="Make the new version the champion that scoring uses.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Train an anomaly model from the feature store and register it in MLflow.

    The first model becomes the champion; later ones are challengers until promoted, so
    training never disturbs scoring.
    """
    import uuid

    from altaviz.ml.stage import train

    end = _parse_date(until, "--until")
    cfg = load_config()
    with _errors_as_exit(), _ml_errors():
        registry = _registry()
        moment = None if end is None else datetime.combine(end, datetime.min.time(), UTC)
        ref = train(_engine(lakehouse), cfg, registry, uuid.uuid4().hex[:12], moment, promote)
    if as_json:
        print(json.dumps(ref.__dict__, indent=2))
    else:
        out.print(f"registered {ref.name} version {ref.version} as [bold]{ref.alias}[/]")


@app.command("models")
def models_command(
    promote: Annotated[
        str | None, typer.Option(help="Make this version the champion.", metavar="VERSION")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the registered anomaly model versions and their aliases; promote one."""
    with _ml_errors():
        registry = _registry()
        if promote is not None:
            registry.promote(promote)
        versions = registry.versions()
    if as_json:
        print(json.dumps(versions, indent=2))
        return
    table = Table("version", "aliases", "run", title=f"Registered models ({registry.uri})")
    for v in versions:
        table.add_row(v["version"], ", ".join(v["aliases"]) or "-", v["run_id"] or "-")
    out.print(table)


@app.command("predict")
def predict_command(
    lakehouse: LakehouseOption = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Gold date to score (YYYY-MM-DD) [default: the latest]."),
    ] = None,
    top: Annotated[int, typer.Option(help="Units at risk to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Score the fleet with all four models for a gold date and list the units at risk."""
    import uuid

    import narwhals as nw

    from altaviz.lake.catalog import HOURLY_AGGREGATES, ML_PREDICTIONS
    from altaviz.ml.stage import run_ml

    cfg = load_config()
    with _errors_as_exit(), _ml_errors():
        engine = _engine(lakehouse)
        dates = engine.partition_values(HOURLY_AGGREGATES)
        if not dates:
            fail("the lakehouse has no gold hourly rows (run `altaviz pipeline` first)")
        wanted = _parse_date(day) or max(dates)
        if wanted not in dates:
            fail(f"--date {wanted}: no gold hourly rows for that date")
        began = time.perf_counter()
        summary = run_ml(engine, cfg, _registry(), [wanted], uuid.uuid4().hex[:12])
        took = time.perf_counter() - began
        rows = engine.read(ML_PREDICTIONS, nw.col("date") == wanted).collect("polars")
    last = rows.filter(nw.col("hour") == rows.get_column("hour").max())
    risk = nw.max_horizontal(
        nw.col("anomaly_level").fill_null(0),
        nw.col("drift_level").fill_null(0),
        nw.col("rul_level").fill_null(0),
    )
    at_risk = (
        last.with_columns(risk.alias("risk"))
        .filter(nw.col("risk") >= 1)
        .sort("risk", "rul_failure_probability", descending=[True, True], nulls_last=True)
    )
    if as_json:
        payload = {
            "date": wanted.isoformat(),
            "model_version": summary.model_version,
            "units_scored": last.shape[0],
            "units_at_risk": at_risk.shape[0],
            "scoring_s": round(took, 3),
            "notes": summary.notes,
            "at_risk": at_risk.head(top).rows(named=True),
        }
        print(json.dumps(payload, indent=2, default=str))
        return
    table = Table(
        "unit",
        "anomaly",
        "top sensors",
        "drift h to warn",
        "RUL h",
        "RUL sensor",
        "P(fail 48h)",
        title=f"Units at risk, {wanted} ({at_risk.shape[0]:,} of {last.shape[0]:,} scored;"
        f" anomaly model v{summary.model_version or 'none'}; {took:.1f} s)",
    )
    for r in at_risk.head(top).rows(named=True):
        table.add_row(
            r["compressor_id"],
            _num(r["anomaly_score"], ".3f"),
            r["anomaly_top_sensors"] or "-",
            _num(r["drift_hours_to_warning"], ".0f"),
            _num(r["rul_hours"], ".0f"),
            r["rul_sensor"] or "-",
            _num(r["rul_failure_probability"], ".2f"),
        )
    out.print(table)
    for note in summary.notes:
        out.print(f"  [dim]{note}[/]")


@app.command("emissions")
def emissions_command(
    lakehouse: LakehouseOption = None,
    by: Annotated[
        str, typer.Option(help="Totals per unit, station (the reporting facility) or basin.")
    ] = "station",
    since: Annotated[
        str | None, typer.Option(help="First date (YYYY-MM-DD) [default: all on record].")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last date (YYYY-MM-DD) [default: all on record].")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows to print, largest CO2e first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print every row as JSON.")] = False,
) -> None:
    """Methane and CO2e totals (EPA Subpart W), annualised, with OOOOb packing flags and the
    25,000 t CO2e/yr facility reporting threshold."""
    import narwhals as nw

    from altaviz.lake.catalog import EMISSIONS_ESTIMATES
    from altaviz.ml.emissions import emissions_summary

    if by not in ("unit", "station", "basin"):
        fail(f"--by {by!r}: choose unit, station or basin")
    first, last = _parse_date(since, "--since"), _parse_date(until, "--until")
    bounds = [nw.col("date") >= first] if first is not None else []
    bounds += [nw.col("date") <= last] if last is not None else []
    where = nw.all_horizontal(*bounds, ignore_nulls=False) if bounds else None
    with _errors_as_exit():
        rows = _engine(lakehouse).read(EMISSIONS_ESTIMATES, where).collect("polars")
    if not rows.shape[0]:
        fail("no emissions estimates for those dates (run `altaviz pipeline` first)")
    totals = emissions_summary(rows, by, load_config().models.emissions)  # type: ignore[arg-type]
    totals = totals.sort("co2e_t", descending=True)
    if as_json:
        print(json.dumps(totals.rows(named=True), indent=2, default=str))
        return
    key = totals.columns[0]
    span = f"{rows.get_column('date').min()} to {rows.get_column('date').max()}"
    table = Table(
        key,
        "units",
        "CH4 t",
        "CO2e t",
        "CO2e t/yr",
        "packing over limit",
        "check due",
        title=f"Emissions by {by}, {span} ({totals.get_column('hours').max():,} h)",
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


@app.command("evaluate")
def evaluate_command(
    source: Annotated[
        Path | None,
        typer.Option(
            help="The simulator output whose truth to score against [default: data/fleet]."
        ),
    ] = None,
    lakehouse: LakehouseOption = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write a Markdown report with PNG plots here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Score alerts and models against the simulator's ground truth."""
    import narwhals as nw

    from altaviz.lake.catalog import ALERT_HISTORY, HOURLY_AGGREGATES, ML_PREDICTIONS
    from altaviz.ml.evaluate import Truth, evaluate, write_report

    with _errors_as_exit():
        truth = Truth.read(source or get_settings().altaviz_data_dir / "fleet")
        engine = _engine(lakehouse)
        alerts = nw.to_native(engine.read(ALERT_HISTORY).collect("polars"))
        predictions = nw.to_native(engine.read(ML_PREDICTIONS).collect("polars"))
        result = evaluate(truth, alerts, predictions)
        if report is not None:
            hourly = nw.to_native(
                engine.read(HOURLY_AGGREGATES)
                .select("compressor_id", "hour", *(f"{s}_mean" for s in SENSORS))
                .collect("polars")
            )
            result["report"] = str(write_report(result, truth, alerts, hourly, report))
    if as_json:
        print(json.dumps(result, indent=2))
        return
    o = result["overall"]
    out.print(
        f"failures caught before failing: [bold]{o['caught']} of {o['failures']}[/] "
        f"({_pct(o['caught_share'])}), median lead {o['median_lead_h']} h "
        f"(p10 {o['p10_lead_h']} h)"
    )
    out.print(
        f"healthy units flagged: [bold]{o['healthy_units_flagged']} of {o['healthy_units']}[/] "
        f"({_pct(o['healthy_units_flagged_share'])}); alert precision {_pct(o['precision'])}"
    )
    table = Table("failure mode", "failures", "caught", "median lead h", "p10 lead h")
    for mode, r in result["per_mode"].items():
        table.add_row(
            mode,
            str(r["failures"]),
            _pct(r["caught_share"]),
            _num(r["median_lead_h"], ".1f"),
            _num(r["p10_lead_h"], ".1f"),
        )
    out.print(table)
    d = result["drift"]
    out.print(
        f"drift model: {d['found_by_drift_model']} of {d['cooling_and_fouling_failures']} "
        f"cooling/fouling failures ({_pct(d['found_share'])}); time-to-warning median abs "
        f"error {d['time_to_warning_median_abs_error_h']} h"
    )
    out.print(
        f"RUL: median abs error {result['rul']['median_abs_error_h']} h "
        f"({result['rul']['median_abs_error_last_48h']} h in the last 48 h)"
    )
    if report is not None:
        out.print(f"report: {result['report']}")


@db_app.command("schema")
def db_schema() -> None:
    """Print the serving schema (infrastructure/sql/schema.sql is this output)."""
    from altaviz.serving.schema import schema_sql

    sys.stdout.write(schema_sql())


@db_app.command("migrate")
def db_migrate() -> None:
    """Create or update the serving schema in DATABASE_URL (idempotent)."""
    from altaviz.serving.database import DatabaseError, connect, migrate

    url = get_settings().database_url
    if url is None:
        fail("DATABASE_URL is not set (postgresql://user@host:5432/dbname)")
    try:
        with connect(url.get_secret_value()) as conn:
            migrate(conn)
    except DatabaseError as exc:
        fail(str(exc))
    out.print("serving schema is up to date")


@db_app.command("export")
def db_export(
    lakehouse: LakehouseOption = None,
    since: Annotated[str | None, typer.Option(help="First date [default: all].")] = None,
) -> None:
    """Export the lakehouse's gold and ML tables (all dates, or from --since) to DATABASE_URL."""
    from altaviz.lake.catalog import HOURLY_AGGREGATES
    from altaviz.serving.database import DatabaseError, connect, export, migrate

    url = get_settings().database_url
    if url is None:
        fail("DATABASE_URL is not set (postgresql://user@host:5432/dbname)")
    first = _parse_date(since, "--since")
    engine = _engine(lakehouse)
    dates = [d for d in engine.partition_values(HOURLY_AGGREGATES) if first is None or d >= first]
    try:
        with connect(url.get_secret_value()) as conn:
            migrate(conn)
            sent = export(engine, conn, dates)
    except DatabaseError as exc:
        fail(str(exc))
    for table, rows in sent.items():
        out.print(f"{table}: {rows:,} rows")


def _registry():  # type: ignore[no-untyped-def]
    from altaviz.ml.registry import Registry

    return Registry(get_settings().mlflow_tracking_uri)


@contextmanager
def _ml_errors() -> Iterator[None]:
    from altaviz.ml.registry import RegistryError
    from altaviz.ml.stage import MlError

    try:
        yield
    except (RegistryError, MlError) as exc:
        fail(str(exc))


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


def _engine(lakehouse: Path | None):  # type: ignore[no-untyped-def]
    from altaviz.engines import get_engine
    from altaviz.lake.location import lake_location

    with _errors_as_exit():
        cfg = load_config()
    return get_engine("polars", lake_location(cfg.lakehouse, get_settings(), root=lakehouse))


def _table(name: str):  # type: ignore[no-untyped-def]
    from altaviz.lake.catalog import table

    try:
        return table(name)
    except KeyError as exc:
        fail(str(exc.args[0]))


def _tables(name: str | None) -> list:  # type: ignore[type-arg]
    """One named table, or the whole catalogue."""
    from altaviz.lake.catalog import TABLES

    return [_table(name)] if name else list(TABLES.values())


def _parse_date(value: str | None, option: str = "--date") -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date (YYYY-MM-DD)")


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
    except (SimulationError, OutputError, ConfigError, PipelineError, StreamError) as exc:
        fail(str(exc))
    except LookupError as exc:
        fail(str(exc.args[0]))
    except ValueError as exc:  # bad user input found deeper down (dates, folders)
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


def _print_run(s: RunSummary) -> None:
    verdict = "[green]passed[/]" if s.quality_passed else "[red]critical check failed[/]"
    table = Table(title=f"Pipeline run {s.run_id} ({s.engine}) - {s.status}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = s.rows
    table.add_row("bronze rows (dead letters)", f"{rows['bronze']:,} ({rows['dead_letter']:,})")
    table.add_row("silver rows", f"{rows['silver']:,}")
    table.add_row("gold hourly / daily rows", f"{rows['gold_hourly']:,} / {rows['gold_daily']:,}")
    table.add_row(
        "alerts opened / resolved / open",
        f"{s.alerts['opened']:,} / {s.alerts['resolved']:,} / {s.alerts['open']:,}",
    )
    table.add_row("quality", verdict)
    ml = s.ml
    if ml.get("skipped"):
        table.add_row("models", f"skipped ({ml['pending_dates']} date(s) waiting)")
    elif ml.get("dates"):
        version = ml["model_version"] or "none yet"
        table.add_row(
            "models: predictions / units at risk",
            f"{ml['predictions']:,} / {ml['units_at_risk']:,} (anomaly model v{version})",
        )
        table.add_row(
            "model alerts opened / resolved",
            f"{ml['alerts_opened']:,} / {ml['alerts_resolved']:,}",
        )
    if s.blocked_dates:
        table.add_row("held back from gold", ", ".join(map(str, s.blocked_dates)))
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
            "alerts",
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
    for note in s.notes:
        out.print(f"  [dim]{note}[/]")


# ---------------------------------------------------------------------------- dev services


def _local_broker() -> Any:
    from altaviz.stream.broker import LocalBroker

    settings = get_settings()
    servers = settings.kafka_bootstrap_servers.split(",")[0]
    host, _, port = servers.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        fail(f"KAFKA_BOOTSTRAP_SERVERS={servers} is not a local address; the dev broker is local")
    partitions = load_config().platform.eventhub.partitions
    return LocalBroker(settings.altaviz_kafka_home, port=int(port), partitions=partitions)


@kafka_app.command("start")
def kafka_start() -> None:
    """Start the local broker (its jars are fetched from Maven Central the first time)."""
    from altaviz.stream.broker import BrokerError

    broker = _local_broker()
    try:
        with err.status("starting Kafka (first run: fetching its jars from Maven Central)"):
            address = broker.start()
    except BrokerError as exc:
        fail(str(exc))
    out.print(f"Kafka listening on {address} (data in {broker.home})", highlight=False)


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker (a clean shutdown; its data is kept)."""
    stopped = _local_broker().stop()
    out.print("Kafka stopped" if stopped else "Kafka was not running")


@kafka_app.command("status")
def kafka_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Whether the local broker runs; exit code 1 when it does not."""
    status = _local_broker().status()
    if as_json:
        print(
            json.dumps(
                {
                    "running": status.running,
                    "pid": status.pid,
                    "bootstrap": status.bootstrap,
                    "home": str(status.home),
                }
            )
        )
    else:
        state = f"running (pid {status.pid})" if status.running else "stopped"
        out.print(f"Kafka {state} at {status.bootstrap}, data in {status.home}", highlight=False)
    if not status.running:
        raise typer.Exit(1)
