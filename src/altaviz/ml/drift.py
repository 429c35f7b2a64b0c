"""Temperature drift: how fast discharge temperature is rising, and how long until the unit's
own warning and critical limits at that rate.

Sensitive by design: a cooling failure rises ~0.2 F/h, far below the 0.5 F/h an earlier
implementation ignored. The line is fitted to the trailing 24-hour mean (gold's
``discharge_temp_f_mean_24h``), not to the hourly means: the daily ambient swing of a few
degrees would otherwise read as a rise of up to 0.3 F/h every afternoon. A 24-hour mean lags
the present by about half a day, so the fitted level is carried forward by
:data:`LAG_HOURS` at the fitted rate (``robust_trends(..., lags=LAGS)``).

Over a unit's first day the "24-hour" mean is a mean over the hours so far: it climbs or
falls with the hour of day its data began, up to 0.1 F/h for data that starts near the daily
low, which a fit would project to the warning limit within days on every healthy unit. The
rate is therefore fitted on full-day means only, and the first day's fits give the level
alone, not carried forward (:func:`with_early_levels`), so a unit already at its limit is
still seen at once.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from altaviz.config.schema import DriftRules

SENSOR = "discharge_temp_f"
SERIES = {SENSOR: f"{SENSOR}_mean_24h"}
"""What :func:`temperature_drift` expects its trends fitted on..."""
LAG_HOURS = 11.5  # a trailing 24-hour mean stands for the middle of its window
LAGS = {SENSOR: LAG_HOURS}
"""...and how far their level lags the present."""


def confidence(slope: nw.Expr, se: nw.Expr) -> nw.Expr:
    """One minus the rate's relative standard error, in [0, 1]."""
    return nw.when(slope.abs() > 0).then(
        nw.max_horizontal(nw.lit(0.0), nw.lit(1.0) - se / slope.abs())
    )


def with_early_levels(full: nw.DataFrame[Any], partial: nw.DataFrame[Any]) -> nw.DataFrame[Any]:
    """Trends for :func:`temperature_drift`: ``full`` (fitted on full-day means only, see
    :func:`~altaviz.ml.scoring.complete_daily_means`) and, where it has no fit yet, the level
    of ``partial`` (fitted on every hour, with no lag) with no rate, so the model can say a
    unit is at its limit but not that it is rising.

    >>> import polars as pl
    >>> fit = dict(sensor="t", at=1, slope=0.1, level=200.0, se=0.01, hours=30)
    >>> full = nw.from_native(pl.DataFrame([dict(fit, compressor_id="A")]))
    >>> partial = nw.from_native(pl.DataFrame([dict(fit, compressor_id=u) for u in "AB"]))
    >>> with_early_levels(full, partial).sort("compressor_id").to_native()["slope"].to_list()
    [0.1, None]
    """
    keys = ["compressor_id", "sensor", "at"]
    early = partial.join(full.select(keys), on=keys, how="anti").with_columns(
        nw.lit(None).cast(partial.schema[c]).alias(c) for c in ("slope", "se")
    )
    return nw.concat([full, early.select(full.columns)])


def temperature_drift(
    trends: nw.DataFrame[Any], limits: nw.DataFrame[Any], rules: DriftRules
) -> nw.DataFrame[Any]:
    """Per (compressor_id, at): ``drift_rate_f_per_h``, ``drift_hours_to_warning``,
    ``drift_hours_to_critical`` (0 once reached; null when not rising significantly),
    ``drift_confidence`` and ``drift_level`` (0 normal, 1 warning, 2 critical).

    ``trends``: :func:`~altaviz.ml.trends.robust_trends` rows fitted on :data:`SERIES`;
    ``limits``: ``unit_limits`` rows. Also ``drift_temperature_f``: the present temperature
    on the fitted line.
    """
    slope, level = nw.col("slope"), nw.col("level")
    rising = (
        (slope >= rules.min_rate_f_per_h)
        & (slope >= rules.min_t_stat * nw.col("se"))
        & (nw.col("hours") >= rules.min_trend_hours)
    ).fill_null(False)

    def hours_to(limit: str) -> nw.Expr:
        limit_col = nw.col(f"{SENSOR}__{limit}")
        return (
            nw.when(level >= limit_col)
            .then(nw.lit(0.0))
            .when(rising)
            .then((limit_col - level) / slope)
        )

    to_warning, to_critical = nw.col("drift_hours_to_warning"), nw.col("drift_hours_to_critical")
    return (
        trends.filter(nw.col("sensor") == SENSOR)
        .join(
            limits.select("compressor_id", f"{SENSOR}__warning_high", f"{SENSOR}__critical_high"),
            on="compressor_id",
            how="left",
        )
        .with_columns(
            slope.alias("drift_rate_f_per_h"),
            level.alias("drift_temperature_f"),
            hours_to("warning_high").alias("drift_hours_to_warning"),
            hours_to("critical_high").alias("drift_hours_to_critical"),
            confidence(slope, nw.col("se")).alias("drift_confidence"),
        )
        .with_columns(
            nw.when((to_critical <= rules.critical_within_hours).fill_null(False))
            .then(nw.lit(2))
            .when((to_warning <= rules.warning_within_hours).fill_null(False))
            .then(nw.lit(1))
            .otherwise(nw.lit(0))
            .cast(nw.Int32)
            .alias("drift_level")
        )
        .select(
            "compressor_id",
            "at",
            "drift_rate_f_per_h",
            "drift_temperature_f",
            "drift_hours_to_warning",
            "drift_hours_to_critical",
            "drift_confidence",
            "drift_level",
        )
    )
