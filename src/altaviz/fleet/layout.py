"""The fleet's physical layout: stations, compressor units, their metadata and healthy baselines.

A layout is drawn once per run from the fleet configuration and a seed. Units are shared out
over basins in proportion to each basin's nominal capacity, so every unit sits at a station
that exists in the station table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from altaviz.config.schema import FleetConfig
from altaviz.core.sensors import SENSOR_INDEX, SENSORS


@dataclass(frozen=True)
class FleetLayout:
    """Stations and units of one simulated fleet.

    ``baseline`` is a (sensor, unit) array of each unit's healthy operating point, in the
    order of :data:`altaviz.core.sensors.SENSORS`.
    """

    stations: pl.DataFrame
    units: pl.DataFrame
    compressor_ids: list[str]
    model_names: list[str]
    model_of_unit: np.ndarray
    baseline: np.ndarray
    rated_hp: np.ndarray
    longitude: np.ndarray
    diurnal_amplitude: np.ndarray

    @property
    def size(self) -> int:
        return len(self.compressor_ids)


def compressor_ids(count: int, prefix: str = "COMP-", min_digits: int = 4) -> list[str]:
    """Fleet IDs, zero-padded to at least ``min_digits``; a larger fleet widens the number.

    >>> compressor_ids(3)
    ['COMP-0001', 'COMP-0002', 'COMP-0003']
    >>> compressor_ids(10_000)[-1]
    'COMP-10000'
    """
    width = max(min_digits, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (Hamilton's method).

    >>> largest_remainder(10, np.array([1.0, 1.0, 1.0])).tolist()
    [4, 3, 3]
    """
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    if short:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def build_layout(config: FleetConfig, compressors: int, start: datetime, seed: int) -> FleetLayout:
    """Draw the full fleet: ``compressors`` units over the configured basins and stations."""
    rng = np.random.default_rng([seed, 0x5EED_F1EE])
    basins = config.basins
    mids = np.array([(b.units_per_station[0] + b.units_per_station[1]) / 2 for b in basins])
    capacity = np.array([b.stations for b in basins]) * mids
    per_basin = largest_remainder(compressors, capacity)

    station_rows: list[dict[str, object]] = []
    unit_station: list[int] = []
    for basin, units, mid in zip(basins, per_basin, mids, strict=True):
        if units == 0:
            continue
        # A small fleet opens only the stations it needs; a large one fills every station.
        opened = int(np.clip(round(units / mid), 1, basin.stations))
        lo, hi = basin.units_per_station
        sizes = rng.uniform(lo, hi, opened)
        per_station = np.ones(opened, dtype=np.int64) if units >= opened else np.zeros(opened, int)
        per_station += largest_remainder(int(units - per_station.sum()), sizes)
        lat = rng.uniform(*basin.lat, opened)
        lon = rng.uniform(*basin.lon, opened)
        states = rng.choice(basin.states, opened)
        elevation = basin.elevation_ft * rng.uniform(0.9, 1.1, opened)
        for i in range(opened):
            station_rows.append(
                {
                    "station_id": f"{basin.code}-{i + 1:03d}",
                    "station_name": f"{basin.name} Station {i + 1:03d}",
                    "basin": basin.name,
                    "basin_code": basin.code,
                    "region": basin.region,
                    "state": str(states[i]),
                    "latitude": round(float(lat[i]), 4),
                    "longitude": round(float(lon[i]), 4),
                    "elevation_ft": round(float(elevation[i])),
                    "timezone": basin.timezone,
                }
            )
            unit_station.extend([len(station_rows) - 1] * int(per_station[i]))

    weights = np.array([m.weight for m in config.models])
    models = rng.choice(len(config.models), size=compressors, p=weights / weights.sum())
    return _assemble(config, station_rows, np.array(unit_station), models, start, rng)


def build_demo_layout(config: FleetConfig, start: datetime, seed: int) -> FleetLayout:
    """The specification's 10-unit demo fleet at its four Texas stations."""
    rng = np.random.default_rng([seed, 0xDE30])
    demo = config.demo
    station_rows: list[dict[str, object]] = []
    for s in demo.stations:
        basin = config.basin(s.basin)
        station_rows.append(
            {
                "station_id": s.id,
                "station_name": s.name,
                "basin": basin.name,
                "basin_code": basin.code,
                "region": basin.region,
                "state": s.state,
                "latitude": s.lat,
                "longitude": s.lon,
                "elevation_ft": round(s.elevation_ft),
                "timezone": basin.timezone,
            }
        )
    index = {s.id: i for i, s in enumerate(demo.stations)}
    model_index = {m.name: i for i, m in enumerate(config.models)}
    unit_station = np.array([index[u.station] for u in demo.units])
    models = np.array([model_index[u.model] for u in demo.units])
    return _assemble(config, station_rows, unit_station, models, start, rng)


def _assemble(
    config: FleetConfig,
    station_rows: list[dict[str, object]],
    unit_station: np.ndarray,
    models: np.ndarray,
    start: datetime,
    rng: np.random.Generator,
) -> FleetLayout:
    n = len(unit_station)
    tele = config.telemetry
    ids = compressor_ids(n, tele.id_prefix, tele.id_min_digits)
    stations = pl.DataFrame(station_rows)
    counts = np.bincount(unit_station, minlength=len(station_rows))
    stations = stations.with_columns(compressor_count=pl.Series(counts, dtype=pl.Int32))

    # Each unit's healthy operating point, drawn once inside its model's ranges.
    baseline = np.empty((len(SENSORS), n))
    rated = np.empty(n)
    for m, spec in enumerate(config.models):
        sel = models == m
        k = int(sel.sum())
        for sensor, (lo, hi) in spec.baseline.items():
            baseline[SENSOR_INDEX[sensor], sel] = rng.uniform(lo, hi, k)
        rated[sel] = np.round(rng.uniform(*spec.rated_hp, k), -1)
    baseline[SENSOR_INDEX["horsepower"]] = rated * rng.uniform(*tele.power_draw_fraction, n)

    years = rng.uniform(*tele.install_years_ago, n)
    installed = [(start - timedelta(days=float(y) * 365.25)).date() for y in years]
    run_hours = years * 365.25 * 24 * rng.uniform(*tele.availability, n)
    station_of = stations[unit_station.tolist()] if n else stations.clear()
    model_specs = [config.models[m] for m in models]
    units = pl.DataFrame(
        {
            "compressor_id": ids,
            "model": [s.name for s in model_specs],
            "manufacturer": [s.manufacturer for s in model_specs],
            "compressor_type": [s.type for s in model_specs],
            "rated_hp": rated,
            "cylinders": pl.Series([s.cylinders for s in model_specs], dtype=pl.Int32),
            "install_date": pl.Series(installed, dtype=pl.Date),
            "operating_hours": np.round(run_hours, 1),
        }
    ).hstack(
        station_of.select(
            "station_id",
            "basin",
            "basin_code",
            "region",
            "state",
            "latitude",
            "longitude",
            "elevation_ft",
        )
    )
    return FleetLayout(
        stations=stations,
        units=units,
        compressor_ids=ids,
        model_names=[config.models[m].name for m in range(len(config.models))],
        model_of_unit=models.astype(np.int16),
        baseline=baseline,
        rated_hp=rated,
        longitude=station_of["longitude"].to_numpy().astype(float),
        diurnal_amplitude=rng.uniform(*tele.diurnal_temp_amplitude_f, n),
    )
