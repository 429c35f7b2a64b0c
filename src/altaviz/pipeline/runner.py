"""The pipeline runner: the stages in order, the run's state and timing, and its record.

Incremental and idempotent:

- bronze: each landing file is appended exactly once (a Delta application transaction per
  file, checked before writing); rejected records go to ``dead_letter`` the same way;
- silver: only the event dates touched by bronze rows added since the version silver last
  consumed are rebuilt, each date atomically replaced;
- gold: dates whose silver changed (and the day after, whose 24-hour windows look back into
  them) are rebuilt, in the same pass and date order; the alerts that opened on a date are
  replaced with it, and earlier alerts it continues or resolves are merged on their IDs.

A rerun on the same input finds nothing new and writes nothing. A run killed at any point
leaves every table at a committed version; the next run redoes the unfinished dates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from altaviz.config import AppConfig, load_config
from altaviz.core.errors import InputError
from altaviz.core.results import AlertCounts, MlResult, RowCounts, RunStatus
from altaviz.engines import Engine, ensure_writable, open_engine
from altaviz.lake import catalog as lake
from altaviz.monitoring.monitor import PipelineMonitor, describe, run_record
from altaviz.monitoring.record import RunRecord
from altaviz.pipeline.bronze import ingest
from altaviz.pipeline.cases import cases_stage
from altaviz.pipeline.compliance import compliance_stage, land_packing_records
from altaviz.pipeline.context import PipelineError, PipelineRequest, RunContext
from altaviz.pipeline.export import export_stage
from altaviz.pipeline.notifications import notify_stage
from altaviz.pipeline.promotion import promote
from altaviz.pipeline.reference import load_reference
from altaviz.pipeline.reports import freshness_minutes, latest_fleet_health, open_alerts
from altaviz.pipeline.state import read_state, save_state
from altaviz.settings import Settings, get_settings


class RunSummary(BaseModel):
    """What one run did, as the command line prints it (``--json``) and tests read it."""

    run_id: str
    status: RunStatus
    engine: str
    rows: RowCounts
    rejected: int
    alerts: AlertCounts
    quality_passed: bool
    quality: list[dict[str, Any]]
    dates: dict[str, list[date]]
    blocked_dates: list[date]
    ml: MlResult
    exported: dict[str, int] = {}  # rows sent to the serving database per table
    fleet_health: list[dict[str, Any]]
    durations: dict[str, float]
    spark_jobs: dict[str, int] = {}  # Spark jobs per stage (on the Spark engine)
    duration_s: float
    notes: list[str]
    refused_files: list[str] = []  # landing files that could not be read (in the dead letter)
    warnings: list[str] = []  # what the run's monitoring could not deliver


def run_pipeline(
    request: PipelineRequest,
    config: AppConfig | None = None,
    settings: Settings | None = None,
    on_progress: Callable[[str], None] | None = None,
    monitor: PipelineMonitor | None = None,
    engine: Engine | None = None,
) -> RunSummary:
    """Run the batch pipeline once over ``request.source`` into ``request.lakehouse``.

    Every run, finished or failed, leaves a record in ``pipeline_runs`` and with each sink
    the environment enables (structured log, Azure Monitor, Teams): ``monitor`` overrides them.
    ``engine`` reuses an open engine (the stream consumer's) instead of opening one.
    """
    cfg = config or load_config()
    settings = settings or get_settings()
    if request.source is not None:
        check_source(Path(request.source))  # before anything is created or recorded
    say = on_progress or (lambda _msg: None)
    if engine is None:
        if request.engine == "spark":  # some seconds, a minute when Delta's jars are fetched
            say("starting Spark")
        engine = open_engine(request.engine, request.lakehouse, cfg, settings)
    ensure_writable(engine)
    run = RunContext(engine, cfg, request, say=say)
    monitor = monitor or PipelineMonitor(engine, cfg, settings)
    try:
        summary = _execute(run, settings, run.say)
    except InputError:
        raise  # the input was refused before any table changed: not a run to record
    except BaseException as exc:
        monitor.finish(_record(run, None, error=describe(exc)))
        raise
    record = monitor.finish(_record(run, summary))
    # One run time: the record's, from the run's start to its record (as `altaviz runs` shows).
    return summary.model_copy(update={"warnings": record.warnings, "duration_s": record.duration_s})


def check_source(source: Path) -> None:
    """A landing folder the pipeline can read, or one line that says what is wrong."""
    if not source.exists():
        raise InputError(f"--source {source}: no such folder (run `altaviz simulate` first)")
    if not source.is_dir():
        raise InputError(f"--source {source}: a file, not a landing folder")
    if not (source / "telemetry").is_dir():
        raise InputError(
            f"--source {source}: no telemetry/ folder in it (run `altaviz simulate` first)"
        )


def _record(run: RunContext, summary: RunSummary | None, error: str | None = None) -> RunRecord:
    """The run's record: from its summary, or (``summary`` None) from what a failed run
    had done when it stopped."""
    common = {
        "run_id": run.run_id,
        "engine": run.engine.name,
        "started_at": run.started,
        "durations": run.durations,
        "rows": run.rows,
        "notes": run.notes,
    }
    if summary is None:
        return run_record(**common, status=RunStatus.FAILED, error=error)
    return run_record(
        **common,
        status=summary.status,
        rejected=summary.rejected,
        quality_passed=summary.quality_passed if summary.quality else None,
        blocked=summary.blocked_dates,
        alerts=summary.alerts,
        ml=summary.ml,
        freshness_minutes=freshness_minutes(run.engine),
    )


def _execute(run: RunContext, settings: Settings, say: Callable[[str], None]) -> RunSummary:
    began = time.perf_counter()
    rejected = 0
    if run.request.source is not None:
        source = Path(run.request.source)
        with run.stage("reference"):
            say("reference data")
            load_reference(run.engine, source, run.request.accept_fleet_change)
            land_packing_records(run.engine, source)
        with run.stage("bronze"):
            say("bronze")
            rejected = ingest(run, source)
    say("silver, quality, gold and alerts")
    promoted = promote(run)
    ml = ml_stage(run, promoted.gold_dates, settings, say)
    with run.stage("compliance"):
        say("compliance")
        compliance_open = compliance_stage(run)
    if compliance_open:
        run.notes.append(f"{compliance_open} rod-packing compliance alert(s) open")
    with run.stage("cases"):
        say("cases")
        worklist = cases_stage(run)
        notified = notify_stage(run, settings)
    if notified:
        run.notes.append(f"{notified} notification(s) sent")
    exported = export_stage(run, settings, [*promoted.gold_dates, *ml.dates], say)
    quality_rows = [
        {"date": r.day, **asdict(c), "passed": c.passed}
        for r in promoted.reports
        for c in r.checks
        if c.severity != "info"
    ]
    return RunSummary(
        run_id=run.run_id,
        status=(
            RunStatus.FILES_REFUSED
            if run.refused_files
            else RunStatus.QUALITY_FAILED
            if promoted.blocked
            else RunStatus.SUCCESS
        ),
        engine=run.engine.name,
        rows=run.rows,
        rejected=rejected,
        alerts=AlertCounts(
            # Every kind of alert, rules' and models', as alert_history and `runs` count them.
            opened=promoted.alerts_opened + ml.alerts_opened,
            resolved=promoted.alerts_resolved + ml.alerts_resolved,
            open=open_alerts(run.engine),
            cases_open=worklist.open,
        ),
        ml=ml,
        exported=exported,
        quality_passed=all(r.passed for r in promoted.reports),
        quality=quality_rows,
        dates={"silver": promoted.silver_dates, "gold": promoted.gold_dates},
        blocked_dates=promoted.blocked,
        fleet_health=latest_fleet_health(run.engine),
        durations=run.durations,
        spark_jobs=run.jobs,
        duration_s=round(time.perf_counter() - began, 3),
        notes=run.notes,
        refused_files=run.refused_files,
    )


def ml_stage(
    run: RunContext, gold_dates: list[date], settings: Settings, say: Callable[[str], None]
) -> MlResult:
    """Score the promoted dates, the day before each (its baselines may have been learned
    again with it) and the two after (whose trend windows reach back into it); with
    ``--skip-ml`` they wait in the pipeline state for the next run with ML."""
    state = read_state(run.engine)
    pending = state["ml"].pending if "ml" in state else set()
    known = run.engine.partition_values(lake.HOURLY_AGGREGATES)
    follow = {d + timedelta(days=k) for d in gold_dates for k in (-1, 1, 2)} & known
    days = (pending | set(gold_dates) | follow) & known
    if days - pending:  # owed until scored: a run skipping or failing the stage keeps them
        save_state(run.engine, "ml", None, days)
    if run.request.skip_ml:
        return MlResult(skipped=True, pending_dates=len(days))
    if not days:
        return MlResult()
    # Imported here: scikit-learn and MLflow take seconds to load, and most runs of a
    # data engineer's day need neither.
    from altaviz.ml.registry import RegistryError
    from altaviz.pipeline.ml import run_ml
    from altaviz.pipeline.models import open_registry
    from altaviz.pipeline.training import MlError

    with run.stage("ml"):
        say("models")
        try:
            registry = open_registry(run.engine, settings)
            result = run_ml(run.engine, run.config, registry, sorted(days), run.run_id, say)
        except (RegistryError, MlError) as exc:
            raise PipelineError(f"ML stage: {exc}") from exc
        save_state(run.engine, "ml", None, set())
    run.notes.extend(result.notes)
    return result
