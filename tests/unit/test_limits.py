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
