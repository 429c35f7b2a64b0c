"""Scoring helpers of the ML stage, pure functions of frames: when units are scored, the
anomaly model's calibrated levels, each prediction's status and the models' levels as alert
evaluations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import narwhals as nw
import numpy as np

from altaviz.config.schema import AnomalyRules
from altaviz.core.days import day_bounds
from altaviz.ml import anomaly as anomaly_model
from altaviz.ml.features import hourly_features
from altaviz.ml.registry import ModelRef
from altaviz.ml.risk import at_risk, risk_level

KEYS = ["compressor_id", "hour"]


def scoring_hours(day: date, every_hours: int) -> list[datetime]:
    """The hours of ``day`` at which every unit is scored: the last hour of each
    ``every_hours`` block (its data is complete at the block's end).

    >>> [h.hour for h in scoring_hours(date(2026, 1, 1), 6)]
    [5, 11, 17, 23]
    """
    start, _ = day_bounds(day)
    return [start + timedelta(hours=h) for h in range(every_hours - 1, 24, every_hours)]


def complete_daily_means(
    hourly: nw.DataFrame[Any], baselines: nw.DataFrame[Any], columns: Iterable[str]
) -> nw.DataFrame[Any]:
    """``hourly`` with trailing 24-hour means nulled where fewer than 24 hours of the unit's
    data stood behind them (its first day, from when its baseline was first learned): a mean
    over a part of a day still swings with the ambient temperature."""
    began = baselines.group_by("compressor_id").agg(
        nw.col("established_from").min().alias("_began")
    )
    partial = (nw.col("hour") < nw.col("_began") + timedelta(hours=23)).fill_null(False)
    return (
        hourly.join(began, on="compressor_id", how="left")
        .with_columns(nw.when(~partial).then(nw.col(c)).alias(c) for c in columns)
        .drop("_began")
    )


def prediction_status(has_model: bool) -> nw.Expr:
    """Each prediction's status: ``ok``, or ``insufficient_data`` and the first reason why."""
    missing = [
        (nw.col("drift_level").is_null(), "too few hours for a temperature trend"),
        (nw.col("rul_failure_probability").is_null(), "too few hours for degradation trends"),
    ]
    if has_model:
        missing.insert(0, (nw.col("anomaly_score").is_null(), "no baseline or features yet"))
    else:
        missing.insert(0, (nw.lit(True), "no anomaly model registered yet"))
    expr: Any = nw.when(missing[0][0]).then(nw.lit(f"insufficient_data: {missing[0][1]}"))
    for condition, why in missing[1:]:
        expr = expr.when(condition).then(nw.lit(f"insufficient_data: {why}"))
    return expr.otherwise(nw.lit("ok"))


def anomaly_scores(
    hourly: nw.DataFrame[Any],
    today: nw.DataFrame[Any],
    baselines: nw.DataFrame[Any],
    day: date,
    champion: tuple[Any, ModelRef] | None,
    rules: AnomalyRules,
    feature_set: str,
) -> nw.DataFrame[Any]:
    """Per (compressor_id, hour) of the day: calibrated score, level (the score held by every
    one of the last ``persist_hours`` hours) and, for anomalous hours, the top sensors.

    ``today``: the day's features; the hours before it that a level looks back on are
    computed from ``hourly``."""
    start, _ = day_bounds(day)
    columns = {
        "compressor_id": nw.String,
        "hour": nw.Datetime("us", "UTC"),
        "anomaly_score": nw.Float64,
        "anomaly_level": nw.Int32,
        "anomaly_top_sensors": nw.String,
    }
    if champion is None:
        return hourly.select(
            "compressor_id",
            "hour",
            *(nw.lit(None).cast(t).alias(c) for c, t in columns.items() if c not in KEYS),
        )
    model = champion[0]
    tail = hourly.filter(
        (nw.col("hour") >= start - timedelta(hours=rules.persist_hours - 1))
        & (nw.col("hour") < start)
    )
    before = hourly_features(tail, baselines, feature_set)
    features = nw.concat([before, today]).sort("compressor_id", "hour")
    X, groups = anomaly_model.feature_matrix(features)
    scores = model.score(X, groups)
    scored = (
        features.select("compressor_id", "hour")
        .with_columns(
            nw.new_series("anomaly_score", scores, nw.Float64, backend=features.implementation)
        )
        .with_columns(nw.col("anomaly_score").fill_nan(None))
    )  # not scored: null, never NaN
    n = rules.persist_hours
    score = nw.col("anomaly_score").fill_null(0.0)

    def held(threshold: float) -> nw.Expr:
        """Every one of the unit's last ``n`` hours at or above ``threshold``."""
        return (score >= threshold).cast(nw.Int32).rolling_sum(n, min_samples=n) == n

    # Sorted by unit and hour; a window reaching into the previous unit is cut by `same`.
    same = (nw.col("compressor_id") == nw.col("compressor_id").shift(n - 1)).fill_null(False)
    level = (
        nw.when(same & held(rules.critical_score).fill_null(False))
        .then(nw.lit(2))
        .when(same & held(rules.warning_score).fill_null(False))
        .then(nw.lit(1))
        .when(~nw.col("anomaly_score").is_null())
        .then(nw.lit(0))
        .cast(nw.Int32)
    )
    judged = (
        scored.sort("compressor_id", "hour")
        .with_columns(level.alias("anomaly_level"))
        .filter(nw.col("hour") >= start)
    )
    flagged = (judged.get_column("anomaly_level") >= 1).fill_null(False).to_numpy()
    sensors = np.full(len(flagged), None, dtype=object)
    in_day = (features.get_column("hour") >= start).to_numpy()
    if flagged.any():  # only the few anomalous rows get their sensors named
        rows = np.flatnonzero(in_day)[flagged]
        sensors[flagged] = anomaly_model.top_sensors(
            model, X[rows], groups[rows], rules.top_sensors
        )
    return judged.select("compressor_id", "hour", "anomaly_score", "anomaly_level").with_columns(
        nw.new_series(
            "anomaly_top_sensors", sensors.tolist(), nw.String, backend=judged.implementation
        )
    )


def model_evaluation(
    predictions: nw.DataFrame[Any], sensor: str, kind: str, value: nw.Expr, limit: float
) -> nw.DataFrame[Any]:
    """One model's predictions as evaluations for :func:`alert_episodes`: its level and
    value, stamped at the end of the scored hour (when they are known)."""
    return predictions.select(
        "compressor_id",
        nw.lit(sensor).alias("sensor"),
        (nw.col("hour") + timedelta(hours=1)).alias("timestamp"),
        value.alias("value"),
        nw.col(f"{kind}_level").alias("level"),
        nw.lit(limit).alias("limit_value"),
        nw.lit(kind).alias("alert_type"),
    )


__all__ = [
    "KEYS",
    "anomaly_scores",
    "at_risk",
    "complete_daily_means",
    "model_evaluation",
    "prediction_status",
    "risk_level",
    "scoring_hours",
]
