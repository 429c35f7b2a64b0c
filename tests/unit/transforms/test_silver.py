"""Silver cleaning on hand-made days: duplicates, impossible values, spikes, empty rows."""

from __future__ import annotations

from datetime import timedelta

import narwhals as nw
import pytest

from altaviz.core.sensors import SENSOR_INDEX
from altaviz.transforms.silver import InPass, clean_day, clean_days
from tests.unit.transforms.conftest import rows_of
from tests.unit.transforms.readings import DAY, START, STEADY, concat, steady_day


@pytest.fixture
def bounds(config) -> dict[str, tuple[float, float]]:
    return {s: tuple(lim.bounds) for s, lim in config.thresholds.sensors.items() if lim.bounds}


def clean(frame, data, bounds, config):
    silver, counts = clean_day(
        frame(data), DAY, bounds, config.thresholds.cleaning, config.thresholds.operating_modes
    )
    return rows_of(silver, "timestamp"), counts


def test_a_resent_reading_is_kept_once_in_its_latest_version(frame, bounds, config):
    day = steady_day(readings=24)
    resent = {k: [v[3]] for k, v in day.items()}
    resent["vibration_mms"] = [3.05]
    resent["ingested_at"] = [resent["ingested_at"][0] + timedelta(hours=1)]
    rows, counts = clean(frame, concat(day, resent), bounds, config)
    assert counts.rows_in == 25 and counts.duplicates == 1 and counts.rows_out == 24
    assert rows[3]["vibration_mms"] == 3.05


def test_a_physically_impossible_value_is_nulled_and_marked(frame, bounds, config):
    day = steady_day(readings=24)
    day["discharge_temp_f"][10] = 900.0  # beyond the 500 F bound
    rows, counts = clean(frame, day, bounds, config)
    assert rows[10]["discharge_temp_f"] is None
    assert rows[10]["bounds_mask"] == 1 << SENSOR_INDEX["discharge_temp_f"]
    assert counts.out_of_bounds["discharge_temp_f"] == 1 and counts.rows_out == 24


def test_an_isolated_spike_is_nulled_but_a_sustained_rise_is_kept(frame, bounds, config):
    """Spikes are outliers; sustained trends are signal (the earlier implementation's 4-sigma
    filter erased the very failures the product exists to catch)."""
    day = steady_day()
    day["vibration_mms"][100] = STEADY["vibration_mms"] * 1.6  # one reading, back at once
    for i in range(200, 288):  # from 16:40 the unit climbs and stays up
        day["discharge_temp_f"][i] = STEADY["discharge_temp_f"] + 0.8 * (i - 199)
    rows, counts = clean(frame, day, bounds, config)
    assert rows[100]["vibration_mms"] is None
    assert rows[100]["spike_mask"] == 1 << SENSOR_INDEX["vibration_mms"]
    assert counts.spikes["vibration_mms"] == 1
    assert counts.spikes.get("discharge_temp_f", 0) == 0
    assert rows[-1]["discharge_temp_f"] == pytest.approx(STEADY["discharge_temp_f"] + 0.8 * 88)


def test_a_reading_with_every_critical_sensor_null_is_dropped(frame, bounds, config):
    day = steady_day(readings=24)
    for s in config.thresholds.cleaning.critical_sensors:
        day[s][5] = None
    rows, counts = clean(frame, day, bounds, config)
    assert counts.rows_dropped_all_null == 1 and counts.rows_out == 23
    assert all(r["timestamp"] != START + timedelta(minutes=25) for r in rows)


def test_readings_of_the_leading_halo_are_context_not_output(frame, bounds, config):
    before = steady_day(readings=12)
    before["timestamp"] = [t - timedelta(hours=1) for t in before["timestamp"]]
    rows, counts = clean(frame, concat(before, steady_day(readings=12)), bounds, config)
    assert counts.rows_in == 12 and len(rows) == 12
    assert all(r["date"] == DAY for r in rows)


def test_a_batch_returns_what_follows_from_its_silver_rows(frame, bounds, config):
    resent = steady_day(readings=1)  # a duplicate: counted in, not in silver
    empty = steady_day(readings=2)
    empty["timestamp"] = [START + timedelta(hours=5), START + timedelta(hours=6)]
    for sensor in config.thresholds.cleaning.critical_sensors:
        empty[sensor] = [None, None]  # dropped: every critical sensor null
    data = concat(steady_day("C1", 24), resent, empty, steady_day("C2", 12))

    def per_unit(silver, inputs):
        return {"rows": silver.group_by("compressor_id").agg(nw.len().alias("n"))}

    cleaned = clean_days(
        frame(data),
        [DAY],
        bounds,
        config.thresholds.cleaning,
        config.thresholds.operating_modes,
        also=InPass(per_unit),
    )
    summary = {r["compressor_id"]: r["n"] for r in rows_of(cleaned.more["rows"])}
    assert summary == {"C1": 24, "C2": 12}
    counts = cleaned.counts[DAY]
    assert (counts.rows_in, counts.duplicates, counts.rows_dropped_all_null) == (39, 1, 2)
    assert counts.rows_out == 36


def test_what_follows_may_not_take_the_name_of_the_pass_own_outputs(frame, bounds, config):
    with pytest.raises(ValueError, match="silver"):
        clean_days(
            frame(steady_day(readings=2)),
            [DAY],
            bounds,
            config.thresholds.cleaning,
            config.thresholds.operating_modes,
            also=InPass(lambda silver, inputs: {"silver": silver}),
        )
