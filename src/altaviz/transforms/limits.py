"""Per-unit alarm limits and statuses, from two kinds of limit (thresholds.yaml):

- absolute: the model's limit, or the fleet default;
- floating: the unit's own healthy band (``unit_baselines``) widened by the configured
  deviation - p95 + delta for a high limit, p05 - delta for a low one.

The tighter of the two applies; ``kind`` says which (``threshold`` or ``deviation``).
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from altaviz.config.schema import ThresholdsConfig
from altaviz.sensors import SENSORS

LEVELS = ("warning_high", "critical_high", "warning_low", "critical_low")
SEVERITY_RANK = {"normal": 0, "warning": 1, "critical": 2}
DERIVED = ("pressure_differential_psi", "temp_rate_of_change_f_per_h")


def model_limits(thresholds: ThresholdsConfig, models: list[str]) -> dict[str, list[Any]]:
    """Absolute limits per model as columns ``{signal}__{level}`` (None where there is none)."""
    data: dict[str, list[Any]] = {"model": list(models)}
    for signal in (*SENSORS, *DERIVED):
        for level in LEVELS:
            data[f"{signal}__{level}"] = [thresholds.limit(m, signal, level) for m in models]
    return data


def unit_limits(
    units: nw.DataFrame[Any], baselines: nw.DataFrame[Any], thresholds: ThresholdsConfig
) -> nw.DataFrame[Any]:
    """One row per unit: ``{sensor}__{level}`` effective limits and ``{sensor}__{level}__kind``.

    ``units`` has ``compressor_id`` and ``model``; ``baselines`` is ``unit_baselines``.
    """
    models = sorted({m for m in units.get_column("model").to_list() if m is not None})
    absolute = nw.from_dict(
        model_limits(thresholds, models),
        backend=units.implementation,
    )
    frame = units.select("compressor_id", "model").join(absolute, on="model", how="left")
    for s in SENSORS:
        band = baselines.filter(nw.col("sensor") == s).select(
            "compressor_id",
            nw.col("p05").alias(f"_p05_{s}"),
            nw.col("p50").alias(f"_p50_{s}"),
            nw.col("p95").alias(f"_p95_{s}"),
        )
        frame = frame.join(band, on="compressor_id", how="left")
    exprs = []
    for s in SENSORS:
        floating = thresholds.floating.get(s)
        for level in LEVELS:
            absolute_col = nw.col(f"{s}__{level}")
            dev = getattr(floating, level) if floating else None
            if dev is None:
                exprs += [absolute_col.alias(f"{s}__{level}"), _kind(f"{s}__{level}", absolute_col)]
                continue
            p50 = nw.col(f"_p50_{s}")
            delta = p50.abs() * dev.fraction
            if dev.max_delta is not None:
                delta = nw.min_horizontal(delta, nw.lit(dev.max_delta))
            if level.endswith("high"):
                float_limit = nw.col(f"_p95_{s}") + delta
                tighter = nw.min_horizontal(absolute_col, float_limit)
            else:
                float_limit = nw.col(f"_p05_{s}") - delta
                tighter = nw.max_horizontal(absolute_col, float_limit)
            exprs += [
                tighter.alias(f"{s}__{level}"),
                _kind(f"{s}__{level}", absolute_col, float_limit),
            ]
    return frame.with_columns(*exprs).select(
        "compressor_id",
        *(f"{s}__{level}" for s in SENSORS for level in LEVELS),
        *(f"{s}__{level}__kind" for s in SENSORS for level in LEVELS),
        *(f"{d}__{level}" for d in DERIVED for level in LEVELS),
    )


def _kind(name: str, absolute: nw.Expr, floating: nw.Expr | None = None) -> nw.Expr:
    """Which kind of limit is the effective one: ``deviation`` (floating) or ``threshold``."""
    if floating is None:
        kind: Any = nw.when(absolute.is_null()).then(nw.lit(None)).otherwise(nw.lit("threshold"))
    else:
        high = name.endswith("high")
        floating_tighter = (floating < absolute) if high else (floating > absolute)
        kind = (
            nw.when(absolute.is_null() & floating.is_null())
            .then(nw.lit(None))
            .when(absolute.is_null() | floating_tighter.fill_null(False))
            .then(nw.lit("deviation"))
            .otherwise(nw.lit("threshold"))
        )
    return kind.alias(f"{name}__kind")


def status(value: nw.Expr, signal: str) -> nw.Expr:
    """normal, warning or critical for ``value`` against the unit's ``{signal}__*`` limits."""

    def crossed(level: str) -> nw.Expr:
        limit = nw.col(f"{signal}__{level}")
        hit = value >= limit if level.endswith("high") else value <= limit
        return hit.fill_null(False)

    return (
        nw.when(value.is_null())
        .then(nw.lit(None))
        .when(crossed("critical_high") | crossed("critical_low"))
        .then(nw.lit("critical"))
        .when(crossed("warning_high") | crossed("warning_low"))
        .then(nw.lit("warning"))
        .otherwise(nw.lit("normal"))
    )


def worst_status(*statuses: str) -> nw.Expr:
    """The most severe of several status columns, by severity order - never by string order."""
    rank = nw.max_horizontal(
        *(
            nw.when(nw.col(c) == "critical")
            .then(nw.lit(2))
            .when(nw.col(c) == "warning")
            .then(nw.lit(1))
            .when(nw.col(c) == "normal")
            .then(nw.lit(0))
            for c in statuses
        )
    )
    return (
        nw.when(rank == 2)
        .then(nw.lit("critical"))
        .when(rank == 1)
        .then(nw.lit("warning"))
        .when(rank == 0)
        .then(nw.lit("normal"))
        .otherwise(nw.lit("no_data"))
    )
