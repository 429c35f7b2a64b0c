"""The batch pipeline: landing files -> bronze -> silver (+ quality) -> gold -> alerts.

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

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import narwhals as nw
from pydantic import BaseModel

from altaviz.config import AppConfig, load_config
from altaviz.engines import Engine, EngineError, Txn, get_engine
from altaviz.lake import catalog as lake
from altaviz.lake.location import lake_location
from altaviz.lake.queries import carried_alerts
from altaviz.monitoring.monitor import PipelineMonitor, describe, run_record
from altaviz.sensors import SENSORS
from altaviz.settings import Settings, get_settings
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms import gold
from altaviz.transforms.bronze import compressor_id_pattern, rejection_reasons
from altaviz.transforms.days import day_bounds
from altaviz.transforms.frames import Frame, done, first_row, height, rows, same_kind, values
from altaviz.transforms.limits import unit_limits
from altaviz.transforms.quality import QualityReport, quality_report
from altaviz.transforms.silver import clean_day

log = logging.getLogger("altaviz.pipeline")

SILVER_HALO = timedelta(hours=1)  # leading readings the spike check needs
# The bronze columns cleaning reads (the batch and source texts would only be carried along).
SILVER_INPUT = ("timestamp", "compressor_id", *SENSORS, "received_at", "ingested_at")


class PipelineError(RuntimeError):
    """The pipeline cannot run; the message says why in one line."""


@dataclass(frozen=True)
class PipelineRequest:
    source: Path | None = None
    lakehouse: Path | None = None
    skip_quality: bool = False
    skip_ml: bool = False
    skip_db: bool = False
    engine: str = "polars"


class RunSummary(BaseModel):
    run_id: str
    status: str  # success, quality_failed
    engine: str
    rows: dict[str, int]
    rejected: int
    alerts: dict[str, int]
    quality_passed: bool
    quality: list[dict[str, Any]]
    dates: dict[str, list[date]]
    blocked_dates: list[date]
    ml: dict[str, Any]
    exported: dict[str, int] = {}  # rows sent to the serving database per table
    fleet_health: list[dict[str, Any]]
    durations: dict[str, float]
    duration_s: float
    notes: list[str]
    warnings: list[str] = []  # what the run's monitoring could not deliver


class _WriteBehind:
    """Delta commits on one background thread, in the order submitted, while the main thread
    prepares the next day. At most ``depth`` commits wait; ``drain`` re-raises a failed one."""

    def __init__(self, depth: int = 2) -> None:
        # One thread: commits to a table must be serial (delta-rs refuses racing commits).
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="altaviz-writer")
        self._pending: list[Future[Any]] = []
        self._depth = depth

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        while len([f for f in self._pending if not f.done()]) >= self._depth:
            self._pending[0].result()
            self._pending.pop(0)
        self._pending.append(self._pool.submit(fn, *args))

    def drain(self) -> None:
        try:
            for future in self._pending:
                future.result()
        finally:
            self._pending.clear()

    def __enter__(self) -> _WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.drain()
            else:  # already failing: let queued commits finish, report the first error
                for future in self._pending:
                    future.exception()
        finally:
            self._pool.shutdown(wait=True)


@dataclass
class _Run:
    engine: Engine
    config: AppConfig
    request: PipelineRequest
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    durations: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("bronze", "dead_letter", "silver", "gold_hourly", "gold_daily"), 0
        )
    )
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.durations[name] = round(
                self.durations.get(name, 0.0) + time.perf_counter() - began, 3
            )


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
    if engine is None:
        location = lake_location(cfg.lakehouse, settings, root=request.lakehouse)
        try:
            engine = get_engine(request.engine, location)
        except (ValueError, EngineError) as exc:
            raise PipelineError(str(exc)) from exc
    run = _Run(engine, cfg, request)
    monitor = monitor or PipelineMonitor(engine, cfg, settings)
    try:
        summary = _execute(run, settings, on_progress or (lambda _msg: None))
    except BaseException as exc:
        record = run_record(
            run_id=run.run_id,
            engine=engine.name,
            started_at=run.started,
            durations=run.durations,
            rows=run.rows,
            status="failed",
            error=describe(exc),
            notes=run.notes,
        )
        monitor.finish(record)
        raise
    record = monitor.finish(
        run_record(
            run_id=run.run_id,
            engine=engine.name,
            started_at=run.started,
            durations=summary.durations,
            rows=summary.rows,
            status=summary.status,
            rejected=summary.rejected,
            quality_passed=summary.quality_passed if summary.quality else None,
            blocked=summary.blocked_dates,
            alerts=summary.alerts,
            ml=summary.ml,
            freshness_minutes=_freshness(run),
            notes=summary.notes,
        )
    )
    return summary.model_copy(update={"warnings": record.warnings})


def _freshness(run: _Run) -> float | None:
    """Minutes from the newest reading in bronze to now."""
    newest = run.engine.column_max(lake.SENSOR_READINGS, "timestamp")
    if newest is None:
        return None
    return round((datetime.now(UTC) - newest).total_seconds() / 60.0, 1)


def _execute(run: _Run, settings: Settings, say: Callable[[str], None]) -> RunSummary:
    began = time.perf_counter()
    request, engine = run.request, run.engine

    if request.source is not None:
        source = Path(request.source)
        if not (source / "telemetry").is_dir():
            raise PipelineError(
                f"--source {source}: no telemetry/ folder (run `altaviz simulate` first)"
            )
        with run.stage("reference"):
            say("reference data")
            load_reference(run.engine, source)
        with run.stage("bronze"):
            say("bronze")
            rejected = _ingest(run, source)
    else:
        rejected = 0
    say("silver, quality, gold and alerts")
    silver_dates, reports, gold_dates, blocked, opened, resolved = _promote(run)
    ml = _ml(run, gold_dates, settings, say)
    exported = _export(run, settings, [*gold_dates, *ml.get("scored_dates", [])], say)
    health = _latest_fleet_health(run)
    quality_rows = [
        {"date": r.day, **asdict(c), "passed": c.passed}
        for r in reports
        for c in r.checks
        if c.severity != "info"
    ]
    passed = all(r.passed for r in reports)
    return RunSummary(
        run_id=run.run_id,
        status="quality_failed" if blocked else "success",
        engine=engine.name,
        rows=run.rows,
        rejected=rejected,
        alerts={"opened": opened, "resolved": resolved, "open": _open_alerts(run)},
        ml=ml,
        exported=exported,
        quality_passed=passed,
        quality=quality_rows,
        dates={"silver": silver_dates, "gold": gold_dates},
        blocked_dates=blocked,
        fleet_health=health,
        durations=run.durations,
        duration_s=round(time.perf_counter() - began, 3),
        notes=run.notes,
    )


# ---------------------------------------------------------------------------- reference data


def load_reference(engine: Engine, source: Path) -> None:
    """Upsert the fleet's metadata, stations and maintenance log from a simulation folder;
    unchanged rows write nothing. The fleet must be registered before telemetry is ingested."""
    for spec, name in (
        (lake.COMPRESSOR_METADATA, "compressor_metadata.parquet"),
        (lake.STATIONS, "stations.parquet"),
        (lake.MAINTENANCE_EVENTS, "maintenance_events.parquet"),
    ):
        path = source / name
        if not path.exists():
            if spec is lake.COMPRESSOR_METADATA and not engine.exists(spec):
                raise PipelineError(
                    f"--source {source}: no {name}; the fleet must be registered first"
                )
            continue
        incoming = engine.read_file(str(path), spec)
        current = engine.read(spec)
        changed = done(
            _null_safe(incoming)
            .lazy()
            .join(_null_safe(current).lazy(), on=spec.schema.names, how="anti")
        )
        if height(changed):
            engine.merge(spec, incoming.join(changed.select(*spec.keys), on=list(spec.keys)))


def _null_safe(frame: Frame) -> Frame:
    """Every column as text with nulls spelled out, so rows compare equal null for null."""
    return frame.select(nw.col(c).cast(nw.String).fill_null("\x00null") for c in frame.columns)


# ---------------------------------------------------------------------------- bronze


def landing_file_id(path: Path, name: str) -> str:
    """Identity of a landing file: its path, size and modification time. A file rewritten in
    place is a new file; the same file seen again is not."""
    stat = path.stat()
    return f"ingest:{name}:{stat.st_size}:{stat.st_mtime_ns}"


def _ingest(run: _Run, source: Path) -> int:
    """Append every landing file not yet ingested; returns the number of rejected records."""
    files = sorted((source / "telemetry").glob("date=*/*.parquet"))
    if not files:
        return 0
    names = {f: f.relative_to(source).as_posix() for f in files}
    ids = {f: landing_file_id(f, names[f]) for f in files}
    ingested = run.engine.txn_versions(lake.SENSOR_READINGS, list(ids.values()))
    dead = run.engine.txn_versions(lake.DEAD_LETTER, list(ids.values()))
    pending = [f for f in files if ingested[ids[f]] is None]
    if not pending:
        return 0
    fleet = run.config.fleet.telemetry
    pattern = compressor_id_pattern(fleet.id_prefix, fleet.id_min_digits)
    known = done(run.engine.read(lake.COMPRESSOR_METADATA).select("compressor_id"))
    rejected = 0
    # One commit per landing date, recording each file's transaction in it; an engine that
    # records one transaction per commit (Delta on Spark) commits file by file instead.
    groups: dict[tuple[str, int], list[Path]] = {}
    for n, f in enumerate(pending):
        key = n if run.engine.one_txn_per_commit else 0
        groups.setdefault((f.parent.name.removeprefix("date="), key), []).append(f)
    with _WriteBehind() as writer:
        for (landing, _), group in sorted(groups.items()):
            rejected += _ingest_landing_date(
                run, writer, landing, group, names, ids, dead, known, pattern
            )
    return rejected


def _ingest_landing_date(
    run: _Run,
    writer: _WriteBehind,
    landing: str,
    group: list[Path],
    names: dict[Path, str],
    ids: dict[Path, str],
    dead: dict[str, int | None],
    known: Frame,
    pattern: str,
) -> int:
    """Validate one landing date's files; queue their dead letters and bronze rows."""
    try:
        landed = date.fromisoformat(landing)
    except ValueError:
        raise PipelineError(f"{group[0].parent}: partition folder is not date=YYYY-MM-DD") from None
    frames = []
    for f in group:
        try:
            frame = run.engine.read_source(
                str(f), lake.RAW_TELEMETRY, required=("timestamp", "compressor_id")
            )
        except Exception as exc:  # the reader's own kinds: a file it cannot parse at all
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PipelineError(f"{names[f]}: not a readable Parquet file ({detail})") from exc
        frames.append(frame.with_columns(nw.lit(names[f]).alias("source")))
    records = nw.concat(same_kind(frames))
    judged = done(
        rejection_reasons(records, known, run.config.thresholds.cleaning, pattern, run.started)
    )
    meta = [
        nw.lit(run.started).alias("ingested_at"),
        nw.col("source").alias("batch_id"),
        nw.lit(landed).alias("ingestion_date"),
    ]
    bad = judged.filter(~nw.col("reason").is_null())
    rejected = height(bad)
    if rejected:
        txns = [Txn(ids[f], 1) for f in group if dead[ids[f]] is None]
        if txns:
            bad = run.engine.fill_json(bad, [*lake.RAW_TELEMETRY], "raw_record")
            letters = bad.with_columns(*meta, nw.lit(None).cast(nw.Int32).alias("source_partition"))
            writer.submit(run.engine.append, lake.DEAD_LETTER, letters, txns)
            run.rows["dead_letter"] += rejected
    good = judged.filter(nw.col("reason").is_null()).with_columns(*meta)
    accepted = height(good)
    txns = [Txn(ids[f], 1) for f in group]
    writer.submit(run.engine.append, lake.SENSOR_READINGS, good, txns)
    run.rows["bronze"] += accepted
    log.info("bronze %s: %d accepted, %d rejected", landing, accepted, rejected)
    return rejected


# ---------------------------------------------------------------------------- silver


def _state(run: _Run) -> dict[str, dict[str, Any]]:
    return {
        r["stage"]: {
            "version": r["source_version"],
            "pending": [date.fromisoformat(d) for d in json.loads(r["pending_dates"])],
        }
        for r in rows(run.engine.read(lake.PIPELINE_STATE))
    }


def _save_state(run: _Run, stage: str, version: int | None, pending: set[date]) -> None:
    row = {
        "stage": [stage],
        "source_version": [version],
        "pending_dates": [json.dumps(sorted(d.isoformat() for d in pending))],
    }
    run.engine.merge(lake.PIPELINE_STATE, run.engine.frame(lake.PIPELINE_STATE, row))


def _promote(
    run: _Run,
) -> tuple[list[date], list[QualityReport], list[date], list[date], int, int]:
    """Rebuild silver for every event date with new bronze rows, and promote to gold every date
    whose silver changed (or is still pending) and passed quality - in one pass, date by
    date, handing each day's silver to gold in memory.

    Returns silver dates, quality reports, gold dates, held-back dates, alerts opened/resolved.
    """
    state = _state(run)
    consumed = state.get("silver", {}).get("version")
    current = run.engine.version(lake.SENSOR_READINGS)
    rebuild: list[date] = []
    if current is not None and current != consumed:
        added = run.engine.read_added(lake.SENSOR_READINGS, consumed)
        rebuild = sorted(
            values(added.select(nw.col("timestamp").dt.date().alias("d")).unique(), "d")
        )
    known = run.engine.partition_values(lake.SENSOR_CLEANED) | set(rebuild)
    # The next day's windows look back into a rebuilt day: promote that day again too.
    follow = {d + timedelta(days=1) for d in rebuild} & known
    promote = set(state.get("gold", {}).get("pending", [])) | set(rebuild) | follow
    if not rebuild and not promote:
        return [], [], [], [], 0, 0
    thresholds = run.config.thresholds
    bounds = {s: tuple(lim.bounds) for s, lim in thresholds.sensors.items() if lim.bounds}
    units = done(
        run.engine.read(lake.COMPRESSOR_METADATA).select(
            "compressor_id", "model", "station_id", "region", "basin"
        )
    )
    registered = height(units)
    held_before = _blocked(run, sorted(promote - set(rebuild)))
    reports: list[QualityReport] = []
    promoted: list[date] = []
    blocked: set[date] = set()
    opened = resolved = 0
    silver_of: dict[date, Frame] = {}
    hourly_of: dict[date, Frame] = {}
    with _WriteBehind() as writer:
        for day in sorted(set(rebuild) | promote):
            held = day in held_before
            if day in rebuild:
                with run.stage("silver"):
                    report, silver_of[day] = _silver_day(run, writer, day, bounds, registered)
                reports.append(report)
                held = not report.passed and not run.request.skip_quality
            if day in promote:
                if held:
                    blocked.add(day)
                else:
                    with run.stage("gold"):
                        o, r, hourly_of = _gold_day(run, writer, day, units, hourly_of, silver_of)
                    if not run.engine.carries_frames:
                        hourly_of = {}  # the next day reads them back (Engine.carries_frames)
                        writer.drain()
                    promoted.append(day)
                    opened += o
                    resolved += r
            for old in [d for d in silver_of if d < day]:
                del silver_of[old]  # only today and yesterday's tail are ever needed
    _save_state(run, "gold", None, blocked)
    _save_state(run, "silver", current, set())
    run.engine.release()
    return rebuild, reports, promoted, sorted(blocked), opened, resolved


def _silver_day(
    run: _Run,
    writer: _WriteBehind,
    day: date,
    bounds: dict[str, tuple[float, float]],
    registered: int,
) -> tuple[QualityReport, Frame]:
    """Clean one event date from bronze; queue its silver partition and quality rows."""
    thresholds = run.config.thresholds
    lo, hi = day_bounds(day, lead=SILVER_HALO)
    window = done(
        run.engine.read(
            lake.SENSOR_READINGS, (nw.col("timestamp") >= lo) & (nw.col("timestamp") < hi)
        ).select(*SILVER_INPUT)
    )
    silver, counts = clean_day(window, day, bounds, thresholds.cleaning)
    writer.submit(run.engine.replace, lake.SENSOR_CLEANED, silver, {"date": [day]})
    report = quality_report(
        silver, counts, registered, thresholds.quality, thresholds.cleaning.critical_sensors, day
    )
    quality = run.engine.frame(lake.QUALITY_METRICS, report.rows())
    writer.submit(run.engine.replace, lake.QUALITY_METRICS, quality, {"date": [day]})
    run.rows["silver"] += counts.rows_out
    return report, silver


# ---------------------------------------------------------------------------- gold


def _blocked(run: _Run, days: list[date]) -> set[date]:
    if run.request.skip_quality or not days:
        return set()
    critical = run.engine.read(
        lake.QUALITY_METRICS, (nw.col("severity") == "critical") & nw.col("date").is_in(days)
    )
    return set(values(critical, "date"))


def _gold_day(
    run: _Run,
    writer: _WriteBehind,
    day: date,
    units: Frame,
    hourly_of: dict[date, Frame],
    silver_of: dict[date, Frame],
) -> tuple[int, int, dict[date, Frame]]:
    """Hourly, daily, alerts and fleet health for one date; returns alerts opened and resolved
    that day, and the day's hourly rows for the next day to look back on.

    ``silver_of`` holds silver rebuilt in this run (today's, yesterday's); other days are read.
    """
    cfg = run.config
    start, end = day_bounds(day)
    look_from = start - timedelta(hours=cfg.thresholds.alerts.lookback_hours)
    before = day - timedelta(days=1)
    parts = []
    for d, lo in ((before, look_from), (day, start)):
        part = silver_of.get(d)
        if part is None:
            part = done(run.engine.read(lake.SENSOR_CLEANED, nw.col("date") == d))
        parts.append(part.filter(nw.col("timestamp") >= lo) if d == before else part)
    silver = nw.concat(same_kind(parts))
    # The hourly rows of the days the trends look back on (rebuilt ones are in memory).
    trend_window = timedelta(hours=cfg.thresholds.trends.window_hours)
    days_back = [day - timedelta(days=k) for k in range(_days_in(trend_window), 0, -1)]
    # Oldest day first, each day in (compressor_id, hour) order: every unit's hours are then
    # in time order, which is all the rolling windows need.
    earlier = [
        hourly_of.get(d)
        if d in hourly_of
        else done(
            run.engine.read(lake.HOURLY_AGGREGATES, nw.col("date") == d).sort(
                "compressor_id", "hour"
            )
        )
        for d in days_back
    ]
    prior = nw.concat(same_kind([h.select(gold.HOURLY_STAT_COLUMNS) for h in earlier]))
    stats = gold.hourly_stats(parts[1])
    yesterday = prior.filter(nw.col("hour") >= start - timedelta(days=1))
    baselines = _baselines(run, units, stats, yesterday)
    limits = unit_limits(units, baselines, cfg.thresholds)
    hourly = gold.hourly_aggregates(
        stats,
        prior,
        units.select("compressor_id", "model", "station_id", "region"),
        limits,
        day,
        trend_window=trend_window,
        trend_min_hours=cfg.thresholds.trends.min_hours,
        trend_sensors=tuple(cfg.thresholds.trends.sensors),
    )
    writer.submit(run.engine.replace, lake.HOURLY_AGGREGATES, hourly, {"date": [day]})
    daily = gold.daily_aggregates(hourly, day)
    writer.submit(run.engine.replace, lake.DAILY_AGGREGATES, daily, {"date": [day]})
    # Alerts still open when the look-back begins (read with the filter: the history grows).
    carried = carried_alerts(run.engine, look_from, alert_rules.RULE_TYPES)
    rules = cfg.thresholds.alerts
    is_trend = nw.col("alert_type") == alert_rules.TREND
    carried_limits = carried.filter(~is_trend)
    readings = alert_rules.evaluate_readings(silver, limits, rules, watch=carried_limits)
    carried_trends = carried.filter(is_trend)
    trends = alert_rules.evaluate_trends(hourly, cfg.thresholds.trends, watch=carried_trends)
    alerts = done(
        nw.concat(
            same_kind(
                [
                    alert_rules.alert_episodes(readings, carried_limits, units, rules, day),
                    alert_rules.alert_episodes(trends, carried_trends, units, rules, day),
                ]
            )
        )
    )
    # Alerts that opened this day are replaced as a whole (none linger from an earlier,
    # incomplete version of the day); earlier alerts it continues or resolves are merged.
    # Not queued: the next day reads the history.
    new = alerts.filter((nw.col("opened_at") >= start) & (nw.col("opened_at") < end))
    run.engine.replace(
        lake.ALERT_HISTORY, new, {"date": [day], "alert_type": alert_rules.RULE_TYPES}
    )
    earlier = alerts.filter(nw.col("opened_at") < start)
    if height(earlier):
        run.engine.merge(lake.ALERT_HISTORY, earlier)
    resolved_at = nw.col("resolved_at")
    resolved = alerts.filter(~resolved_at.is_null() & (resolved_at >= start) & (resolved_at < end))
    health = gold.fleet_health(daily, units, new, day)
    writer.submit(run.engine.replace, lake.FLEET_HEALTH, health, {"date": [day]})
    hours, opened = height(hourly), height(new)
    run.rows["gold_hourly"] += hours
    run.rows["gold_daily"] += height(daily)
    log.info("gold %s: %d hourly rows, %d alerts opened", day, hours, opened)
    oldest_needed = day - timedelta(days=_days_in(trend_window) - 1)  # by tomorrow's trends
    kept = {d: h for d, h in hourly_of.items() if d >= oldest_needed}
    return opened, height(resolved), {**kept, day: hourly}


def _days_in(window: timedelta) -> int:
    """Whole days a look-back window reaches into."""
    return -(-window // timedelta(days=1))


def _baselines(run: _Run, units: Frame, stats: Frame, previous: Frame) -> Frame:
    """Known baselines, plus any learned now (from the previous day's hourly rows and this
    day's) for units that have none."""
    known = done(run.engine.read(lake.UNIT_BASELINES))
    hourly = (
        nw.concat(same_kind([previous.select(stats.columns), stats])) if height(previous) else stats
    )
    if not height(hourly):
        return known
    window_start = first_row(hourly.select(nw.col("hour").min()))["hour"]
    # A baseline learned from hours that are being rebuilt now is learned again, so late
    # readings reach it and the result does not depend on how the data arrived.
    settled = known.filter(nw.col("established_to") <= window_start)
    todo = units.select("compressor_id").join(settled, on="compressor_id", how="anti")
    if not height(todo):
        return known
    fresh = gold.learn_baselines(
        hourly.join(todo, on="compressor_id", how="inner"), settled, run.config.thresholds.baseline
    )
    if not height(fresh):
        return known
    run.engine.merge(lake.UNIT_BASELINES, fresh)
    kept = known.join(fresh.select("compressor_id").unique(), on="compressor_id", how="anti")
    return done(nw.concat(same_kind([kept, fresh.select(known.columns)])))


# ---------------------------------------------------------------------------- ML


def _ml(
    run: _Run, gold_dates: list[date], settings: Settings, say: Callable[[str], None]
) -> dict[str, Any]:
    """Score the promoted dates, the day before each (its baselines may have been learned
    again with it) and the two after (whose trend windows reach back into it); with
    ``--skip-ml`` they wait in the pipeline state for the next run with ML."""
    pending = set(_state(run).get("ml", {}).get("pending", []))
    known = run.engine.partition_values(lake.HOURLY_AGGREGATES)
    follow = {d + timedelta(days=k) for d in gold_dates for k in (-1, 1, 2)} & known
    days = (pending | set(gold_dates) | follow) & known
    if run.request.skip_ml:
        if days - pending:
            _save_state(run, "ml", None, days)
        return {"skipped": True, "pending_dates": len(days)}
    if not days:
        return {"skipped": False, "dates": 0}
    # Imported here: scikit-learn and MLflow take seconds to load, and most runs of a
    # data engineer's day need neither.
    from altaviz.ml.registry import Registry, RegistryError
    from altaviz.ml.stage import MlError, run_ml

    with run.stage("ml"):
        say("models")
        try:
            registry = Registry(settings.mlflow_tracking_uri)
            summary = run_ml(run.engine, run.config, registry, sorted(days), run.run_id, say)
        except (RegistryError, MlError) as exc:
            raise PipelineError(f"ML stage: {exc}") from exc
        _save_state(run, "ml", None, set())
    run.notes.extend(summary.notes)
    return {
        "skipped": False,
        "dates": len(summary.dates),
        "model_version": summary.model_version,
        "trained_version": summary.trained.version if summary.trained else None,
        "predictions": summary.predictions,
        "anomalous_predictions": summary.anomalies,
        "units_at_risk": summary.units_at_risk,
        "alerts_opened": summary.alerts_opened,
        "alerts_resolved": summary.alerts_resolved,
        "emissions_rows": summary.emissions_rows,
        "drifted_features": summary.drifted_features,
        "scored_dates": summary.dates,
    }


# ---------------------------------------------------------------------------- serving database


def _export(
    run: _Run, settings: Settings, dates: list[date], say: Callable[[str], None]
) -> dict[str, int]:
    """Upsert gold and ML tables for ``dates`` (and the reference tables) into PostgreSQL when
    ``DATABASE_URL`` is set, unless ``--skip-db``."""
    if settings.database_url is None or run.request.skip_db:
        return {}
    from altaviz.serving.database import DatabaseError, connect, export, migrate

    with run.stage("export"):
        say("serving database")
        try:
            with connect(settings.database_url.get_secret_value()) as conn:
                migrate(conn)
                return export(run.engine, conn, dates)
        except DatabaseError as exc:
            raise PipelineError(str(exc)) from exc


def _open_alerts(run: _Run) -> int:
    history = run.engine.read(lake.ALERT_HISTORY, nw.col("state") == "open")
    return height(history)


def _latest_fleet_health(run: _Run) -> list[dict[str, Any]]:
    health = run.engine.read(lake.FLEET_HEALTH)
    latest = first_row(health.select(nw.col("date").max()))["date"] if height(health) else None
    if latest is None:
        return []
    return rows(health.filter(nw.col("date") == latest).sort("basin"))
