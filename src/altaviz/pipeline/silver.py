"""The silver stage: one event date cleaned from bronze, with its quality report."""

from __future__ import annotations

from datetime import date, timedelta

import narwhals as nw

from altaviz.core.days import day_bounds
from altaviz.core.frames import Frame, done
from altaviz.core.sensors import SENSORS
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import RunContext
from altaviz.pipeline.write_behind import WriteBehind
from altaviz.transforms.quality import QualityReport, quality_report
from altaviz.transforms.silver import clean_day

SILVER_HALO = timedelta(hours=1)  # leading readings the spike check needs
# The bronze columns cleaning reads (the batch and source texts would only be carried along).
SILVER_INPUT = ("timestamp", "compressor_id", *SENSORS, "received_at", "ingested_at")


def silver_day(
    run: RunContext,
    writer: WriteBehind,
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
    silver, counts = clean_day(window, day, bounds, thresholds.cleaning, thresholds.operating_modes)
    writer.submit(run.engine.replace, lake.SENSOR_CLEANED, silver, {"date": [day]})
    report = quality_report(
        silver, counts, registered, thresholds.quality, thresholds.cleaning.critical_sensors, day
    )
    quality = run.engine.frame(lake.QUALITY_METRICS, report.rows())
    writer.submit(run.engine.replace, lake.QUALITY_METRICS, quality, {"date": [day]})
    run.rows.silver += counts.rows_out
    return report, silver
