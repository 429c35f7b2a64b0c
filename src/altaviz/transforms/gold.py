"""Gold: hourly and daily facts per unit, statuses, fleet health per basin, unit baselines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import narwhals as nw

from altaviz.core.days import day_bounds, days_in
from altaviz.core.frames import Frame, done, same_kind
from altaviz.core.sensors import SENSORS
from altaviz.transforms.limits import DERIVED, LEVELS, status, worst_status
from altaviz.transforms.windows import trailing_mean, with_epoch_seconds

ROLLING = ("vibration_mms", "discharge_temp_f", "discharge_pressure_psi")
WINDOWS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}
MAX_RATE_GAP = timedelta(hours=3)  # a rate of change over a longer gap says nothing useful


HOURLY_STAT_COLUMNS = (
    "compressor_id",
    "hour",
    *(f"{s}_{stat}" for s in SENSORS for stat in ("mean", "min", "max", "std")),
    "reading_count",
)
"""The columns of :func:`hourly_stats`, in its order."""
TREND_COLUMNS = tuple(f"{s}_trend_per_day" for s in SENSORS)
"""The trend columns of the gold hourly rows (:func:`trend_per_day`)."""


def hourly_stats(silver: Frame) -> Frame:
    """Per unit and hour: mean, min, max and std of every sensor, and the reading count."""
    return done(
        silver.lazy()
        .with_columns(nw.col("timestamp").dt.truncate("1h").alias("hour"))
        .group_by("compressor_id", "hour")
        .agg(
            *(
                getattr(nw.col(s), stat)().alias(f"{s}_{stat}")
                for s in SENSORS
                for stat in ("mean", "min", "max", "std")
            ),
            nw.len().cast(nw.Int32).alias("reading_count"),
        )
    )


def trend_per_day(
    hours: Frame,
    first: date,
    last: date,
    window: timedelta,
    min_hours: int,
    sensors: tuple[str, ...] = SENSORS,
) -> Frame:
    """``{sensor}_trend_per_day`` for the hours of the days from ``first`` to ``last``: the
    least-squares slope of each sensor's hourly means over the trailing ``window``, per day,
    as a fraction of the window's mean level (null for sensors not in ``sensors``).

    ``hours`` holds ``{sensor}_mean`` per (compressor_id, hour) of those days and the window
    before them, time-ordered within each unit. Each day's hours are fitted with time measured
    from that day's midnight (a slope near zero is a small difference of large sums, whose
    rounding grows with the distance from the origin): the figures do not depend on how many
    days are computed together.
    """
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    day = nw.col("hour").dt.truncate("1d")
    # Each hour serves the day it is in and the days whose window reaches back to it (the
    # copies oldest first, so every unit's hours stay in time order within each day's view).
    reach = range(days_in(window), -1, -1)
    views = nw.concat(
        [hours.with_columns((day + timedelta(days=k)).alias("_view")) for k in reach]
    ).filter(
        (nw.col("_view") >= start)
        & (nw.col("_view") < end)
        & (nw.col("hour") >= nw.col("_view") - window)
    )
    x = (nw.col("_hour_s") - nw.col("_view_s")) / 3600.0
    # y is measured from its mean over the day's view too: the products stay small, and with
    # them the rounding of their sums.
    level = {s: nw.col(f"{s}_mean").mean().over("compressor_id", "_view") for s in sensors}
    prepared = with_epoch_seconds(views, {"_hour_s": "hour", "_view_s": "_view"}).select(
        "compressor_id",
        "_view",
        "hour",
        *(
            expr.alias(f"{name}_{s}")
            for s in sensors
            for name, expr in (
                ("y", nw.col(f"{s}_mean")),
                ("yc", nw.col(f"{s}_mean") - level[s]),
                ("x", nw.when(~nw.col(f"{s}_mean").is_null()).then(x)),
                ("xy", (nw.col(f"{s}_mean") - level[s]) * x),
                ("xx", nw.when(~nw.col(f"{s}_mean").is_null()).then(x * x)),
            )
        ),
    )
    names = [f"{n}_{s}" for s in sensors for n in ("y", "yc", "x", "xy", "xx")]
    means = trailing_mean(
        prepared, names, {"": window}, min_hours, by=("compressor_id", "_view"), order_by="hour"
    ).filter(day == nw.col("_view"))
    slopes = [
        nw.lit(None).cast(nw.Float64).alias(f"{s}_trend_per_day")
        for s in SENSORS
        if s not in sensors
    ]
    for s in sensors:
        y, yc, xm, xy, xx = (nw.col(f"{n}_{s}") for n in ("y", "yc", "x", "xy", "xx"))
        variance = xx - xm * xm
        slope = nw.when(variance > 0).then((xy - xm * yc) / variance)  # per hour
        slopes.append((slope * 24.0 / y.abs()).alias(f"{s}_trend_per_day"))
    return means.select("compressor_id", "hour", *slopes)


def _after_repairs(trends: Frame, repairs: Frame, window: timedelta) -> Frame:
    """``trends`` with every trend of a unit nulled while its window reaches back before its
    repair."""
    hour_end = nw.col("hour") + timedelta(hours=1)
    if isinstance(trends, nw.LazyFrame):
        repairs = repairs.lazy()
    fresh = (
        trends.select("compressor_id", "hour")
        .join(repairs.select("compressor_id", "repaired_at"), on="compressor_id", how="inner")
        .filter((nw.col("repaired_at") <= hour_end) & (nw.col("repaired_at") > hour_end - window))
        .select("compressor_id", "hour", nw.lit(True).alias("_fresh"))
        .unique()
    )
    slopes = [c for c in trends.columns if c.endswith("_trend_per_day")]
    return (
        trends.join(fresh, on=["compressor_id", "hour"], how="left")
        .with_columns(nw.when(nw.col("_fresh").is_null()).then(nw.col(c)).alias(c) for c in slopes)
        .drop("_fresh")
    )


def hourly_aggregates(
    stats: Frame,
    previous: Frame,
    units: Frame,
    limits: Frame,
    days: Sequence[date],
    trend_window: timedelta = timedelta(hours=72),
    trend_min_hours: int = 48,
    trend_sensors: tuple[str, ...] = SENSORS,
    repairs: Frame | None = None,
) -> Frame:
    """Gold hourly rows for ``days`` (consecutive).

    ``stats``: :func:`hourly_stats` of the batch's readings. ``previous``: gold hourly rows
    of the days before (oldest first, each unit's hours in time order), which the rolling
    windows, the rate of change and the trends look back on.
    ``units``: compressor_id, model, station_id, region. ``limits``: from ``unit_limits``,
    one row per unit and date. ``repairs`` (compressor_id, repaired_at): a unit's trends wait
    for a whole window of hours after its repair (they would fit the failing unit's decline
    otherwise).
    """
    start = day_bounds(days[0])[0]
    history = previous.filter(nw.col("hour") >= start - trend_window).select(stats.columns)
    # ``previous`` comes oldest day first, each day sorted: sorting the batch's hours suffices.
    hours = nw.concat(same_kind([history, stats.sort("compressor_id", "hour")]))
    # Windows look back over the history, but only the batch's hours are kept: everything
    # joined below is one row per unit and hour of the batch.
    today = nw.col("hour") >= start
    rolling = trailing_mean(
        hours.filter(nw.col("hour") >= start - WINDOWS["24h"]),
        [f"{s}_mean" for s in ROLLING],
        {f"_{name}": window for name, window in WINDOWS.items()},
        min_samples=1,
        order_by="hour",
        weights="reading_count",
    ).filter(today)
    trends = trend_per_day(hours, days[0], days[-1], trend_window, trend_min_hours, trend_sensors)
    if repairs is not None:
        trends = _after_repairs(trends, repairs, trend_window)
    over: dict[str, Any] = {"order_by": "hour"}
    gap = nw.col("_hour_s") - nw.col("_hour_s").shift(1).over("compressor_id", **over)
    prev_temp = nw.col("discharge_temp_f_mean").shift(1).over("compressor_id", **over)
    rate = nw.when(gap <= MAX_RATE_GAP.total_seconds()).then(
        (nw.col("discharge_temp_f_mean") - prev_temp) / (gap / 3600.0)
    )
    rates = (
        with_epoch_seconds(
            hours.filter(nw.col("hour") >= start - MAX_RATE_GAP), {"_hour_s": "hour"}
        )
        .lazy()
        .select("compressor_id", "hour", rate.alias("temp_rate_of_change_f_per_h"))
    )
    keys = ["compressor_id", "hour"]
    limit_columns = [f"{s}__{level}" for s in (*SENSORS, *DERIVED) for level in LEVELS]
    facts = (
        stats.lazy()
        .join(rates.filter(today), on=keys, how="left")
        .join(rolling.lazy(), on=keys, how="left")
        .join(trends.lazy().filter(today), on=keys, how="left")
        .with_columns(
            (nw.col("discharge_pressure_psi_mean") - nw.col("suction_pressure_psi_mean")).alias(
                "pressure_differential_psi"
            ),
        )
        .join(units.lazy(), on="compressor_id", how="left")
        .with_columns(nw.col("hour").dt.date().alias("date"))
        .join(
            limits.lazy().select("compressor_id", "date", *limit_columns),
            on=["compressor_id", "date"],
            how="left",
        )
    )
    statuses = [status(nw.col(f"{s}_mean"), s).alias(f"{s}_status") for s in SENSORS]
    derived = [
        status(nw.col("pressure_differential_psi"), "pressure_differential_psi").alias(
            "pressure_differential_status"
        ),
        status(nw.col("temp_rate_of_change_f_per_h").abs(), "temp_rate_of_change_f_per_h").alias(
            "temp_rate_status"
        ),
    ]
    status_cols = [f"{s}_status" for s in SENSORS] + [
        "pressure_differential_status",
        "temp_rate_status",
    ]
    return done(
        facts.with_columns(*statuses, *derived)
        .with_columns(
            worst_status(*status_cols).alias("worst_status"),
            nw.col("region").fill_null("unknown"),
        )
        .drop(*limit_columns)
        .sort("compressor_id", "hour")
    )


def daily_aggregates(hourly: Frame) -> Frame:
    """One row per unit and date from the gold hourly rows."""
    weight = nw.col("reading_count")
    return done(
        hourly.lazy()
        .group_by("compressor_id", "date")
        .agg(
            nw.col("station_id").max(),
            nw.col("model").max(),
            nw.col("region").max(),
            # Weighted by readings, so the daily mean is the mean of the day's readings.
            *(
                (
                    (nw.col(f"{s}_mean") * weight).sum()
                    / nw.when(nw.col(f"{s}_mean").is_null()).then(0).otherwise(weight).sum()
                ).alias(f"{s}_mean")
                for s in SENSORS
            ),
            *(nw.col(f"{s}_min").min().alias(f"{s}_min") for s in SENSORS),
            *(nw.col(f"{s}_max").max().alias(f"{s}_max") for s in SENSORS),
            weight.sum().cast(nw.Int32).alias("reading_count"),
            nw.len().cast(nw.Int32).alias("hours_reported"),
            (nw.col("worst_status") == "warning").cast(nw.Int32).sum().alias("hours_warning"),
            (nw.col("worst_status") == "critical").cast(nw.Int32).sum().alias("hours_critical"),
        )
        .with_columns(
            nw.when(nw.col("hours_critical") > 0)
            .then(nw.lit("critical"))
            .when(nw.col("hours_warning") > 0)
            .then(nw.lit("warning"))
            .otherwise(nw.lit("normal"))
            .alias("worst_status"),
        )
        .sort("date", "compressor_id")
    )


def fleet_health(daily: Frame, units: Frame, alerts_opened: Frame) -> Frame:
    """Per basin and date of ``daily``: registered and reporting units, units by worst
    status, alerts opened, availability.

    ``health_score`` is 100 x (1 - (warning units / 2 + critical units) / reporting units).
    """
    days = daily.select("date").unique()
    registered = (
        units.group_by("basin")
        .agg(nw.col("region").max(), nw.len().cast(nw.Int32).alias("units_registered"))
        .lazy()
        .join(days.lazy(), how="cross")
    )
    reporting = (
        daily.join(units.select("compressor_id", "basin"), on="compressor_id", how="left")
        .group_by("basin", "date")
        .agg(
            nw.len().cast(nw.Int32).alias("units_reporting"),
            *(
                (nw.col("worst_status") == s).cast(nw.Int32).sum().alias(f"units_{s}")
                for s in ("normal", "warning", "critical")
            ),
            nw.col("reading_count").sum().cast(nw.Int64).alias("readings"),
        )
    )
    opened = (
        alerts_opened.join(units.select("compressor_id", "basin"), on="compressor_id", how="left")
        .group_by("basin", "date")
        .agg(nw.len().cast(nw.Int32).alias("alerts_opened"))
    )
    zero_int = {
        c: 0
        for c in (
            "units_reporting",
            "units_normal",
            "units_warning",
            "units_critical",
            "alerts_opened",
        )
    }
    return done(
        registered.join(reporting.lazy(), on=["basin", "date"], how="left")
        .join(opened.lazy(), on=["basin", "date"], how="left")
        .with_columns(
            *(nw.col(c).fill_null(v).cast(nw.Int32) for c, v in zero_int.items()),
            nw.col("readings").fill_null(0).cast(nw.Int64),
        )
        .with_columns(
            (nw.col("units_reporting") / nw.col("units_registered")).alias("availability"),
            nw.when(nw.col("units_reporting") > 0)
            .then(
                100.0
                * (
                    1.0
                    - (nw.col("units_warning") * 0.5 + nw.col("units_critical"))
                    / nw.col("units_reporting")
                )
            )
            .alias("health_score"),
        )
        .sort("date", "basin")
    )
