"""``altaviz pipeline``: landing files or the telemetry stream through every layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from altaviz.cli.app import app
from altaviz.cli.options import (
    EngineName,
    LakehouseOption,
    Mode,
    Target,
)
from altaviz.cli.render import err, out, print_run, working
from altaviz.core.errors import EXIT_FILES_REFUSED, EXIT_QUALITY_HELD
from altaviz.core.results import RunStatus
from altaviz.pipeline import PipelineRequest, run_pipeline
from altaviz.settings import get_settings


@app.command("pipeline")
def pipeline_command(
    source: Annotated[
        Path | None,
        typer.Option(help="Landing folder written by `altaviz simulate` \\[default: data/fleet]."),
    ] = None,
    lakehouse: LakehouseOption = None,
    skip_quality: Annotated[
        bool,
        typer.Option(
            "--skip-quality", help="Promote to gold even when a quality check is critical."
        ),
    ] = False,
    skip_ml: Annotated[bool, typer.Option("--skip-ml", help="Skip the ML stage.")] = False,
    skip_db: Annotated[
        bool,
        typer.Option("--skip-db", help="Do not export to the serving database (DATABASE_URL)."),
    ] = False,
    accept_fleet_change: Annotated[
        bool,
        typer.Option(
            "--accept-fleet-change",
            help="The source's fleet differs from the lakehouse's on purpose (new units, a unit "
            "moved): record the change instead of refusing it.",
        ),
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
        typer.Option(
            help="Stream mode: seconds between promotions to gold \\[platform.yaml: 300]."
        ),
    ] = None,
    stop_when_idle: Annotated[
        float | None,
        typer.Option(help="Stream mode: stop after this many seconds without messages."),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="Stream mode on Spark: the query's checkpoint folder "
            "\\[default: Files/checkpoints/<topic> of the bronze lakehouse]."
        ),
    ] = None,
) -> None:
    """Run the pipeline: landing files (or the telemetry stream) -> bronze -> silver + quality
    -> gold -> alerts.

    Incremental: only new landing files and the dates they touch are processed; a rerun on the
    same input changes nothing. Landing files are Parquet, CSV or JSON Lines. Exit code 1 when
    a critical quality check held dates back, 4 when some landing files could not be read
    (they are in the dead letter; the rest landed).
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
        accept_fleet_change=accept_fleet_change,
    )
    if as_json:
        summary = run_pipeline(request)
    else:
        with working("pipeline") as say:
            summary = run_pipeline(request, on_progress=say)
    if as_json:
        print(json.dumps(summary.model_dump(mode="json"), indent=2))
    else:
        print_run(summary)
    if summary.status is RunStatus.FILES_REFUSED:
        raise typer.Exit(EXIT_FILES_REFUSED)
    if summary.status is RunStatus.QUALITY_FAILED:
        raise typer.Exit(EXIT_QUALITY_HELD)


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
