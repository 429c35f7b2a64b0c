"""PipelineMonitor: turns a run into a :class:`RunRecord`, judges whether it needs someone's
attention (failed, quality breach, a stage far slower than usual), and hands it to the
``pipeline_runs`` table and every configured sink - none of which can fail the run."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import narwhals as nw

from altaviz.config import AppConfig, load_config
from altaviz.core.results import AlertCounts, MlResult, RowCounts, RunStatus
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.monitoring.record import RunRecord
from altaviz.monitoring.sinks import (
    AzureMonitorSink,
    LogSink,
    PostgresSink,
    Sink,
    SinkError,
    TeamsSink,
    azure_token,
)
from altaviz.settings import Settings

log = logging.getLogger("altaviz.monitoring")


def sinks_from(settings: Settings) -> tuple[list[Sink], list[str]]:
    """The sinks the environment enables, and warnings about half-configured ones."""
    sinks: list[Sink] = [LogSink()]
    warnings: list[str] = []
    if settings.database_url is not None:
        sinks.append(PostgresSink(settings.database_url.get_secret_value()))
    if settings.teams_webhook_url is not None:
        sinks.append(TeamsSink(settings.teams_webhook_url.get_secret_value()))
    if settings.log_analytics_workspace_id:
        if settings.azure_monitor_endpoint and settings.azure_monitor_rule_id:
            sinks.append(
                AzureMonitorSink(
                    settings.azure_monitor_endpoint,
                    settings.azure_monitor_rule_id,
                    settings.azure_monitor_stream or load_config().platform.monitoring.stream,
                    azure_token,
                )
            )
        else:
            warnings.append(
                "azure_monitor: LOG_ANALYTICS_WORKSPACE_ID is set but AZURE_MONITOR_ENDPOINT "
                "and AZURE_MONITOR_RULE_ID are not; run records were not sent"
            )
    return sinks, warnings


class PipelineMonitor:
    """Records runs of the pipeline over one lakehouse.

    >>> monitor = PipelineMonitor(engine, config, sinks=[LogSink()])  # doctest: +SKIP
    >>> monitor.finish(record)  # doctest: +SKIP
    """

    def __init__(
        self,
        engine: Engine,
        config: AppConfig,
        settings: Settings | None = None,
        sinks: Sequence[Sink] | None = None,
    ) -> None:
        self.engine = engine
        self.rules = config.thresholds.monitoring
        self.warnings: list[str] = []
        if sinks is None:
            found, self.warnings = sinks_from(settings or Settings())
            sinks = found
        self.sinks = list(sinks)

    def finish(self, record: RunRecord) -> RunRecord:
        """Judge, deliver and store ``record``; returns it with the warnings delivery raised."""
        reasons = self.reasons(record)
        warnings = [*record.warnings, *self.warnings]
        for sink in self.sinks:
            try:
                sink.send(record, reasons)
            except SinkError as exc:
                warnings.append(f"{sink.name}: {exc}")
            except Exception as exc:  # a sink's bug must not fail the run either
                warnings.append(f"{sink.name}: {type(exc).__name__}: {exc}")
        record = record.model_copy(update={"warnings": warnings})
        try:
            frame = self.engine.frame(lake.PIPELINE_RUNS, record.table_row())
            self.engine.merge(lake.PIPELINE_RUNS, frame)
        except Exception as exc:
            log.error("pipeline_runs: could not record run %s: %s", record.run_id, exc)
        for warning in warnings:
            log.warning("run %s: %s", record.run_id, warning)
        return record

    def reasons(self, record: RunRecord) -> list[str]:
        """Why this run needs attention: failure, quality breach, slow stages (or nothing)."""
        reasons = []
        if record.status == RunStatus.FAILED:
            reasons.append(f"the run failed: {record.error}")
        if record.quality_passed is False or record.blocked_dates:
            held = ", ".join(record.blocked_dates) or "none"
            reasons.append(f"a critical data-quality check failed (dates held back: {held})")
        reasons += self.slow_stages(record)
        return reasons

    def slow_stages(self, record: RunRecord) -> list[str]:
        """Stages slower than ``slow_stage_multiple`` x their median over recent good runs."""
        history = self.recent(self.rules.slow_stage_history, statuses=(RunStatus.SUCCESS,))
        history = [r for r in history if r.run_id != record.run_id]
        if len(history) < self.rules.slow_stage_min_runs:
            return []
        slow = []
        for stage, seconds in record.stage_durations.items():
            past = [r.stage_durations[stage] for r in history if stage in r.stage_durations]
            if len(past) < self.rules.slow_stage_min_runs:
                continue
            median = statistics.median(past)
            if seconds >= self.rules.slow_stage_min_seconds and seconds > (
                self.rules.slow_stage_multiple * median
            ):
                slow.append(
                    f"stage {stage} took {seconds:.1f} s, {seconds / max(median, 1e-9):.1f}x "
                    f"its median of {median:.1f} s over the last {len(past)} runs"
                )
        return slow

    def recent(self, limit: int, statuses: Sequence[str] | None = None) -> list[RunRecord]:
        """The latest runs, newest first."""
        where = None if statuses is None else nw.col("status").is_in([str(s) for s in statuses])
        rows = (
            self.engine.read_local(lake.PIPELINE_RUNS, where)
            .sort("started_at", descending=True)
            .head(limit)
            .rows(named=True)
        )
        return [RunRecord.from_row(r) for r in rows]


def run_record(
    *,
    run_id: str,
    engine: str,
    started_at: datetime,
    durations: dict[str, float],
    rows: RowCounts,
    status: RunStatus,
    rejected: int = 0,
    quality_passed: bool | None = None,
    blocked: Sequence[Any] = (),
    alerts: AlertCounts | None = None,
    ml: MlResult | None = None,
    freshness_minutes: float | None = None,
    error: str | None = None,
    notes: Sequence[str] = (),
) -> RunRecord:
    """A record from what the pipeline knows at the end of a run (or when it failed)."""
    ended = datetime.now(UTC)
    landed = rows.landed(rejected)
    alerts = alerts or AlertCounts()
    ml = ml or MlResult()
    return RunRecord(
        run_id=run_id,
        status=status,
        engine=engine,
        started_at=started_at,
        ended_at=ended,
        duration_s=round((ended - started_at).total_seconds(), 3),
        stage_durations=dict(durations),
        **{f"rows_{layer}": n for layer, n in rows.model_dump().items()},
        rejected=rejected,
        rejection_rate=round(rejected / landed, 6) if landed else None,
        quality_passed=quality_passed,
        blocked_dates=[str(d) for d in blocked],
        alerts_opened=alerts.opened,
        alerts_resolved=alerts.resolved,
        models_run=ml.models_run,
        **ml.model_dump(include={"model_version", "predictions", "units_at_risk"}),
        anomalies=ml.anomalous_predictions,
        data_freshness_minutes=freshness_minutes,
        error=error,
        warnings=list(notes),
    )


def describe(exc: BaseException) -> str:
    """An exception as one line for the record."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "PipelineMonitor",
    "describe",
    "run_record",
    "run_time_trend",
    "sinks_from",
    "stage_statistics",
]


def stage_statistics(records: Sequence[RunRecord]) -> list[tuple[str, float, float, int]]:
    """Per stage over ``records``: (stage, median s, max s, runs), slowest median first."""
    stages: dict[str, list[float]] = {}
    for r in records:
        for stage, seconds in r.stage_durations.items():
            stages.setdefault(stage, []).append(seconds)
    found = [(s, statistics.median(t), max(t), len(t)) for s, t in stages.items()]
    return sorted(found, key=lambda row: -row[1])


def run_time_trend(records: Sequence[RunRecord]) -> tuple[float, float] | None:
    """Median run time of the older and the newer half of the runs that did not fail
    (``records`` newest first); None with fewer than two."""
    done = [r.duration_s for r in reversed(records) if r.status != RunStatus.FAILED]
    if len(done) < 2:
        return None
    half = len(done) // 2
    return statistics.median(done[:half]), statistics.median(done[half:])
