"""The pipeline-health page's figures, read from the lakehouse."""

from __future__ import annotations

import io
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.config import AppConfig
from altaviz.core.errors import AltavizError
from altaviz.core.frames import local
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.monitoring.record import RunRecord
from altaviz.settings import Settings


def as_csv(frame: pl.DataFrame) -> str:
    """A frame as CSV text, floats as written by Polars (full precision)."""
    buffer = io.StringIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def recent_runs(engine: Engine, limit: int = 20) -> list[RunRecord]:
    """The latest pipeline runs, newest first."""
    if not engine.exists(lake.PIPELINE_RUNS):
        return []
    found = nw.to_native(local(engine.read(lake.PIPELINE_RUNS)))
    newest = found.sort("started_at", descending=True).head(limit)
    return [RunRecord.from_row(r) for r in newest.iter_rows(named=True)]


def quality_by_date(engine: Engine, days: int = 14) -> list[dict[str, Any]]:
    """Per date (newest first): checks run, passed, and the failed ones with their detail."""
    if not engine.exists(lake.QUALITY_METRICS):
        return []
    metrics = nw.to_native(local(engine.read(lake.QUALITY_METRICS)))
    dates = sorted(metrics["date"].unique().to_list(), reverse=True)[:days]
    found = []
    for day in dates:
        checks = metrics.filter(pl.col("date") == day)
        failed = checks.filter(~pl.col("passed")).sort("severity", "check")
        found.append(
            {
                "date": day,
                "checks": checks.height,
                "passed": checks.height - failed.height,
                "failed": failed.select(
                    "check", "severity", "value", "threshold", "detail"
                ).to_dicts(),
            }
        )
    return found


def dead_letters(engine: Engine) -> list[dict[str, Any]]:
    """Rejected records per ingestion date, source and reason, newest first."""
    if not engine.exists(lake.DEAD_LETTER):
        return []
    rejected = nw.to_native(
        local(engine.read(lake.DEAD_LETTER).select("ingestion_date", "source", "reason"))
    )
    if not rejected.height:
        return []
    return (
        rejected.with_columns(pl.col("reason").str.split(":").list.first().alias("reason"))
        .group_by("ingestion_date", "source", "reason")
        .len("records")
        .sort(["ingestion_date", "records"], descending=True)
        .to_dicts()
    )


def table(engine: Engine, spec: lake.TableSpec) -> pl.DataFrame:
    """A small table whole (empty, typed, when it does not exist yet)."""
    if not engine.exists(spec):
        return pl.DataFrame(schema=spec.schema.polars())
    return nw.to_native(local(engine.read(spec)))


def stream_positions(
    engine: Engine, config: AppConfig, settings: Settings
) -> dict[str, Any] | None:
    """The stream's lag behind the telemetry topic, when this lakehouse consumes one: per
    partition, the offset bronze recorded, the topic's end and the difference. None when no
    stream was ever consumed here (or the streaming extra is not installed); ``error`` says
    why the broker could not be asked."""
    try:
        from altaviz.stream.connection import connect
        from altaviz.stream.lag import PartitionLag, recorded_offsets, stream_lag
    except ImportError:
        return None
    partitions = config.platform.eventhub.partitions
    hub = settings.eventhub_connection_string or settings.eventhub_namespace
    try:
        conn = connect("eventhub" if hub else "kafka", settings, config.platform.eventhub)
        recorded = recorded_offsets(engine, conn.topic, partitions)
        if not recorded:
            return None
        lags, error = stream_lag(engine, conn, partitions), None
    except AltavizError as exc:
        lags, error = [PartitionLag(p, recorded.get(p), None) for p in range(partitions)], str(exc)
    return {
        "topic": conn.topic,
        "where": conn.describe,
        "partitions": lags,
        "total_lag": None if error else sum(p.lag or 0 for p in lags),
        "error": error,
    }
