"""Operating modes: what each unit was doing, hour by hour, as Subpart W counts it for
reciprocating compressors (40 CFR 98.233(p)): operating, pressurised standby, not operating
and depressurised, plus the hours nothing tells (not reporting).

Each reading names its mode: under load (horsepower, or flow when horsepower is missing) it
is operating; stopped while holding discharge pressure it is standby; stopped without
pressure it is depressurised. An hour's readings share it out between their modes (a few
dropped readings do not change the split). The part of an hour with no readings is
depressurised when the maintenance log has the unit down then (blown down for the work), and
not reporting otherwise.
"""

from __future__ import annotations

import narwhals as nw

from altaviz.config.schema import OperatingModeRules
from altaviz.core.frames import Frame, done
from altaviz.core.sensors import compression_ratio
from altaviz.transforms.windows import with_epoch_seconds

MODES = ("operating", "standby", "depressurised", "not_reporting")
HOUR_COLUMNS = tuple(f"{m}_hours" for m in MODES)


def running(rules: OperatingModeRules) -> nw.Expr:
    """True for a reading taken while the unit ran under load.

    >>> import polars as pl
    >>> from altaviz.config import load_config
    >>> rules = load_config().thresholds.operating_modes
    >>> frame = nw.from_native(pl.DataFrame({"horsepower": [900.0, 0.0, None, None],
    ...     "gas_flow_mcf": [9000.0, 0.0, 8000.0, 0.0]}))
    >>> frame.select(running(rules).alias("r"))["r"].to_list()
    [True, False, True, False]
    """
    hp, flow = nw.col("horsepower"), nw.col("gas_flow_mcf")
    by_flow = hp.is_null() & (flow > rules.running_above_flow_mcf).fill_null(True)
    return (hp > rules.running_above_hp).fill_null(False) | by_flow


def reported_hours(silver: Frame) -> Frame:
    """The hours (column ``hour``) in which ``silver`` holds any reading."""
    return silver.select(nw.col("timestamp").dt.truncate("1h").alias("hour")).unique()


def reading_modes(silver: Frame, rules: OperatingModeRules) -> Frame:
    """Per unit and hour of ``silver``: readings in each mode and, for the standby readings,
    their mean compression ratio (what the packing holds while the unit waits)."""
    stopped = ~running(rules)
    standby = stopped & (nw.col("discharge_pressure_psi") >= rules.pressurised_above_psi).fill_null(
        True
    )
    ratio = compression_ratio(nw.col("discharge_pressure_psi"), nw.col("suction_pressure_psi"))
    return done(
        silver.lazy()
        .with_columns(
            nw.col("timestamp").dt.truncate("1h").alias("hour"),
            (~stopped).cast(nw.Int32).alias("_o"),
            standby.cast(nw.Int32).alias("_s"),
            (stopped & ~standby).cast(nw.Int32).alias("_d"),
            nw.when(standby).then(ratio).alias("_ratio"),
        )
        .group_by("compressor_id", "hour")
        .agg(
            nw.col("_o").sum().alias("_n_o"),
            nw.col("_s").sum().alias("_n_s"),
            nw.col("_d").sum().alias("_n_d"),
            nw.col("_ratio").mean().alias("standby_compression_ratio"),
        )
    )


def hourly_modes(
    silver: Frame,
    units: Frame,
    downtime: Frame,
    interval_minutes: int,
    rules: OperatingModeRules,
    hours: Frame | None = None,
) -> Frame:
    """``operating_modes`` rows: every unit for every hour of ``silver`` (one day or several)
    that any unit reported.

    ``downtime``: compressor_id, started_at, completed_at (null while still down) of the
    maintenance log's events; ``units``: compressor_id of every registered unit. ``hours``
    (column ``hour``): the hours the whole fleet reported, when ``silver`` holds only some
    of its units (default: the hours of ``silver``).
    """
    per_reading = interval_minutes / 60.0
    counts = reading_modes(silver, rules)
    if hours is None:
        hours = counts.select("hour").unique()
    grid = units.select("compressor_id").join(hours, how="cross")
    grid = _spans(grid)
    covered = _coverage(grid, downtime)
    n = nw.col("_n_o") + nw.col("_n_s") + nw.col("_n_d")
    seen = (n * per_reading).clip(upper_bound=1.0)
    down = nw.min_horizontal(nw.col("_cover"), 1.0 - nw.col("_seen"))
    rest = 1.0 - nw.col("_seen") - nw.col("_down")

    def share(count: str) -> nw.Expr:  # the hour's readings in a mode, and its part of the rest
        return (
            nw.when(nw.col("_n") > 0)
            .then(nw.col(count) * per_reading + rest * nw.col(count) / nw.col("_n"))
            .otherwise(0.0)
        )

    return done(
        grid.join(counts, on=["compressor_id", "hour"], how="left")
        .join(covered, on=["compressor_id", "hour"], how="left")
        .with_columns(
            nw.col("_n_o", "_n_s", "_n_d").fill_null(0),
            nw.col("_cover").fill_null(0.0).clip(upper_bound=1.0),
        )
        .with_columns(n.alias("_n"), seen.alias("_seen"))
        .with_columns(down.alias("_down"))
        .select(
            "compressor_id",
            "hour",
            nw.col("hour").dt.date().alias("date"),
            share("_n_o").alias("operating_hours"),
            share("_n_s").alias("standby_hours"),
            (share("_n_d") + nw.col("_down")).alias("depressurised_hours"),
            nw.when(nw.col("_n") > 0).then(0.0).otherwise(rest).alias("not_reporting_hours"),
            nw.col("_n").cast(nw.Int32).alias("readings"),
            "standby_compression_ratio",
        )
    )


def daily_modes(hourly: Frame, units: Frame, downtime: Frame) -> Frame:
    """``operating_mode_days`` rows: each registered unit's hours per mode on each date of
    ``hourly``, over the hours the fleet reported that day (from the first to the last hour
    any unit reported: a day still in progress, or the first day of the data, counts only its
    own hours). Hours in that span no unit reported are depressurised when the unit was down,
    else not reporting."""
    keys = ["compressor_id", "date"]
    totals = hourly.group_by(*keys).agg(
        *(nw.col(c).sum() for c in HOUR_COLUMNS),
        nw.col("readings").sum(),
        nw.len().alias("_grid"),
    )
    span = with_epoch_seconds(
        hourly.group_by("date").agg(
            nw.col("hour").min().alias("_first"), nw.col("hour").max().alias("_last")
        ),
        {"_f": "_first", "_l": "_last"},
    ).select("date", "_f", "_l")
    whole = units.select("compressor_id").lazy().join(span.lazy(), how="cross")
    # Maintenance over the whole span, and over the hours already in the grid.
    span_cover = _coverage(
        whole.with_columns(nw.col("_f").alias("_h"), (nw.col("_l") + 3600.0).alias("_e")),
        downtime,
    )
    grid_cover = (
        _coverage(_spans(hourly), downtime)
        .group_by(*keys)
        .agg(nw.col("_cover").clip(upper_bound=1.0).sum().alias("_grid_cover"))
    )
    missing = ((nw.col("_l") - nw.col("_f")) / 3600.0 + 1.0 - nw.col("_grid").fill_null(0)).clip(
        lower_bound=0.0
    )
    gap_down = nw.min_horizontal(
        (nw.col("_cover").fill_null(0.0) - nw.col("_grid_cover").fill_null(0.0)).clip(
            lower_bound=0.0
        ),
        nw.col("_missing"),
    )
    return done(
        whole.join(totals.lazy(), on=keys, how="left")
        .join(span_cover.select(*keys, "_cover").lazy(), on=keys, how="left")
        .join(grid_cover.lazy(), on=keys, how="left")
        .with_columns(
            *(nw.col(c).fill_null(0.0) for c in HOUR_COLUMNS),
            nw.col("readings").fill_null(0),
            missing.alias("_missing"),
        )
        .with_columns(gap_down.alias("_gap_down"))
        .select(
            "compressor_id",
            "date",
            "operating_hours",
            "standby_hours",
            (nw.col("depressurised_hours") + nw.col("_gap_down")).alias("depressurised_hours"),
            (nw.col("not_reporting_hours") + nw.col("_missing") - nw.col("_gap_down")).alias(
                "not_reporting_hours"
            ),
            nw.col("readings").cast(nw.Int32),
        )
    )


def _spans(frame: Frame) -> Frame:
    """``frame`` with its hour as a span in epoch seconds: ``_h`` to ``_e``."""
    return with_epoch_seconds(frame, {"_h": "hour"}).with_columns(
        (nw.col("_h") + 3600.0).alias("_e")
    )


def _coverage(grid: Frame, downtime: Frame) -> Frame:
    """Per (compressor_id[, date][, hour]) of ``grid``, whose ``_h`` and ``_e`` bound a span in
    epoch seconds: ``_cover``, the hours of it the unit was down for maintenance (a unit still
    down is down to the span's end)."""
    windows = with_epoch_seconds(downtime, {"_from": "started_at", "_to": "completed_at"})
    keys = [c for c in ("compressor_id", "date", "hour") if c in grid.columns]
    if isinstance(grid, nw.LazyFrame):
        windows = windows.lazy()
    joined = (
        grid.select(*keys, "_h", "_e")
        .join(windows.select("compressor_id", "_from", "_to"), on="compressor_id", how="inner")
        .with_columns(nw.col("_to").fill_null(nw.col("_e")))
    )
    overlap = nw.min_horizontal(nw.col("_to"), nw.col("_e")) - nw.max_horizontal(
        nw.col("_from"), nw.col("_h")
    )
    return (
        joined.with_columns(overlap.clip(lower_bound=0.0).alias("_o"))
        .group_by(*keys)
        .agg((nw.col("_o").sum() / 3600.0).alias("_cover"))
    )
