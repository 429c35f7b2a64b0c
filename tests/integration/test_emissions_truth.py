"""Emissions and operating modes against the simulator's truth, on a fleet where packing
leaks are common: the OOOOb flags find the units whose true vent flow stayed over the limit
for a day and no others, methane is estimated within the issue's bounds, and each unit's
hours in each operating mode are within 2 % of the truth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest

from altaviz.fleet import SimulationRequest, simulate
from altaviz.lake import catalog as lake
from altaviz.ml.emission_scores import score_emissions
from tests.conftest import START, run_lake
from tests.lake_parity import read_table

LIMIT = 2.0


@pytest.fixture(scope="module")
def leaky(tmp_path_factory, config) -> tuple[Path, Path]:
    """400 units for 12 days, a packing leak ten times as common as in the default fleet."""
    modes = dict(config.fleet.failures.modes)
    modes["packing_leak"] = modes["packing_leak"].model_copy(update={"monthly_incidence": 0.15})
    failures = config.fleet.failures.model_copy(update={"modes": modes})
    cfg = dataclasses.replace(config, fleet=config.fleet.model_copy(update={"failures": failures}))
    out = tmp_path_factory.mktemp("leaky") / "fleet"
    simulate(SimulationRequest(output=out, compressors=400, days=12, seed=77, start=START), cfg)
    lakehouse = out.parent / "lake"
    assert run_lake(out, lakehouse, mlflow=out.parent / "mlruns").status == "success"
    return out, lakehouse


@pytest.fixture(scope="module")
def scores(leaky) -> dict:
    out, lakehouse = leaky
    return score_emissions(
        pl.read_parquet(sorted((out / "truth" / "emissions").glob("*.parquet"))),
        read_table(lakehouse, lake.EMISSIONS_ESTIMATES),
        read_table(lakehouse, lake.OPERATING_MODE_DAYS),
        LIMIT,
    )


def test_the_truth_holds_leaks_standby_and_downtime(leaky):
    out, _ = leaky
    truth = pl.read_parquet(sorted((out / "truth" / "emissions").glob("*.parquet")))
    assert truth.filter(pl.col("vent_scfm_per_cylinder") > LIMIT)["compressor_id"].n_unique() >= 10
    assert truth["standby_hours"].sum() > 0 and truth["depressurised_hours"].sum() > 0
    hours = truth.select(
        pl.sum_horizontal("operating_hours", "standby_hours", "depressurised_hours")
    ).to_series()
    assert hours.max() == pytest.approx(1.0)
    telemetry = pl.read_parquet(sorted((out / "telemetry").rglob("*.parquet")))
    stopped = telemetry.filter(pl.col("horsepower") == 0)
    assert stopped.height > 0 and (stopped["gas_flow_mcf"] == 0).all()
    assert (stopped["discharge_pressure_psi"] > stopped["suction_pressure_psi"]).all()


def test_oooob_flags_find_the_units_truly_over_the_limit(scores):
    o = scores["oooob"]
    assert o["units_exceeding"] >= 10
    assert o["recall"] >= 0.9, o
    assert o["precision"] >= 0.9, o


def test_methane_is_within_ten_percent_for_the_fleet_and_25_on_leaking_units(scores):
    m = scores["methane"]
    assert abs(m["fleet_error"]) <= 0.10, m
    assert abs(m["leaking_error"]) <= 0.25, m


def test_each_units_mode_hours_are_within_two_percent_of_the_truth(scores):
    modes = scores["modes"]
    assert modes["standby"]["true_h"] > 0
    for mode in ("operating", "standby", "depressurised"):
        assert modes[mode]["max_error_share"] <= 0.02, (mode, modes[mode])
    assert modes["operating"]["units_within_2pct_of_truth"] == 1.0


def test_stopped_readings_raise_no_alert(leaky):
    """A unit in standby is not a sick unit: no rule alert opens on a stopped reading."""
    out, lakehouse = leaky
    telemetry = pl.read_parquet(sorted((out / "telemetry").rglob("*.parquet")))
    stopped = telemetry.filter(pl.col("horsepower") == 0).select(
        "compressor_id", pl.col("timestamp").alias("opened_at")
    )
    alerts = read_table(lakehouse, lake.ALERT_HISTORY).filter(
        pl.col("alert_type").is_in(["threshold", "deviation"])
    )
    assert alerts.height > 0
    on_stopped = alerts.join(stopped.unique(), on=["compressor_id", "opened_at"])
    assert on_stopped.height == 0, on_stopped.select("compressor_id", "opened_at", "sensor")
