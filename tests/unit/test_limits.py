"""Two kinds of limit, resolved per unit; statuses ranked by severity."""

import narwhals as nw
import polars as pl

from altaviz.transforms.limits import status, unit_limits, worst_status


def _limits(config, model: str, baselines: pl.DataFrame | None = None) -> pl.DataFrame:
    units = nw.from_native(pl.DataFrame({"compressor_id": ["C1"], "model": [model]}))
    base = (
        baselines
        if baselines is not None
        else pl.DataFrame(
            schema={
                "compressor_id": pl.String,
                "sensor": pl.String,
                "p05": pl.Float64,
                "p50": pl.Float64,
                "p95": pl.Float64,
            }
        )
    )
    return nw.to_native(unit_limits(units, nw.from_native(base), config.thresholds))


def _status(limits: pl.DataFrame, signal: str, value: float) -> str:
    frame = nw.from_native(limits.with_columns(v=pl.lit(value)))
    return frame.select(status(nw.col("v"), signal).alias("s")).item()


def test_a_healthy_g3606_at_1380_psi_is_normal(config):
    g3606 = _limits(config, "Caterpillar G3606")
    jgk = _limits(config, "Ariel JGK/4")
    assert _status(g3606, "discharge_pressure_psi", 1380) == "normal"
    assert _status(jgk, "discharge_pressure_psi", 1380) == "warning"
    assert _status(jgk, "discharge_pressure_psi", 1400) == "critical"
    assert _status(g3606, "discharge_pressure_psi", 1650) == "critical"


def test_floating_limits_follow_the_units_own_band(config):
    band = pl.DataFrame(
        {
            "compressor_id": ["C1"] * 2,
            "sensor": ["gas_flow_mcf", "discharge_temp_f"],
            "p05": [9800.0, 195.0],
            "p50": [10000.0, 200.0],
            "p95": [10200.0, 205.0],
        }
    )
    limits = _limits(config, "Ariel JGK/4", band)
    # Flow: 15 % below p05 warns, 25 % below is critical, though far above the model limit.
    assert _status(limits, "gas_flow_mcf", 9800 - 0.14 * 10000) == "normal"
    assert _status(limits, "gas_flow_mcf", 9800 - 0.16 * 10000) == "warning"
    assert _status(limits, "gas_flow_mcf", 9800 - 0.26 * 10000) == "critical"
    assert limits["gas_flow_mcf__warning_low__kind"].item() == "deviation"
    # Temperature: p95 + min(5 %, 12 F) = 215 F warns, long before the 240 F fleet limit.
    assert _status(limits, "discharge_temp_f", 214.9) == "normal"
    assert _status(limits, "discharge_temp_f", 215.1) == "warning"
    assert limits["discharge_temp_f__warning_high"].item() == 215.0
    # Without a band, only the absolute limit applies.
    assert _limits(config, "Ariel JGK/4")["discharge_temp_f__warning_high"].item() == 240


def test_worst_status_is_by_severity_not_string_order():
    frame = nw.from_native(
        pl.DataFrame(
            {
                "a": ["normal", "warning", "critical", None, "normal"],
                "b": ["warning", "critical", "normal", None, None],
            }
        )
    )
    worst = frame.select(worst_status("a", "b").alias("w"))["w"].to_list()
    assert worst == ["warning", "critical", "critical", "no_data", "normal"]


def test_trend_is_the_fitted_fall_per_day_as_a_share_of_the_level():
    from datetime import UTC, datetime, timedelta

    from altaviz.transforms.gold import trend_per_day

    start = datetime(2026, 3, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(72)]
    frame = pl.DataFrame(
        {
            "compressor_id": ["A"] * 72 + ["B"] * 72 + ["C"] * 30,
            "hour": hours + hours + hours[:30],
            "gas_flow_mcf_mean": [10_000.0] * 72  # flat
            + [10_000.0 * (1 - 0.02 * h / 24) for h in range(72)]  # -2 % per day
            + [9_000.0] * 30,  # too short a history
            "discharge_pressure_psi_mean": [1_000.0] * 174,
        }
    )
    trends = nw.to_native(
        trend_per_day(
            nw.from_native(frame),
            start.date(),
            (start + timedelta(days=2)).date(),
            timedelta(hours=72),
            48,
            ("gas_flow_mcf",),
        )
    ).sort("compressor_id", "hour")
    last = trends.group_by("compressor_id").agg(pl.col("gas_flow_mcf_trend_per_day").last())
    values = dict(last.iter_rows())
    assert abs(values["A"]) < 1e-12
    assert abs(values["B"] - (-0.02 / (1 - 0.02 * 35.5 / 24))) < 1e-9  # relative to the mean level
    assert values["C"] is None
    assert trends["discharge_pressure_psi_trend_per_day"].null_count() == trends.height
