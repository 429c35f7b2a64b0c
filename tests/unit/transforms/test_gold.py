"""Gold's hourly statistics and the daily roll-up, on hand-made readings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from altaviz.transforms.gold import hourly_stats
from tests.unit.transforms.conftest import rows_of
from tests.unit.transforms.readings import START, steady_day


def test_hourly_stats_summarise_each_unit_hour(frame):
    day = steady_day(readings=24)  # two hours of five-minute readings
    day["vibration_mms"] = [float(i) for i in range(24)]
    day["discharge_temp_f"][5] = None  # a missing reading does not count
    hours = rows_of(hourly_stats(frame(day)), "hour")
    assert [h["hour"] for h in hours] == [START, START + timedelta(hours=1)]
    first, second = hours
    assert first["reading_count"] == 12 and second["reading_count"] == 12
    assert first["vibration_mms_mean"] == pytest.approx(5.5)
    assert (first["vibration_mms_min"], first["vibration_mms_max"]) == (0.0, 11.0)
    assert second["vibration_mms_mean"] == pytest.approx(17.5)
    assert first["vibration_mms_std"] == pytest.approx(3.6056, rel=1e-4)  # sample std of 0..11
    expected = sum(v for i, v in enumerate(day["discharge_temp_f"][:12]) if i != 5) / 11
    assert first["discharge_temp_f_mean"] == pytest.approx(expected)


def test_hourly_stats_keep_units_apart(frame):
    one, two = steady_day("C1", readings=12), steady_day("C2", readings=12)
    two["horsepower"] = [2000.0] * 12
    both = {k: one[k] + two[k] for k in one}
    hours = rows_of(hourly_stats(frame(both)), "compressor_id")
    assert [h["compressor_id"] for h in hours] == ["C1", "C2"]
    assert hours[1]["horsepower_mean"] == 2000.0
    assert hours[0]["horsepower_mean"] == pytest.approx(1400.0, rel=0.03)
