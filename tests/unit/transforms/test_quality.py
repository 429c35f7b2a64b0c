"""The day's quality checks on hand-made silver: each check fires on the fault it names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from altaviz.transforms.quality import quality_report
from altaviz.transforms.silver import clean_day
from tests.unit.transforms.readings import DAY, concat, steady_day


@pytest.fixture
def report(frame, config):
    """The quality report of a day built from ``data``, for ``registered`` units."""
    bounds = {s: tuple(lim.bounds) for s, lim in config.thresholds.sensors.items() if lim.bounds}

    def make(data, registered: int):
        cleaning = config.thresholds.cleaning
        modes = config.thresholds.operating_modes
        silver, counts = clean_day(frame(data), DAY, bounds, cleaning, modes)
        checks = quality_report(
            silver, counts, registered, config.thresholds.quality, cleaning.critical_sensors, DAY
        )
        return checks, {c.check: c for c in checks.checks}

    return make


def test_a_complete_healthy_day_passes_every_check(report):
    whole, checks = report(concat(steady_day("C1"), steady_day("C2")), registered=2)
    assert whole.passed
    assert {c.severity for c in whole.checks if c.severity != "info"} == {"pass"}
    assert checks["fleet_completeness"].value == 1.0
    assert checks["rows_out"].value == 576


def test_too_few_units_reporting_is_critical_and_holds_the_day_back(report):
    whole, checks = report(steady_day("C1"), registered=3)
    assert checks["fleet_completeness"].severity == "critical"
    assert not whole.passed


def test_suction_above_discharge_breaks_pressure_consistency(report):
    day = steady_day(wobble=0.0)
    day["suction_pressure_psi"] = [450.0] * 288  # a swapped pair of transmitters
    day["discharge_pressure_psi"] = [400.0] * 288
    _, checks = report(day, registered=1)
    assert checks["pressure_consistency"].value == 0.0
    assert checks["pressure_consistency"].severity == "warning"  # reported, never blocking


def test_readings_arriving_late_are_counted(report):
    day = steady_day()
    late = len(day["timestamp"]) // 5
    for i in range(late):  # a fifth of the readings arrive two hours after they were taken
        day["received_at"][i] = day["timestamp"][i] + timedelta(hours=2)
    _, checks = report(day, registered=1)
    assert checks["late_arrivals"].value == pytest.approx(late / 288)
    assert checks["late_arrivals"].severity == "critical"


def test_pressure_consistency_counts_only_readings_with_both_pressures(report):
    day = steady_day(wobble=0.0)
    day["suction_pressure_psi"] = [300.0] * 288
    day["discharge_pressure_psi"] = [None if i % 2 else 400.0 for i in range(288)]
    _, checks = report(day, registered=1)
    assert checks["pressure_consistency"].value == 1.0  # a missing value is no inconsistency
    assert checks["sensor_completeness"].value == 0.5
    assert checks["sensor_completeness"].detail == "worst sensor: discharge_pressure_psi"
