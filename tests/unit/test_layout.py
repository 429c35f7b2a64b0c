from datetime import UTC, datetime

import numpy as np
import pytest

from altaviz.core.sensors import SENSOR_INDEX
from altaviz.fleet.layout import build_demo_layout, build_layout, compressor_ids, largest_remainder

START = datetime(2026, 3, 1, tzinfo=UTC)


def test_ids_have_four_digits_and_widen_past_9999():
    assert compressor_ids(4700)[0] == "COMP-0001"
    assert compressor_ids(4700)[-1] == "COMP-4700"
    assert compressor_ids(9999)[-1] == "COMP-9999"
    ids = compressor_ids(12_000)
    assert ids[0] == "COMP-00001" and ids[-1] == "COMP-12000"
    assert len(set(ids)) == 12_000


@pytest.mark.parametrize("total", [0, 1, 7, 4700])
def test_largest_remainder_is_exact(total):
    counts = largest_remainder(total, np.array([3.0, 1.0, 2.5, 0.5]))
    assert counts.sum() == total and (counts >= 0).all()


def test_default_fleet_shape(config):
    layout = build_layout(config.fleet, 4700, START, seed=3)
    units, stations = layout.units, layout.stations
    assert units.height == 4700 and stations.height == 197
    per_basin = dict(stations.group_by("basin_code").len().iter_rows())
    assert per_basin == {b.code: b.stations for b in config.fleet.basins}
    # Every unit sits at a station that exists, and the station counts agree.
    assert set(units["station_id"]) <= set(stations["station_id"])
    assert stations["compressor_count"].sum() == 4700
    assert (stations["compressor_count"] >= 1).all()
    joined = units.join(stations, on="station_id")
    assert (joined["basin_code"] == joined["basin_code_right"]).all()
    # The biggest basin by capacity gets the most units.
    per_unit_basin = dict(units.group_by("basin_code").len().iter_rows())
    assert max(per_unit_basin, key=per_unit_basin.get) == "PERM"
    # Stations lie inside their basin's box.
    for basin in config.fleet.basins:
        s = stations.filter(basin_code=basin.code)
        assert s["latitude"].is_between(*basin.lat).all()
        assert s["longitude"].is_between(*basin.lon).all()
        assert set(s["state"]) <= set(basin.states)


def test_model_mix_follows_weights(config):
    layout = build_layout(config.fleet, 4700, START, seed=3)
    shares = layout.units["model"].value_counts(normalize=True)
    for model in config.fleet.models:
        share = shares.filter(model=model.name)["proportion"].item()
        assert abs(share - model.weight) < 0.025, model.name


def test_baselines_inside_model_ranges(config):
    layout = build_layout(config.fleet, 4700, START, seed=3)
    draw = config.fleet.telemetry.power_draw_fraction
    for m, model in enumerate(config.fleet.models):
        sel = layout.model_of_unit == m
        assert sel.any()
        for sensor, (low, high) in model.baseline.items():
            values = layout.baseline[SENSOR_INDEX[sensor], sel]
            assert values.min() >= low and values.max() <= high, (model.name, sensor)
        rated = layout.rated_hp[sel]
        assert rated.min() >= model.rated_hp[0] and rated.max() <= model.rated_hp[1]
        hp = layout.baseline[SENSOR_INDEX["horsepower"], sel]
        assert (hp >= rated * draw[0] - 1e-9).all() and (hp <= rated * draw[1] + 1e-9).all()


def test_small_fleet_opens_only_the_stations_it_needs(config):
    layout = build_layout(config.fleet, 100, START, seed=3)
    assert layout.units.height == 100
    assert 5 <= layout.stations.height < 30
    assert (layout.stations["compressor_count"] >= 1).all()
    assert set(layout.units["station_id"]) == set(layout.stations["station_id"])


def test_demo_fleet_is_the_specs_ten_units_at_four_texas_stations(config):
    layout = build_demo_layout(config.fleet, START, seed=1)
    assert layout.compressor_ids == [f"COMP-{i:04d}" for i in range(1, 11)]
    assert layout.stations["station_id"].to_list() == [
        "STATION-A",
        "STATION-B",
        "STATION-C",
        "STATION-D",
    ]
    assert set(layout.units["state"]) == {"TX"}
    b = layout.stations.filter(station_id="STATION-B").row(0, named=True)
    assert (b["latitude"], b["longitude"], b["elevation_ft"]) == (31.9973, -102.0779, 2800)
