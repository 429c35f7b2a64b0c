"""Remaining useful life: the hours until a unit's primary sensor, at its current robust rate
of degradation, reaches the unit's critical (trip) limit - the nearest over the failure
modes' primary sensors. A unit degrading nowhere has no finite RUL (null), never a number.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from altaviz.config.schema import RulRules
from altaviz.core.errors import ConfigurationError
from altaviz.ml.drift import confidence

# Standard normal CDF by the logistic approximation (absolute error below 0.01), which
# Narwhals can express on any backend.
_LOGISTIC_PROBIT = 1.702


def _normal_cdf(z: nw.Expr) -> nw.Expr:
    return 1.0 / (1.0 + (-_LOGISTIC_PROBIT * z).exp())


def remaining_useful_life(
    trends: nw.DataFrame[Any], limits: nw.DataFrame[Any], rules: RulRules
) -> nw.DataFrame[Any]:
    """Per (compressor_id, at): ``rul_hours`` (null when no primary sensor is degrading
    towards its limit - significantly, by at least ``min_rate_per_day`` of its level a day,
    and close enough to reach it within ``max_hours``), ``rul_sensor``,
    ``rul_failure_probability`` (of reaching a limit within ``horizon_hours``, the largest
    over the sensors), ``rul_confidence`` and ``rul_level`` (0, 1 warning, 2 critical).
    """
    per_sensor = []
    for sensor, limit in rules.sensors.items():
        toward = 1.0 if limit.endswith("high") else -1.0
        rate = nw.col("slope") * toward  # positive: moving towards the limit
        distance = (nw.col(f"{sensor}__{limit}") - nw.col("level")) * toward
        significant = (
            (rate > 0)
            & (rate >= rules.min_t_stat * nw.col("se"))
            & (rate * 24.0 >= rules.min_rate_per_day * nw.col("level").abs())
        ).fill_null(False)
        hours = (
            nw.when(distance <= 0)
            .then(nw.lit(0.0))
            .when(significant & (distance / rate <= rules.max_hours))
            .then(distance / rate)
        )
        horizon = rules.horizon_hours
        spread = nw.max_horizontal(nw.col("se") * horizon, nw.lit(1e-12))
        probability = (
            nw.when(distance <= 0)
            .then(nw.lit(1.0))
            .otherwise(_normal_cdf((rate * horizon - distance) / spread))
        )
        per_sensor.append(
            trends.filter(nw.col("sensor") == sensor)
            .join(
                limits.select("compressor_id", f"{sensor}__{limit}"),
                on="compressor_id",
                how="inner",
            )
            .filter(~nw.col(f"{sensor}__{limit}").is_null())
            .select(
                "compressor_id",
                "at",
                "sensor",
                hours.alias("_hours"),
                probability.fill_null(0.0).alias("_p"),
                confidence(rate, nw.col("se")).alias("_conf"),
            )
        )
    if not per_sensor:
        raise ConfigurationError("models.yaml: rul.sensors is empty")
    long = nw.concat(per_sensor)
    # The nearest limit decides; ties broken by sensor name so the result is deterministic.
    nearest = (
        long.filter(~nw.col("_hours").is_null())
        .unique(["compressor_id", "at"], keep="first", order_by=["_hours", "sensor"])
        .select(
            "compressor_id",
            "at",
            nw.col("_hours").alias("rul_hours"),
            nw.col("sensor").alias("rul_sensor"),
            nw.col("_conf").alias("rul_confidence"),
        )
    )
    probability = long.group_by("compressor_id", "at").agg(
        nw.col("_p").max().alias("rul_failure_probability")
    )
    rul = nw.col("rul_hours")
    return probability.join(nearest, on=["compressor_id", "at"], how="left").with_columns(
        nw.when((rul <= rules.critical_below_hours).fill_null(False))
        .then(nw.lit(2))
        .when((rul <= rules.warning_below_hours).fill_null(False))
        .then(nw.lit(1))
        .otherwise(nw.lit(0))
        .cast(nw.Int32)
        .alias("rul_level")
    )
