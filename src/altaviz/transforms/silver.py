"""Silver: deduplicate, validate and clean readings day by day, counting every change.

Cleaning never erases degradation. A value is nulled as a spike only when it sits far from
the unit's own *recent* level (a trimmed mean of the previous readings within the hour),
measured in that unit's own robust noise scale for the day. A sustained trend moves the
recent level with it, so it stays; an isolated glitch does not, so it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import narwhals as nw

from altaviz.config.schema import CleaningRules, OperatingModeRules
from altaviz.core.file_scan import FileScan
from altaviz.core.file_sink import FileSink
from altaviz.core.frames import Frame, done, local
from altaviz.core.sensors import SENSOR_INDEX, SENSORS
from altaviz.transforms.modes import running
from altaviz.transforms.windows import latest_per_key, per_unit_frames, trailing_trimmed_mean

KEYS = ("compressor_id", "timestamp")
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation for Gaussian noise


@dataclass(frozen=True)
class CleaningCounts:
    """What cleaning did to one day of bronze readings."""

    rows_in: int
    duplicates: int
    rows_dropped_all_null: int
    rows_out: int
    spikes: dict[str, int]
    out_of_bounds: dict[str, int]


@dataclass(frozen=True)
class CleanedDays:
    """Silver rows for a batch of days, what cleaning did on each day, and the frames that
    :func:`clean_days` computed from the silver rows in the same pass, by name."""

    silver: Frame
    counts: dict[date, CleaningCounts]
    more: dict[str, Frame] = field(default_factory=dict)


@dataclass(frozen=True)
class InPass:
    """More frames for the cleaning's pass to compute: ``then(silver, inputs)`` takes whole
    units' silver rows (each unit's in time order) and the same units' rows of ``inputs``
    (each sorted by its columns in ``order``, if any)."""

    then: Callable[[Frame, dict[str, Frame]], dict[str, Frame]]
    inputs: Mapping[str, Frame] = field(default_factory=dict)
    order: Mapping[str, Sequence[str]] = field(default_factory=dict)
    wide: Collection[str] = ()  # outputs of many columns (see ``per_unit_frames``)
    sinks: Mapping[str, FileSink] = field(default_factory=dict)  # outputs written as files


# What the cleaning's pass itself returns; what follows must be named otherwise.
OWN_OUTPUTS = ("silver", "arrived", "kept")


def clean_days(
    bronze: Frame | FileScan,
    days: Sequence[date],
    bounds: dict[str, tuple[float, float]],
    rules: CleaningRules,
    modes: OperatingModeRules,
    partitions: int | None = None,
    also: InPass | None = None,
    sink: FileSink | None = None,
) -> CleanedDays:
    """Silver rows for ``days`` from bronze rows of those days and the leading halo of each,
    and what cleaning did on each day. Each day is cleaned as it would be alone: a reading's
    level looks back only within the hour, and its noise scale is its unit's on its day.

    ``also``: more frames computed in the same pass from the silver rows, such as the quality
    figures per unit and day, or a batch's gold. On Spark each partition of units returns
    its own, to be combined where they are summaries. ``partitions``: on Spark, at least how
    many to clean the units in. ``sink``: where the pass writes the silver rows itself (see
    :mod:`altaviz.core.file_sink`). ``bronze`` may be a :class:`FileScan` on Spark: each
    partition then reads its own units' readings from the files.

    On Spark the pass is one shuffle of the readings and one run of the Polars code per
    partition, its results kept on the executors' disks; so no later pass reads the readings
    again for what ``also`` computes.

    >>> from datetime import datetime
    >>> import polars as pl
    >>> from altaviz.config import load_config
    >>> t = load_config().thresholds
    >>> bronze = nw.from_native(pl.DataFrame({"timestamp": [datetime(2026, 3, 1, 8)],
    ...     "compressor_id": ["C1"], **{s: [1.0] for s in SENSORS},
    ...     "received_at": [datetime(2026, 3, 1, 8)], "ingested_at": [datetime(2026, 3, 1, 8)]}))
    >>> units = InPass(lambda silver, _: {"units": silver.select(nw.len())})
    >>> out = clean_days(bronze, [date(2026, 3, 1)], {}, t.cleaning, t.operating_modes, also=units)
    >>> out.counts[date(2026, 3, 1)].rows_out, out.more["units"].item()
    (1, 1)
    """
    inputs = dict(also.inputs) if also else {}
    then = also.then if also else None  # the code shipped to Spark may not hold its inputs
    if "bronze" in inputs:
        raise ValueError("an input may not be named 'bronze'")
    in_days = nw.col("timestamp").dt.date().is_in(list(days))
    all_null = nw.all_horizontal(
        *(nw.col(s).is_null() for s in rules.critical_sensors), ignore_nulls=False
    )

    def clean(frames: dict[str, Frame]) -> dict[str, Frame]:  # one unit's rows at a time would do
        readings = frames["bronze"]
        checked = null_out_of_bounds(deduplicate(readings), bounds)
        cleaned = done(
            null_spikes(checked, rules, in_days, running(modes))
            .lazy()
            .filter(in_days)
            .with_columns(nw.col("timestamp").dt.date().alias("date"), all_null.alias("_all_null"))
        )
        silver = cleaned.filter(~nw.col("_all_null")).select(
            "timestamp",
            "compressor_id",
            *SENSORS,
            "received_at",
            nw.col("spike_mask").cast(nw.Int32),
            nw.col("bounds_mask").cast(nw.Int32),
            "date",
        )  # in (compressor_id, timestamp) order from deduplication, on either engine
        out = {
            "silver": silver,
            "arrived": readings.filter(in_days)
            .group_by(nw.col("timestamp").dt.date().alias("date"))
            .agg(nw.len().alias("n")),
            "kept": cleaned.group_by("date").agg(*_KEPT),
        }
        more = then(silver, {n: f for n, f in frames.items() if n != "bronze"}) if then else {}
        if clash := set(more) & set(OWN_OUTPUTS):
            raise ValueError(f"what follows the cleaning may not be named {sorted(clash)}")
        return {**out, **more}

    out = per_unit_frames(
        {"bronze": bronze, **inputs},
        clean,
        also.order if also else {},
        partitions=partitions,
        large=("silver",),
        wide=also.wide if also else (),
        sinks={**(also.sinks if also else {}), **({"silver": sink} if sink else {})},
        small_to_driver=True,  # counts and figures, of a unit or a day each
    )
    counts = _counts(local(out["arrived"]), local(out["kept"]), days)
    more = {name: frame for name, frame in out.items() if name not in OWN_OUTPUTS}
    return CleanedDays(out["silver"], counts, more)


def clean_day(
    bronze: Frame,
    day: date,
    bounds: dict[str, tuple[float, float]],
    rules: CleaningRules,
    modes: OperatingModeRules,
) -> tuple[Frame, CleaningCounts]:
    """Silver rows for ``day`` from bronze rows of the day and its leading halo (see
    :func:`clean_days`)."""
    cleaned = clean_days(bronze, [day], bounds, rules, modes)
    return cleaned.silver, cleaned.counts[day]


# What cleaning kept of a day's readings (summed over the units of each partition on Spark):
# unique readings, those dropped with every critical sensor null, and each mask's bits.
_KEPT = (
    nw.len().alias("_unique"),
    nw.col("_all_null").cast(nw.Int64).sum().alias("_null"),
    *(
        ((nw.col(mask) // (1 << i)) % 2).sum().alias(f"{mask}_{s}")
        for mask in ("spike_mask", "bounds_mask")
        for i, s in enumerate(SENSORS)
    ),
)


def _counts(
    arrived: nw.DataFrame[Any], kept: nw.DataFrame[Any], days: Sequence[date]
) -> dict[date, CleaningCounts]:
    """Per day: bronze rows, duplicates, all-null rows dropped, silver rows, and the sensors'
    spikes and out-of-bounds values nulled, from the pass's sums (one row per day and
    partition of units)."""
    rows_in = {
        r["date"]: r["n"] for r in arrived.group_by("date").agg(nw.col("n").sum()).rows(named=True)
    }
    sums = [c for c in kept.columns if c != "date"]
    totals = {r["date"]: r for r in kept.group_by("date").agg(nw.col(sums).sum()).rows(named=True)}
    counts = {}
    for day in days:
        k = totals.get(day, {})
        unique, dropped = int(k.get("_unique") or 0), int(k.get("_null") or 0)
        arrived_rows = int(rows_in.get(day) or 0)
        counts[day] = CleaningCounts(
            rows_in=arrived_rows,
            duplicates=arrived_rows - unique,
            rows_dropped_all_null=dropped,
            rows_out=unique - dropped,
            spikes={s: int(k.get(f"spike_mask_{s}") or 0) for s in SENSORS},
            out_of_bounds={s: int(k.get(f"bounds_mask_{s}") or 0) for s in SENSORS},
        )
    return counts


def deduplicate(readings: Frame) -> Frame:
    """One row per (compressor_id, timestamp): the latest ingested, then the latest received.

    On Polars returned sorted by unit and time.
    """
    return latest_per_key(readings, KEYS, ("ingested_at", "received_at"))


def null_out_of_bounds(readings: Frame, bounds: dict[str, tuple[float, float]]) -> Frame:
    """Null physically impossible values; bit i of ``bounds_mask`` marks sensor i."""
    outside = {
        s: ~nw.col(s).is_null() & ~nw.col(s).is_between(lo, hi, closed="both")
        for s, (lo, hi) in bounds.items()
    }
    return _null_flagged(readings, outside, "bounds_mask")


def null_spikes(
    readings: Frame, rules: CleaningRules, scored: nw.Expr, running: nw.Expr | None = None
) -> Frame:
    """Null isolated spikes; bit i of ``spike_mask`` marks sensor i.

    The local level of a reading is the trimmed mean (largest and smallest dropped) of the
    unit's previous ``spike_neighbors`` readings, when they all lie within
    ``spike_window_minutes`` (after a gap there is no level, and no reading is judged). A
    reading is a spike when its relative deviation from that level exceeds ``spike_sigma``
    robust standard deviations of the same deviations over the unit's day (the ``scored``
    rows).

    With ``running``, only readings taken under load are judged, against levels of readings
    under load: a stop or a start is a change of state, not a spike.
    """
    window = timedelta(minutes=rules.spike_window_minutes)
    if running is not None:
        # Each stop or start begins a new regime: a count of the unit's changes so far.
        ordered = {"order_by": "timestamp"}
        readings = (
            readings.with_columns((~running).cast(nw.Int32).alias("_stopped"))
            .with_columns(
                nw.col("_stopped").diff().over("compressor_id", **ordered).alias("_change")
            )
            .with_columns(nw.col("_change").abs().fill_null(0).alias("_change"))
            .with_columns(
                nw.col("_change").cum_sum().over("compressor_id", **ordered).alias("_regime")
            )
        )
        scored = scored & (nw.col("_stopped") == 0)
    readings = trailing_trimmed_mean(
        readings,
        SENSORS,
        rules.spike_neighbors,
        rules.spike_min_neighbors,
        window,
        regime=None if running is None else "_regime",
    )
    deviations = [
        ((nw.col(s) - nw.col(f"_level_{s}")) / nw.col(f"_level_{s}").abs()).alias(f"_dev_{s}")
        for s in SENSORS
    ]
    # Lazy from here: one plan for all sensors, so shared sub-expressions are computed once.
    judged = (
        readings.lazy()
        .with_columns(*deviations, nw.col("timestamp").dt.date().alias("_day"))
        .with_columns(
            *(
                nw.when(scored)
                .then(nw.col(f"_dev_{s}").abs())
                .median()
                .over("compressor_id", "_day")
                .alias(f"_mad_{s}")
                for s in SENSORS
            )
        )
    )
    spike = {
        s: (
            scored
            & (nw.col(f"_dev_{s}").abs() > rules.spike_sigma * MAD_TO_SIGMA * nw.col(f"_mad_{s}"))
        ).fill_null(False)
        for s in SENSORS
    }
    helpers = ("_stopped", "_change", "_regime") if running is not None else ()
    return done(
        _null_flagged(judged, spike, "spike_mask").drop(
            *(f"_dev_{s}" for s in SENSORS),
            *(f"_mad_{s}" for s in SENSORS),
            *(f"_level_{s}" for s in SENSORS),
            "_day",
            *helpers,
        )
    )


def _null_flagged(frame: Any, flagged: dict[str, nw.Expr], mask: str) -> Any:
    """Null each sensor where its flag holds; bit i of column ``mask`` marks sensor i."""
    bits = nw.sum_horizontal(
        *(
            nw.when(flag).then(nw.lit(1 << SENSOR_INDEX[s])).otherwise(nw.lit(0))
            for s, flag in flagged.items()
        ),
        nw.lit(0),
    )
    return frame.with_columns(
        *(
            nw.when(flag).then(nw.lit(None)).otherwise(nw.col(s)).alias(s)
            for s, flag in flagged.items()
        ),
        bits.alias(mask),
    )
