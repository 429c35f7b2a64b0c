"""The silver stage: event dates cleaned from bronze, with their quality reports."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import partial

import narwhals as nw

from altaviz.core.days import day_bounds
from altaviz.core.frames import Frame, scanned
from altaviz.core.sensors import SENSORS
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import RunContext
from altaviz.pipeline.write_behind import WriteBehind
from altaviz.transforms.modes import reported_hours
from altaviz.transforms.quality import QualityReport, reports_of, unit_day_figures
from altaviz.transforms.silver import InPass, clean_days
from altaviz.transforms.windows import unit_partitions

SILVER_HALO = timedelta(hours=1)  # leading readings the spike check needs
# The bronze columns cleaning reads (the batch and source texts would only be carried along).
SILVER_INPUT = ("timestamp", "compressor_id", *SENSORS, "received_at", "ingested_at")


@dataclass(frozen=True)
class SilverBatch:
    """A batch of days' silver rows, and the hours in which any unit reported in them
    (column ``hour``; on Spark a row per partition of units that reported in the hour)."""

    silver: Frame
    hours: Frame


def silver_days(
    run: RunContext,
    writer: WriteBehind,
    days: list[date],
    bounds: dict[str, tuple[float, float]],
    registered: int,
    also: InPass | None = None,
) -> tuple[list[QualityReport], SilverBatch, dict[str, Frame]]:
    """Clean event dates from bronze; queue their silver partitions and quality rows (one
    commit each for all the days). Returns the days' reports, their silver, and what
    ``also`` computed from it in the same pass (see :func:`clean_days`)."""
    thresholds = run.config.thresholds
    # Each day with its leading halo (the days need not be consecutive).
    spans = [day_bounds(day, lead=SILVER_HALO) for day in days]
    bronze = run.engine.file_scan(lake.SENSOR_READINGS, SILVER_INPUT, spans)
    if bronze is None:
        window = None
        for lo, hi in spans:
            inside = (nw.col("timestamp") >= lo) & (nw.col("timestamp") < hi)
            window = inside if window is None else window | inside
        bronze = scanned(run.engine.read(lake.SENSOR_READINGS, window).select(*SILVER_INPUT))
    sensors = thresholds.cleaning.critical_sensors
    figures = partial(
        unit_day_figures,
        late_after_minutes=thresholds.quality.late_arrivals.late_after_minutes,
        sensors=sensors,
    )

    follow = also.then if also else None  # not ``also``: its Spark inputs cannot travel

    def summarised(silver: Frame, others: dict[str, Frame]) -> dict[str, Frame]:
        # Computed in the cleaning's pass: no later pass reads the silver rows for them.
        more = follow(silver, others) if follow else {}
        if clash := set(more) & {"figures", "hours"}:
            raise ValueError(f"what follows the cleaning may not be named {sorted(clash)}")
        return {"figures": figures(silver), "hours": reported_hours(silver), **more}

    cleaned = clean_days(
        bronze,
        days,
        bounds,
        thresholds.cleaning,
        thresholds.operating_modes,
        partitions=unit_partitions(registered, len(days)),
        also=replace(also, then=summarised) if also else InPass(summarised),
        sink=run.engine.file_sink(lake.SENSOR_CLEANED),
    )
    silver, counts, more = cleaned.silver, cleaned.counts, dict(cleaned.more)
    writer.submit(run.engine.replace, lake.SENSOR_CLEANED, silver, {"date": days})
    reports = reports_of(more.pop("figures"), counts, registered, thresholds.quality, sensors)
    quality = run.engine.frame(
        lake.QUALITY_METRICS,
        {k: [v for r in reports for v in r.rows()[k]] for k in reports[0].rows()},
    )
    writer.submit(run.engine.replace, lake.QUALITY_METRICS, quality, {"date": days})
    run.rows.silver += sum(c.rows_out for c in counts.values())
    return reports, SilverBatch(silver, more.pop("hours")), more
