"""The predictive models in the pipeline and on the command line, against the truth."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from altaviz.cli import app
from altaviz.fleet.truth import read_failures
from tests.conftest import read_table, run_lake

runner = CliRunner()
TRENDING = ("bearing_wear", "cooling_degradation", "fouling", "ring_wear", "packing_leak")


def test_registry_round_trip_champion_challenger_promote(tmp_path):
    from altaviz.ml.anomaly import AnomalyModel
    from altaviz.ml.registry import Registry

    registry = Registry(f"sqlite:///{tmp_path}/mlflow.db")
    assert registry.champion() is None
    X = np.random.default_rng(0).normal(1.0, 0.01, size=(500, 3))
    groups = np.array(["m"] * 500)
    first = AnomalyModel(n_estimators=20, random_state=1).fit(X, groups)
    second = AnomalyModel(n_estimators=20, random_state=2).fit(X, groups)
    assert registry.register_anomaly(first, "t1", {"n": 20}, {"rows": 500.0}).alias == "champion"
    assert registry.register_anomaly(second, "t2", {"n": 20}, {"rows": 500.0}).alias == (
        "challenger"
    )
    loaded, ref = registry.champion()
    assert ref.version == "1"  # training a challenger did not disturb scoring
    np.testing.assert_array_equal(loaded.score(X, groups), first.score(X, groups))
    registry.promote("2")
    loaded, ref = registry.champion()
    assert ref.version == "2"
    np.testing.assert_array_equal(loaded.score(X, groups), second.score(X, groups))
    assert {v["version"]: v["aliases"] for v in registry.versions()} == {
        "2": ["champion"],
        "1": [],
    }


def test_models_belong_to_their_lakehouse_and_fleet(tmp_path, monkeypatch):
    """Two fleets: each lakehouse keeps its models inside it, and a store shared on purpose
    (MLFLOW_TRACKING_URI) still never serves one fleet's model to the other."""
    from altaviz.config import load_config
    from altaviz.engines import open_engine
    from altaviz.fleet import SimulationRequest, simulate
    from altaviz.ml.anomaly import AnomalyModel
    from altaviz.pipeline.models import open_registry
    from altaviz.settings import Settings
    from tests.conftest import START

    engines = {}
    for name, seed in (("first", 1), ("other", 2)):
        fleet = tmp_path / name
        simulate(SimulationRequest(output=fleet, compressors=5, days=1, seed=seed, start=START))
        run_lake(fleet, tmp_path / f"lake-{name}", skip_ml=True)
        engines[name] = open_engine("polars", tmp_path / f"lake-{name}", load_config(), Settings())
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    own = {n: open_registry(e, Settings(_env_file=None)) for n, e in engines.items()}
    assert own["first"].uri == f"sqlite:///{tmp_path / 'lake-first' / '_models' / 'mlflow.db'}"
    X = np.random.default_rng(0).normal(1.0, 0.01, size=(300, 3))
    model = AnomalyModel(n_estimators=10, random_state=1).fit(X, np.array(["m"] * 300))
    own["first"].register_anomaly(model, "t", {}, {})
    assert own["first"].champion() is not None and own["other"].champion() is None
    shared = Settings(_env_file=None, mlflow_tracking_uri=f"sqlite:///{tmp_path}/shared.db")
    first, other = (open_registry(engines[n], shared) for n in ("first", "other"))
    first.register_anomaly(model, "t", {}, {})
    assert first.model != other.model and other.champion() is None
    assert first.versions()[0]["version"] == "1" and other.versions() == []


@pytest.mark.parametrize("mode", TRENDING)
def test_models_see_each_trending_failure_before_it_fails(planted_lake, mode):
    """Drift (for rising temperature) or RUL (for the rest) raise their own alert in time."""
    _, lake, fleet = planted_lake
    truth = read_failures(fleet).filter(failure_mode=mode).row(0, named=True)
    alerts = read_table(lake, "alert_history").filter(
        pl.col("compressor_id") == truth["compressor_id"],
        pl.col("alert_type").is_in(["drift", "rul", "anomaly"]),
        pl.col("opened_at").is_between(truth["onset_time"], truth["failure_time"], closed="left"),
    )
    assert alerts.height > 0, f"{mode}: no model alert before {truth['failure_time']}"
    if mode in ("cooling_degradation", "fouling"):
        assert "drift" in set(alerts["alert_type"])
    predictions = read_table(lake, "ml_predictions").filter(
        pl.col("compressor_id") == truth["compressor_id"],
        pl.col("hour") < truth["failure_time"],
        pl.col("rul_hours").is_not_null(),
    )
    assert predictions.height > 0, f"{mode}: never a finite RUL before failing"


def test_healthy_units_get_no_finite_rul_and_no_model_alert(small_lake, small_fleet):
    _, lake = small_lake
    degrading = read_failures(small_fleet).select("compressor_id")
    healthy = read_table(lake, "ml_predictions").join(degrading, on="compressor_id", how="anti")
    assert healthy.height > 1000
    assert healthy.filter(pl.col("rul_hours").is_not_null()).height == 0
    assert healthy.filter(pl.col("drift_level") >= 1).height == 0
    assert healthy["anomaly_score"].drop_nulls().is_between(0, 1).all()


def test_too_little_history_is_labelled_not_raised(small_lake):
    """The first scoring hour has no trend window and no baseline yet: every unit is still
    scored, with the reason in its status."""
    summary, lake = small_lake
    predictions = read_table(lake, "ml_predictions")
    first = predictions.filter(pl.col("hour") == predictions["hour"].min())
    assert first.height > 250
    assert first["status"].str.starts_with("insufficient_data").all()
    assert first["anomaly_score"].null_count() == first.height
    last = predictions.filter(pl.col("hour") == predictions["hour"].max())
    assert (last["status"] == "ok").mean() > 0.9
    assert summary.ml.model_version is not None


def test_emissions_cover_every_hour_operating_or_in_standby(small_lake):
    """Every gold hour (readings under load) has an estimate; so has every hour of standby,
    which gold leaves out (the packing still vents), and no other."""
    _, lake = small_lake
    hourly = read_table(lake, "hourly_aggregates")
    emissions = read_table(lake, "emissions_estimates")
    modes = read_table(lake, "operating_modes").filter(
        (pl.col("operating_hours") > 0) | (pl.col("standby_hours") > 0)
    )
    key = ["compressor_id", "hour"]
    assert hourly.join(emissions, on=key, how="anti").height == 0
    assert emissions.join(modes, on=key, how="anti").height == 0
    assert modes.join(emissions, on=key, how="anti").height == 0
    assert emissions["co2e_t"].min() > 0
    standby_only = emissions.join(hourly, on=key, how="anti")
    assert standby_only.height > 0 and (standby_only["fuel_mmbtu"] == 0).all()


def test_skip_ml_defers_scoring_to_the_next_run(small_fleet, tmp_path):
    lake = tmp_path / "lake"
    skipped = run_lake(small_fleet, lake, skip_ml=True)
    assert skipped.ml.skipped and skipped.ml.pending_dates == 3
    assert read_table(lake, "ml_predictions").height == 0
    caught_up = run_lake(small_fleet, lake)
    assert len(caught_up.ml.dates) == 3
    assert read_table(lake, "ml_predictions").height > 0


def test_train_models_predict_evaluate_commands(small_lake, small_fleet):
    _, lake = small_lake
    lake_opt = ["--lakehouse", str(lake)]
    trained = runner.invoke(app, ["train", *lake_opt, "--json"])
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["alias"] == "challenger"
    listed = runner.invoke(app, ["models", *lake_opt, "--json"])
    aliases = [a for v in json.loads(listed.stdout) for a in v["aliases"]]
    assert "champion" in aliases and "challenger" in aliases

    predicted = runner.invoke(app, ["predict", *lake_opt, "--json"])
    assert predicted.exit_code == 0, predicted.output
    scored = json.loads(predicted.stdout)
    assert scored["units_scored"] > 250 and scored["units_at_risk"] >= 1
    risky = scored["at_risk"][0]
    assert risky["compressor_id"] in set(read_failures(small_fleet)["compressor_id"])

    evaluated = runner.invoke(app, ["evaluate", "--source", str(small_fleet), *lake_opt, "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.stdout)
    assert {"overall", "per_mode", "by_source", "drift", "rul"} <= result.keys()
    assert result["overall"]["healthy_units_flagged_share"] <= 0.01

    stations = runner.invoke(app, ["emissions", *lake_opt, "--json"])
    assert stations.exit_code == 0, stations.output
    totals = json.loads(stations.stdout)
    emissions = read_table(lake, "emissions_estimates")
    assert sum(r["co2e_t"] for r in totals) == pytest.approx(emissions["co2e_t"].sum())
    assert {"station_id", "annualised_co2e_t"} <= totals[0].keys()
    assert "over_reporting_threshold" not in totals[0]  # the facility is the basin
    basins = runner.invoke(app, ["emissions", *lake_opt, "--by", "basin", "--json"])
    assert basins.exit_code == 0, basins.output
    assert "over_reporting_threshold" in json.loads(basins.stdout)[0]

    for args, message in (
        (["emissions", *lake_opt, "--by", "city"], "choose unit, station or basin"),
        (["emissions", *lake_opt, "--since", "2099-01-01"], "no emissions estimates"),
        (["predict", *lake_opt, "--date", "1999-01-01"], "no gold hourly rows"),
        (["predict", *lake_opt, "--date", "yesterday"], "is not a date"),
        (["evaluate", "--source", str(lake), *lake_opt], "not a simulator output"),
    ):
        bad = runner.invoke(app, args)
        assert bad.exit_code == 2, (args, bad.output)
        assert message in bad.stderr


def test_a_fleet_starting_mid_day_is_scored(tmp_path):
    """Like `make run`, whose data starts N days before now: scoring hours of the first
    day fall before the first reading."""
    from datetime import UTC, datetime

    from altaviz.fleet import SimulationRequest, simulate

    fleet = tmp_path / "fleet"
    start = datetime(2026, 4, 1, 15, 35, tzinfo=UTC)
    simulate(SimulationRequest(output=fleet, compressors=60, days=2, seed=3, start=start))
    summary = run_lake(fleet, tmp_path / "lake", mlflow=tmp_path / "mlruns")
    assert summary.status == "success"
    predictions = read_table(tmp_path / "lake", "ml_predictions")
    assert predictions.height > 0
    assert predictions["hour"].min() >= start.replace(minute=0)
