"""Healthy bands, day by day: the band each unit is judged against on each day of a batch of
consecutive days, and the bands the batch learns.

A unit's life is cut into epochs by its repairs (:mod:`altaviz.transforms.repairs`). Each
epoch's band is learned once, from the first day of the epoch with ``rules.hours`` (24: the
whole day) well-covered hours of the unit running: a day of stops and starts, whose partial
hours hold the transients, does not describe the unit's healthy running. The band judges the
unit from that day on; before it the unit has none, and only absolute limits apply.

Defined this way, a day's band depends on the data alone, not on how the days were grouped
into batches: one day at a time (the embedded engine) and a month at once (Spark) agree. A
band learned before a batch began is kept; one learned on a day the batch rebuilds is
learned again, so late readings reach it.
"""

from __future__ import annotations

from datetime import date, timedelta

import narwhals as nw

from altaviz.config.schema import BaselineRules
from altaviz.core.frames import Frame, done, same_kind
from altaviz.core.sensors import SENSORS
from altaviz.transforms.repairs import FIRST_BAND

BAND_COLUMNS = ("compressor_id", "date", "sensor", "p05", "p50", "p95")
"""The columns of :func:`day_bands`' bands."""
_DAY = timedelta(days=1)


def unit_days(hours: Frame, units: Frame, repairs: Frame) -> Frame:
    """Every registered unit on every day ``hours`` cover: compressor_id, date, ``_day`` (its
    midnight) and ``valid_from``, the start of the unit's epoch at the day's end (its latest
    repair before then, or :data:`~altaviz.transforms.repairs.FIRST_BAND`)."""
    days = hours.select(nw.col("hour").dt.truncate("1d").alias("_day")).unique()
    grid = units.select("compressor_id").lazy().join(days.lazy(), how="cross")
    if isinstance(grid, nw.LazyFrame):
        repairs = repairs.lazy()
    epochs = (
        grid.join(repairs.select("compressor_id", "repaired_at"), on="compressor_id", how="inner")
        .filter(nw.col("repaired_at") < nw.col("_day") + _DAY)
        .group_by("compressor_id", "_day")
        .agg(nw.col("repaired_at").max().alias("valid_from"))
    )
    return grid.join(epochs, on=["compressor_id", "_day"], how="left").select(
        "compressor_id",
        nw.col("_day").dt.date().alias("date"),
        "_day",
        nw.col("valid_from").fill_null(nw.lit(FIRST_BAND)),
    )


def day_bands(
    hours: Frame,
    stored: Frame,
    repairs: Frame,
    first: date,
    rules: BaselineRules,
    units: Frame | None = None,
) -> tuple[Frame, Frame]:
    """The band of every unit on every day of ``hours``, and the bands learned now.

    ``hours``: hourly statistics (compressor_id, hour, reading_count, ``{sensor}_mean``) of the
    batch's days from ``first`` on (and of days before it, whose units need a band there).
    ``stored``: ``unit_baselines``. ``repairs``: compressor_id, repaired_at. ``units``: the
    units to judge (default: those in ``hours``).

    Returns ``bands`` (:data:`BAND_COLUMNS`: one row per unit, day and sensor where the unit
    has a band) and ``learned`` (``unit_baselines`` rows to merge: the epochs whose band the
    batch learned).
    """
    units = units if units is not None else hours.select("compressor_id").unique()
    grid = unit_days(hours, units, repairs)
    learned_on = (nw.col("established_to") - timedelta(hours=1)).dt.date()
    stored = stored.lazy() if isinstance(grid, nw.LazyFrame) else stored
    settled = stored.filter(learned_on < first)  # learned before the batch: kept as they are
    todo = (
        grid.filter(nw.col("date") >= first)
        .join(
            settled.select("compressor_id", "valid_from").unique(),
            on=["compressor_id", "valid_from"],
            how="anti",
        )
        .select("compressor_id", "date", "valid_from")
    )
    windows = (
        hours.lazy()
        .filter(nw.col("reading_count") >= rules.min_readings_per_hour)
        .with_columns(nw.col("hour").dt.date().alias("date"))
        .join(todo, on=["compressor_id", "date"], how="inner")
        .filter(nw.col("hour") >= nw.col("valid_from"))
    )
    epoch = ["compressor_id", "valid_from"]
    learned_day = (
        windows.group_by(*epoch, "date")
        .agg(nw.len().alias("_n"))
        .filter(nw.col("_n") >= rules.hours)
        .group_by(*epoch)
        .agg(nw.col("date").min().alias("_learned_on"))
    )
    chosen = (
        windows.join(learned_day.rename({"_learned_on": "date"}), on=[*epoch, "date"], how="inner")
        .with_columns(nw.col("hour").rank("ordinal").over(*epoch).alias("_n"))
        .filter(nw.col("_n") <= rules.hours)
    )
    # One aggregation for every sensor, then one row per sensor (from the small result).
    per_epoch = done(
        chosen.group_by(*epoch).agg(
            *(
                expr
                for s in SENSORS
                for expr in (
                    nw.col(f"{s}_mean").quantile(0.05, "linear").alias(f"p05_{s}"),
                    nw.col(f"{s}_mean").median().alias(f"p50_{s}"),
                    nw.col(f"{s}_mean").quantile(0.95, "linear").alias(f"p95_{s}"),
                    nw.col(f"{s}_mean").count().cast(nw.Int32).alias(f"hours_{s}"),
                )
            ),
            nw.col("hour").min().alias("established_from"),
            (nw.col("hour").max() + timedelta(hours=1)).alias("established_to"),
        )
    )
    learned = nw.concat(
        [
            per_epoch.select(
                *epoch,
                nw.lit(s).alias("sensor"),
                *(nw.col(f"{q}_{s}").alias(q) for q in ("p05", "p50", "p95", "hours")),
                "established_from",
                "established_to",
            )
            for s in SENSORS
        ]
    )
    learned = done(
        learned.select(
            "compressor_id",
            "sensor",
            "p05",
            "p50",
            "p95",
            "hours",
            "established_from",
            "established_to",
            "valid_from",
        ).sort("compressor_id", "sensor", "valid_from")
    )
    # A band judges its epoch's days from the day it was learned on.
    bands = nw.concat(
        same_kind(
            [
                grid.join(settled, on=epoch, how="inner"),
                grid.join(
                    learned.lazy() if isinstance(grid, nw.LazyFrame) else learned, on=epoch
                ).filter(nw.col("date") >= learned_on),
            ]
        )
    ).select(*BAND_COLUMNS)
    return done(bands), learned
