"""Robust trends and the two models built on them: temperature drift and RUL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import narwhals as nw
import numpy as np
import polars as pl
import pytest

from altaviz.config import load_config
from altaviz.ml.drift import LAG_HOURS, LAGS, SERIES, temperature_drift, with_early_levels
from altaviz.ml.rul import remaining_useful_life
from altaviz.ml.scoring import complete_daily_means
from altaviz.ml.trends import robust_trends

START = datetime(2026, 1, 1, tzinfo=UTC)
HOURS = [START + timedelta(hours=h) for h in range(72)]
NOW = HOURS[-1]


def hourly(series: dict[str, list[float | None]], column: str = "discharge_temp_f_mean_24h"):
    rows = {"compressor_id": [], "hour": [], column: []}
    for unit, values in series.items():
        rows["compressor_id"] += [unit] * len(values)
        rows["hour"] += HOURS[: len(values)]
        rows[column] += values
    return nw.from_native(pl.DataFrame(rows).sort("compressor_id", "hour"))


def limits(**columns: float | None):
    frame = {"compressor_id": ["A", "B", "C"]}
    frame.update({k: [v] * 3 for k, v in columns.items()})
    return nw.from_native(pl.DataFrame(frame))


def test_huber_fit_ignores_an_outlier_and_recovers_slope_level_and_hours():
    rng = np.random.default_rng(1)
    clean = [200 + 0.3 * h + rng.normal(0, 0.2) for h in range(72)]
    spiked = list(clean)
    spiked[-5] += 60.0
    gap = [None if 30 < h < 60 else v for h, v in enumerate(clean)]
    fits = robust_trends(
        hourly({"A": clean, "B": spiked, "C": gap}),
        {"t": "discharge_temp_f_mean_24h"},
        [NOW],
        timedelta(hours=48),
        min_hours=20,
    ).sort("compressor_id")
    by_unit = {r["compressor_id"]: r for r in fits.rows(named=True)}
    for unit in ("A", "B"):
        assert by_unit[unit]["slope"] == pytest.approx(0.3, abs=0.01)
        assert by_unit[unit]["level"] == pytest.approx(200 + 0.3 * 71, abs=0.3)
        assert by_unit[unit]["hours"] == 48
    assert "C" not in by_unit  # 12 hours in its window: fewer than min_hours, no fit


def test_drift_projects_the_units_own_limits_and_stays_quiet_on_a_flat_unit():
    rules = load_config().models.drift
    rising = [200 + 0.2 * h for h in range(72)]  # a cooling failure's ~5 F/day
    flat = [200.0 + (0.5 if h % 2 else -0.5) for h in range(72)]
    fits = robust_trends(
        hourly({"A": rising, "B": flat}),
        {"discharge_temp_f": "discharge_temp_f_mean_24h"},
        [NOW],
        timedelta(hours=rules.window_hours),
        rules.min_hours,
        lags=LAGS,
    )
    lim = limits(discharge_temp_f__warning_high=230.0, discharge_temp_f__critical_high=250.0)
    out = {r["compressor_id"]: r for r in temperature_drift(fits, lim, rules).rows(named=True)}
    present = 200 + 0.2 * 71 + 0.2 * LAG_HOURS  # the 24-hour mean lags by ~half a day
    assert out["A"]["drift_temperature_f"] == pytest.approx(present)
    assert out["A"]["drift_hours_to_warning"] == pytest.approx((230 - present) / 0.2)
    assert out["A"]["drift_hours_to_critical"] == pytest.approx((250 - present) / 0.2)
    assert out["A"]["drift_level"] == 1  # warning within 72 h, critical beyond 24 h
    assert out["B"]["drift_hours_to_warning"] is None
    assert out["B"]["drift_level"] == 0


def test_a_unit_already_beyond_its_limit_has_zero_hours_left():
    rules = load_config().models.drift
    hot = [262.0] * 10  # ten hours of data: too few for a trend, enough to be at the limit
    fits = robust_trends(
        hourly({"A": hot}),
        {"discharge_temp_f": "discharge_temp_f_mean_24h"},
        [HOURS[9]],
        timedelta(hours=rules.window_hours),
        rules.min_hours,
    )
    lim = limits(discharge_temp_f__warning_high=240.0, discharge_temp_f__critical_high=260.0)
    row = temperature_drift(fits, lim, rules).rows(named=True)[0]
    assert row["drift_hours_to_warning"] == 0.0 and row["drift_hours_to_critical"] == 0.0
    assert row["drift_level"] == 2


def test_a_healthy_unit_whose_data_begins_at_its_daily_low_raises_no_drift():
    """Over the first day the trailing "24-hour" mean is a mean of the hours so far: starting
    at the daily low it climbs ~0.1 F/h for a day, then stays flat. Drift fits its rate on full
    days only, yet still reads a unit that is at its limit from its first hours."""
    rules = load_config().models.drift

    def trailing_means(amplitude: float, phase: int) -> list[float]:
        swing = [198.7 - amplitude * np.cos(2 * np.pi * (h + phase) / 24) for h in range(72)]
        return [float(np.mean(swing[max(0, h - 23) : h + 1])) for h in range(72)]

    # A begins at its daily low; C, with a wider swing, on the morning's steepest climb
    means = {"A": trailing_means(2.5, 0), "C": trailing_means(5.0, 6)}
    frame = hourly({**means, "B": [262.0] * 72})
    baselines = nw.from_native(
        pl.DataFrame({"compressor_id": ["A", "B", "C"], "established_from": START})
    )
    # A floating limit a few degrees above the unit's usual daily peak (201.2 F)
    lim = limits(discharge_temp_f__warning_high=205.0, discharge_temp_f__critical_high=215.0)

    def levels(fits) -> dict[tuple[str, datetime], int]:
        rows = temperature_drift(fits, lim, rules).rows(named=True)
        return {(r["compressor_id"], r["at"]): r["drift_level"] for r in rows}

    def fit(frame, lags=LAGS):
        window = timedelta(hours=rules.window_hours)
        return robust_trends(frame, SERIES, HOURS, window, rules.min_hours, lags=lags)

    smoothed = complete_daily_means(frame, baselines, SERIES.values())
    naive = levels(fit(frame))
    fixed = levels(with_early_levels(fit(smoothed), fit(frame, lags={})))
    # What a fit on every hour would say: A rising to its limit in its second day, C (whose
    # level would be carried forward at the first hours' rate) beyond it in its first hours
    assert max(v for (u, at), v in naive.items() if u == "A" and at >= HOURS[24]) == 1
    assert naive[("C", HOURS[rules.min_hours - 1])] >= 1
    assert {v for (u, _), v in fixed.items() if u in ("A", "C")} == {0}
    hot = sorted(at for (u, at), v in fixed.items() if u == "B" and v == 2)
    assert hot[0] == HOURS[rules.min_hours - 1] and len(hot) == 72 - rules.min_hours + 1


def test_rul_takes_the_nearest_limit_and_gives_a_healthy_unit_none():
    rules = load_config().models.rul
    rng = np.random.default_rng(2)
    rows = {"compressor_id": [], "hour": [], "vibration_mms_mean": [], "gas_flow_mcf_mean": []}
    for unit, vib_rate, flow_rate in (("A", 0.05, 0.0), ("B", 0.0, -40.0), ("C", 0.0, 0.0)):
        for h, hour in enumerate(HOURS):
            rows["compressor_id"].append(unit)
            rows["hour"].append(hour)
            rows["vibration_mms_mean"].append(3.0 + vib_rate * h + rng.normal(0, 0.02))
            rows["gas_flow_mcf_mean"].append(10000 + flow_rate * h + rng.normal(0, 20))
    frame = nw.from_native(pl.DataFrame(rows))
    sensors = {"vibration_mms": "vibration_mms_mean", "gas_flow_mcf": "gas_flow_mcf_mean"}
    fits = robust_trends(frame, sensors, [NOW], timedelta(hours=48), rules.min_hours)
    lim = limits(vibration_mms__critical_high=8.0, gas_flow_mcf__critical_low=7000.0)
    rules = rules.model_copy(
        update={"sensors": {"vibration_mms": "critical_high", "gas_flow_mcf": "critical_low"}}
    )
    out = {r["compressor_id"]: r for r in remaining_useful_life(fits, lim, rules).rows(named=True)}
    # A: vibration 3 + 0.05 x 71 = 6.55 mm/s rising 0.05/h -> (8 - 6.55) / 0.05 = 29 h
    assert out["A"]["rul_sensor"] == "vibration_mms"
    assert out["A"]["rul_hours"] == pytest.approx(29.0, abs=2.0)
    assert out["A"]["rul_level"] == 1
    assert out["A"]["rul_failure_probability"] > 0.9  # the limit falls inside 48 h
    # B: flow 10,000 - 40 x 71 = 7,160 falling 40/h -> (7,160 - 7,000) / 40 = 4 h
    assert out["B"]["rul_sensor"] == "gas_flow_mcf"
    assert out["B"]["rul_hours"] == pytest.approx(4.0, abs=1.5)
    assert out["B"]["rul_level"] == 2
    # C: healthy - no finite RUL, a negligible failure probability
    assert out["C"]["rul_hours"] is None and out["C"]["rul_level"] == 0
    assert out["C"]["rul_failure_probability"] < 0.01


def test_evaluation_times_before_any_data_are_skipped_not_broken():
    """A fleet whose data starts mid-day is scored at hours before its first reading too."""
    values = [200.0 + 0.1 * h for h in range(30)]
    frame = hourly({"A": values})
    early, late = START - timedelta(hours=60), HOURS[29]
    fits = robust_trends(
        frame, {"t": "discharge_temp_f_mean_24h"}, [early, late], timedelta(hours=48), 20
    )
    assert fits.get_column("at").to_list() == [late]
    assert fits.item(0, "slope") == pytest.approx(0.1)
    none = robust_trends(
        frame, {"t": "discharge_temp_f_mean_24h"}, [early], timedelta(hours=48), 20
    )
    assert none.shape[0] == 0 and "slope" in none.columns
