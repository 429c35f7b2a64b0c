"""One planted failure of every mode: the primary sensor follows its progression in the
telemetry and crosses its warning level before the failure time."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from altaviz.fleet.failure_modes import MODES
from altaviz.fleet.truth import read_dirt, read_failures
from tests.conftest import read_telemetry


@pytest.fixture(scope="module")
def hourly(planted):
    _, out, _ = planted
    tel = read_telemetry(out)
    # Clean the planted dirt away using the truth, so the shape is the physics alone.
    dirt = read_dirt(out).filter(pl.col("kind").is_in(["glitch", "process_spike"]))
    tel = tel.unique(["compressor_id", "timestamp"]).join(
        dirt, on=["compressor_id", "timestamp"], how="anti"
    )
    return (
        tel.sort("timestamp")
        .group_by_dynamic("timestamp", every="1h", group_by="compressor_id")
        .agg(
            pl.exclude("date", "received_at").mean().name.suffix("_mean"),
            pl.exclude("date", "received_at", "timestamp").max().name.suffix("_max"),
        )
    )


@pytest.mark.parametrize("mode", MODES)
def test_primary_sensor_crosses_warning_before_failure(planted, hourly, mode):
    _, out, _ = planted
    truth = read_failures(out).filter(failure_mode=mode).row(0, named=True)
    sensor, unit = truth["primary_sensor"], truth["compressor_id"]
    rising = truth["direction"] == "rising"
    series = hourly.filter(
        pl.col("compressor_id") == unit,
        pl.col("timestamp").is_between(
            truth["onset_time"], truth["failure_time"] - timedelta(hours=1)
        ),
    )
    # Valve pulsation shows in the hourly maximum; the others in the hourly mean.
    column = f"{sensor}_max" if mode == "valve_failure" else f"{sensor}_mean"
    values = series[column].to_numpy()
    if rising:
        crossed = series.filter(pl.col(column) >= truth["warning_level"])
    else:
        crossed = series.filter(pl.col(column) <= truth["warning_level"])
    assert crossed.height > 0, f"{mode}: never crossed {truth['warning_level']:.1f}"
    first = crossed["timestamp"].min()
    assert truth["onset_time"] < first < truth["failure_time"]
    # Near the trip, the sensor is at or beyond its critical level.
    tail = values[-3:]
    limit = truth["critical_level"]
    assert (tail.max() >= limit * 0.97) if rising else (tail.min() <= limit * 1.03), mode
    # Offline from the trip until back in service.
    gap = hourly.filter(
        pl.col("compressor_id") == unit,
        pl.col("timestamp").is_between(
            truth["failure_time"] + timedelta(hours=1),
            truth["back_online_time"] - timedelta(hours=1),
        ),
    )
    assert gap.height == 0


def test_progression_shapes_in_the_telemetry(planted, hourly):
    _, out, _ = planted
    failures = read_failures(out)

    def trend(mode: str, column: str) -> np.ndarray:
        t = failures.filter(failure_mode=mode).row(0, named=True)
        s = hourly.filter(
            pl.col("compressor_id") == t["compressor_id"],
            pl.col("timestamp").is_between(t["onset_time"], t["failure_time"] - timedelta(hours=1)),
        )
        return s.get_column(column).to_numpy()

    def fit(values: np.ndarray, degree: int) -> float:
        x = np.arange(len(values))
        resid = values - np.polyval(np.polyfit(x, values, degree), x)
        return 1 - resid.var() / values.var()

    cooling = trend("cooling_degradation", "discharge_temp_f_mean")
    assert fit(cooling, 1) > 0.97  # linear rise
    bearing = trend("bearing_wear", "vibration_mms_mean")
    n = len(bearing)
    first_half = bearing[n // 2] - bearing[0]
    second_half = bearing[-1] - bearing[n // 2]
    assert second_half > 2 * first_half  # accelerating
    for mode, column in (
        ("ring_wear", "gas_flow_mcf_mean"),
        ("packing_leak", "discharge_pressure_psi_mean"),
    ):
        values = trend(mode, column)
        assert values[-6:].mean() < values[:6].mean() * 0.9, mode
    valve = trend("valve_failure", "discharge_pressure_psi_mean")
    assert valve[-12:].std() > 5 * valve[:12].std()  # pulsation grows from nothing
    spikes = read_dirt(out).filter(kind="process_spike")
    fouling_unit = failures.filter(failure_mode="fouling")["compressor_id"].item()
    assert spikes.filter(compressor_id=fouling_unit).height > 0
    assert set(spikes["compressor_id"]) == {fouling_unit}


def test_healthy_demo_units_stay_inside_their_model_ranges(planted, hourly, config):
    _, out, _ = planted
    meta = pl.read_parquet(out / "compressor_metadata.parquet")
    failing = set(read_failures(out)["compressor_id"])
    models = {m.name: m for m in config.fleet.models}
    for unit, model in meta.select("compressor_id", "model").iter_rows():
        if unit in failing:
            continue
        h = hourly.filter(compressor_id=unit)
        for sensor, (low, high) in models[model].baseline.items():
            mean = h[f"{sensor}_mean"].drop_nulls()
            assert mean.min() >= low * 0.93 and mean.max() <= high * 1.07, (unit, sensor)


@pytest.mark.parametrize("mode", ["cooling_degradation", "fouling"])
def test_degrading_units_keep_their_ambient_swing(planted, hourly, mode):
    """Degradation adds to the daily ambient cycle; it does not replace it."""
    _, out, _ = planted
    t = read_failures(out).filter(failure_mode=mode).row(0, named=True)
    unit = pl.read_parquet(out / "truth" / "units.parquet").filter(compressor_id=t["compressor_id"])
    h = hourly.filter(
        pl.col("compressor_id") == t["compressor_id"],
        pl.col("timestamp").is_between(t["onset_time"], t["failure_time"] - timedelta(hours=1)),
    )
    # Local solar hour of the hour's midpoint; the swing peaks at 15:00 solar time.
    hours = (h["timestamp"].dt.epoch("s").to_numpy() + 1800) / 3600 % 24
    phase = 2 * np.pi * (hours + unit["longitude"].item() / 15 - 9) / 24
    x = np.arange(len(hours))
    design = np.column_stack([np.ones_like(x), x, x**2, np.sin(phase), np.cos(phase)])
    coef, *_ = np.linalg.lstsq(design, h["discharge_temp_f_mean"].to_numpy(), rcond=None)
    amplitude = unit["diurnal_temp_amplitude_f"].item()
    assert coef[3] == pytest.approx(amplitude, abs=0.6)
    assert abs(coef[4]) < 0.6
