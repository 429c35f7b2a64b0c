"""Hourly features per unit, computed once from gold hourly rows and the unit's healthy
baseline, and stored in the feature store.

Two kinds of feature: the spec's raw hourly statistics (what an engineer reads), and the same
quantities relative to the unit's own healthy median (what the anomaly model learns from -
a ratio of 1.0 is "as this unit normally runs", whatever its model or size).
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from altaviz.core.sensors import SENSORS


def hourly_features(
    hourly: nw.DataFrame[Any], baselines: nw.DataFrame[Any], feature_set: str
) -> nw.DataFrame[Any]:
    """Feature rows per (compressor_id, hour) from gold ``hourly_aggregates`` rows and
    ``unit_baselines``; ratios are null before the unit's baseline was established (its
    ``established_to``), so no feature looks ahead.

    >>> import polars as pl
    >>> from datetime import datetime
    >>> hourly = nw.from_native(pl.DataFrame({
    ...     "compressor_id": ["COMP-0001"], "hour": [datetime(2026, 1, 1)], "model": ["m"],
    ...     "worst_status": ["normal"], "date": [datetime(2026, 1, 1).date()],
    ...     "vibration_mms_mean": [3.0], "vibration_mms_std": [0.1], "vibration_mms_max": [3.2],
    ...     "discharge_temp_f_mean": [200.0], "temp_rate_of_change_f_per_h": [0.5],
    ...     "pressure_differential_psi": [900.0], "horsepower_mean": [1000.0],
    ...     "suction_pressure_psi_mean": [60.0], "discharge_pressure_psi_mean": [960.0],
    ...     "gas_flow_mcf_mean": [9000.0]}))
    >>> base = nw.from_native(pl.DataFrame({"compressor_id": ["COMP-0001"] * 6,
    ...     "sensor": list(SENSORS), "p50": [2.0, 200.0, 60.0, 960.0, 1000.0, 9000.0],
    ...     "established_to": [datetime(2025, 12, 31)] * 6}))
    >>> hourly_features(hourly, base, "v1").item(0, "vibration_ratio")
    1.5
    """
    medians = baselines.select("compressor_id", "sensor", "p50")
    # Point in time: a ratio exists only once the unit's baseline had been established.
    wide = (
        hourly.select("compressor_id")
        .unique()
        .join(
            baselines.group_by("compressor_id").agg(
                nw.col("established_to").max().alias("_known_from")
            ),
            on="compressor_id",
            how="left",
        )
    )
    for s in SENSORS:
        wide = wide.join(
            medians.filter(nw.col("sensor") == s).select(
                "compressor_id", nw.col("p50").alias(f"_p50_{s}")
            ),
            on="compressor_id",
            how="left",
        )

    known = (nw.col("hour") >= nw.col("_known_from")).fill_null(False)

    def ratio(value: nw.Expr, sensor: str) -> nw.Expr:
        base = nw.col(f"_p50_{sensor}")
        return nw.when(known & (base.abs() > 0)).then(value / base)

    healthy_differential = nw.col("_p50_discharge_pressure_psi") - nw.col(
        "_p50_suction_pressure_psi"
    )
    return (
        hourly.join(wide, on="compressor_id", how="left")
        .select(
            "compressor_id",
            "hour",
            nw.lit(feature_set).alias("feature_set"),
            "model",
            "worst_status",
            nw.col("vibration_mms_mean").alias("vibration_mean"),
            nw.col("vibration_mms_std").alias("vibration_std"),
            nw.col("vibration_mms_max").alias("vibration_max"),
            nw.col("discharge_temp_f_mean").alias("discharge_temp_mean"),
            nw.col("temp_rate_of_change_f_per_h").alias("temp_rate_f_per_h"),
            nw.col("pressure_differential_psi").alias("pressure_differential_mean"),
            nw.col("horsepower_mean").alias("horsepower_mean"),
            ratio(nw.col("vibration_mms_mean"), "vibration_mms").alias("vibration_ratio"),
            ratio(nw.col("vibration_mms_max"), "vibration_mms").alias("vibration_max_ratio"),
            ratio(nw.col("vibration_mms_std"), "vibration_mms").alias("vibration_std_ratio"),
            ratio(nw.col("discharge_temp_f_mean"), "discharge_temp_f").alias(
                "discharge_temp_ratio"
            ),
            ratio(nw.col("suction_pressure_psi_mean"), "suction_pressure_psi").alias(
                "suction_pressure_ratio"
            ),
            ratio(nw.col("discharge_pressure_psi_mean"), "discharge_pressure_psi").alias(
                "discharge_pressure_ratio"
            ),
            nw.when(known & (healthy_differential > 0))
            .then(nw.col("pressure_differential_psi") / healthy_differential)
            .alias("pressure_differential_ratio"),
            ratio(nw.col("horsepower_mean"), "horsepower").alias("horsepower_ratio"),
            ratio(nw.col("gas_flow_mcf_mean"), "gas_flow_mcf").alias("gas_flow_ratio"),
            "date",
        )
        .sort("compressor_id", "hour")
    )


def psi(expected: Any, actual: Any, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (numpy arrays), on the
    expected sample's deciles. Below 0.1: stable; 0.1-0.25: moderate shift; above: drifted.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> psi(rng.normal(size=5000), rng.normal(size=5000)) < 0.1
    True
    >>> psi(rng.normal(size=5000), rng.normal(1.0, size=5000)) > 0.25
    True
    """
    import numpy as np

    expected = expected[np.isfinite(expected)]
    actual = actual[np.isfinite(actual)]
    if expected.size < bins or actual.size < bins:
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected), minlength=edges.size + 1) / expected.size
    a = np.bincount(np.searchsorted(edges, actual), minlength=edges.size + 1) / actual.size
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))
