"""Per-unit alarm limits and statuses, from two kinds of limit (thresholds.yaml):

- absolute: the model's limit, or the fleet default;
- floating: the unit's own healthy band (``unit_baselines``) widened by the configured
  deviation - p95 + delta for a high limit, p05 - delta for a low one.

The tighter of the two applies; ``kind`` says which (``threshold`` or ``deviation``).
"""

from __future__ import annotations

from typing import Any, get_args

import narwhals as nw

from altaviz.config.schema import ThresholdsConfig
from altaviz.core.frames import Frame, done, values
from altaviz.core.sensors import SENSORS, DerivedName
from altaviz.transforms.windows import literal_frame

LEVELS = ("warning_high", "critical_high", "warning_low", "critical_low")
SEVERITY_RANK = {"normal": 0, "warning": 1, "critical": 2}
"""Severity as a number, so "worst" is a maximum - never string order."""
SEVERITY_NAME = {rank: name for name, rank in SEVERITY_RANK.items()}
DERIVED: tuple[str, ...] = get_args(DerivedName)


def model_limits(thresholds: ThresholdsConfig, models: list[str]) -> dict[str, list[Any]]:
    """Absolute limits per model as columns ``{signal}__{level}`` (None where there is none)."""
    data: dict[str, list[Any]] = {"model": list(models)}
    for signal in (*SENSORS, *DERIVED):
        for level in LEVELS:
            data[f"{signal}__{level}"] = [thresholds.limit(m, signal, level) for m in models]
    return data


def unit_limits(
    units: Frame,
    baselines: Frame,
    thresholds: ThresholdsConfig,
    keys: tuple[str, ...] = ("compressor_id",),
) -> Frame:
    """One row per unit (per ``keys``): ``{sensor}__{level}`` effective limits and
    ``{sensor}__{level}__kind``.

    ``units`` has ``keys`` and ``model``; ``baselines`` has ``keys``, ``sensor`` and the band
    (``unit_baselines``, or the day's bands of :func:`altaviz.transforms.bands.day_bands` with
    ``keys=("compressor_id", "date")``).
    """
    models = sorted({m for m in values(units.select("model").unique(), "model") if m is not None})
    absolute = literal_frame(units, model_limits(thresholds, models), text=("model",))
    frame = units.lazy().select(*keys, "model").join(absolute.lazy(), on="model", how="left")
    for s in SENSORS:
        band = baselines.filter(nw.col("sensor") == s).select(
            *keys,
            nw.col("p05").alias(f"_p05_{s}"),
            nw.col("p50").alias(f"_p50_{s}"),
            nw.col("p95").alias(f"_p95_{s}"),
        )
        frame = frame.join(band.lazy(), on=list(keys), how="left")
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
    return done(
        frame.with_columns(*exprs).select(
            *keys,
            *(f"{s}__{level}" for s in SENSORS for level in LEVELS),
            *(f"{s}__{level}__kind" for s in SENSORS for level in LEVELS),
            *(f"{d}__{level}" for d in DERIVED for level in LEVELS),
        )
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


def crossed(value: nw.Expr, signal: str, level: str) -> nw.Expr:
    """Whether ``value`` is at or beyond the unit's ``{signal}__{level}`` limit (never null)."""
    limit = nw.col(f"{signal}__{level}")
    hit = value >= limit if level.endswith("high") else value <= limit
    return hit.fill_null(False)


def level(value: nw.Expr, signal: str) -> nw.Expr:
    """Severity rank of ``value``: 2 critical, 1 warning, 0 normal; null without a value."""
    return (
        nw.when(value.is_null())
        .then(nw.lit(None))
        .when(crossed(value, signal, "critical_high") | crossed(value, signal, "critical_low"))
        .then(nw.lit(SEVERITY_RANK["critical"]))
        .when(crossed(value, signal, "warning_high") | crossed(value, signal, "warning_low"))
        .then(nw.lit(SEVERITY_RANK["warning"]))
        .otherwise(nw.lit(SEVERITY_RANK["normal"]))
    )


def rank(severity: nw.Expr) -> nw.Expr:
    """A severity name as its rank (null for anything else)."""
    return severity.replace_strict(SEVERITY_RANK, default=None, return_dtype=nw.Int32)


def severity(ranked: nw.Expr, otherwise: str | None = None) -> nw.Expr:
    """A severity rank as its name; ``otherwise`` where there is none."""
    return ranked.replace_strict(SEVERITY_NAME, default=otherwise, return_dtype=nw.String)


def status(value: nw.Expr, signal: str) -> nw.Expr:
    """normal, warning or critical for ``value`` against the unit's ``{signal}__*`` limits."""
    return severity(level(value, signal))


def worst_status(*statuses: str) -> nw.Expr:
    """The most severe of several status columns, by severity order - never by string order."""
    return severity(nw.max_horizontal(*(rank(nw.col(c)) for c in statuses)), otherwise="no_data")
