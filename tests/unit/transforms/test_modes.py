"""Operating modes from readings and the maintenance log, hour by hour and per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import narwhals as nw
import polars as pl
import pytest

from altaviz.transforms.modes import daily_modes, hourly_modes

DAY = date(2026, 3, 2)
MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)
UNITS = nw.from_native(pl.DataFrame({"compressor_id": ["RUN", "STOP", "DOWN", "GONE"]}))


def readings() -> nw.DataFrame:
    """Hours 0-2 of four units, a reading every 5 minutes: RUN runs throughout; STOP runs
    for half of hour 1 and stands by (pressurised) after; DOWN runs in hour 0, is blown down
    for maintenance from 01:30 and says nothing after; GONE reports in hour 0 only."""
    rows = []
    for minute in range(0, 180, 5):
        at = MIDNIGHT + timedelta(minutes=minute)
        rows.append(("RUN", at, 900.0, 9000.0, 1000.0))
        stopped = minute >= 90
        rows.append(("STOP", at, 0.0 if stopped else 900.0, 0.0 if stopped else 9000.0, 400.0))
        if minute < 60:
            rows.append(("DOWN", at, 900.0, 9000.0, 1000.0))
            rows.append(("GONE", at, 900.0, 9000.0, 1000.0))
    frame = pl.DataFrame(
        rows,
        schema={
            "compressor_id": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "horsepower": pl.Float64,
            "gas_flow_mcf": pl.Float64,
            "discharge_pressure_psi": pl.Float64,
        },
        orient="row",
    ).with_columns(pl.lit(60.0).alias("suction_pressure_psi"))
    return nw.from_native(frame)


DOWNTIME = nw.from_native(
    pl.DataFrame(
        {
            "compressor_id": ["DOWN"],
            "started_at": [MIDNIGHT + timedelta(minutes=90)],
            "completed_at": [None],
        },
        schema={
            "compressor_id": pl.String,
            "started_at": pl.Datetime("us", "UTC"),
            "completed_at": pl.Datetime("us", "UTC"),
        },
    )
)


@pytest.fixture(scope="module")
def hourly(config) -> pl.DataFrame:
    rules = config.thresholds.operating_modes
    frame = hourly_modes(readings(), UNITS, DOWNTIME, 5, rules)
    return nw.to_native(frame).sort("compressor_id", "hour")


def hours_of(hourly: pl.DataFrame, unit: str, hour: int) -> dict:
    row = hourly.filter(
        (pl.col("compressor_id") == unit) & (pl.col("hour") == MIDNIGHT + timedelta(hours=hour))
    )
    return row.select(
        "operating_hours", "standby_hours", "depressurised_hours", "not_reporting_hours"
    ).row(0, named=True)


def test_every_unit_has_every_hour_any_unit_reported_and_each_hour_adds_up(hourly):
    assert hourly.height == 4 * 3
    total = hourly.select(
        pl.sum_horizontal(
            "operating_hours", "standby_hours", "depressurised_hours", "not_reporting_hours"
        )
    ).to_series()
    assert total.to_list() == pytest.approx([1.0] * 12)


def test_a_stop_holding_pressure_is_standby(hourly):
    assert hours_of(hourly, "STOP", 1)["operating_hours"] == pytest.approx(0.5)
    assert hours_of(hourly, "STOP", 1)["standby_hours"] == pytest.approx(0.5)
    assert hours_of(hourly, "STOP", 2)["standby_hours"] == pytest.approx(1.0)


def test_silence_is_depressurised_under_maintenance_and_not_reporting_otherwise(hourly):
    assert hours_of(hourly, "DOWN", 1) == pytest.approx(
        {
            "operating_hours": 0,
            "standby_hours": 0,
            "depressurised_hours": 0.5,
            "not_reporting_hours": 0.5,
        }
    )
    assert hours_of(hourly, "DOWN", 2)["depressurised_hours"] == pytest.approx(1.0)
    assert hours_of(hourly, "GONE", 2)["not_reporting_hours"] == pytest.approx(1.0)


def test_a_day_counts_the_hours_the_fleet_reported(hourly):
    daily = nw.to_native(daily_modes(nw.from_native(hourly), UNITS, DOWNTIME))
    totals = {r["compressor_id"]: r for r in daily.iter_rows(named=True)}
    assert totals["RUN"]["operating_hours"] == pytest.approx(3.0)
    assert totals["STOP"]["standby_hours"] == pytest.approx(1.5)
    assert totals["DOWN"]["depressurised_hours"] == pytest.approx(1.5)
    assert totals["GONE"]["not_reporting_hours"] == pytest.approx(2.0)
    for row in totals.values():  # the three hours the fleet reported, no more
        assert sum(row[c] for c in row if c.endswith("_hours")) == pytest.approx(3.0)
