"""The anomaly model: calibration, per-model normalisation, healthy history by rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import narwhals as nw
import numpy as np
import polars as pl
import pytest

from altaviz.config import load_config
from altaviz.core.features import MODEL_FEATURES
from altaviz.ml.anomaly import (
    AnomalyModel,
    feature_matrix,
    healthy_rows,
    top_sensors,
    train_anomaly_model,
)
from altaviz.ml.features import psi


def fleet_features(n_units: int = 60, hours: int = 60, seed: int = 0) -> pl.DataFrame:
    """Healthy ratio features: "small" units run at 1.0 of their baseline, "big" ones - say
    a model whose healthy hours sit above its first-day median - at 1.1."""
    rng = np.random.default_rng(seed)
    rows = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for u in range(n_units):
        model = "big" if u % 2 else "small"
        center = 1.1 if model == "big" else 1.0
        for h in range(hours):
            values = rng.normal(center, 0.01, len(MODEL_FEATURES))
            rows.append(
                {
                    "compressor_id": f"COMP-{u:04d}",
                    "hour": start + timedelta(hours=h),
                    "model": model,
                    "worst_status": "normal",
                    **dict(zip(MODEL_FEATURES, values, strict=True)),
                }
            )
    return pl.DataFrame(rows)


def test_scores_are_calibrated_to_healthy_history():
    frame = nw.from_native(fleet_features())
    rules = load_config().models.anomaly.model_copy(update={"min_training_hours": 100})
    model = train_anomaly_model(frame, rules)
    X, groups = feature_matrix(frame)
    scores = model.score(X, groups)
    assert np.nanmin(scores) >= 0.0 and np.nanmax(scores) <= 1.0
    # On its own healthy history the calibrated score is ~uniform: 0.5% above 0.995.
    assert np.mean(scores >= rules.warning_score) == pytest.approx(0.005, abs=0.004)


def test_a_model_is_not_anomalous_for_being_its_model():
    frame = nw.from_native(fleet_features())
    model = AnomalyModel(n_estimators=50, random_state=0).fit(*feature_matrix(frame))
    # 1.1 everywhere: typical of a "big" unit, 10 sigma out for a "small" one.
    row = np.full((1, len(MODEL_FEATURES)), 1.1)
    big = model.score(row, np.array(["big"]))[0]
    small = model.score(row, np.array(["small"]))[0]
    assert small > 0.999
    assert big < 0.9


def test_missing_features_are_not_scored():
    frame = nw.from_native(fleet_features(n_units=10, hours=30))
    model = AnomalyModel(n_estimators=20).fit(*feature_matrix(frame))
    row = np.full((1, len(MODEL_FEATURES)), 1.0)
    row[0, 0] = np.nan
    assert np.isnan(model.score(row, np.array(["big"]))[0])


def test_healthy_history_is_chosen_by_rules_not_ids():
    base = fleet_features(n_units=20, hours=30)
    sick = base.with_columns(
        pl.when(pl.col("compressor_id") == "COMP-0003")
        .then(pl.lit(1.8))
        .otherwise(pl.col("vibration_ratio"))
        .alias("vibration_ratio"),
        pl.when(pl.col("compressor_id") == "COMP-0004")
        .then(pl.lit("critical"))
        .otherwise(pl.col("worst_status"))
        .alias("worst_status"),
    )
    rules = load_config().models.anomaly
    kept = set(healthy_rows(nw.from_native(sick), rules).get_column("compressor_id").to_list())
    assert "COMP-0003" not in kept  # far from its model's centre
    assert "COMP-0004" not in kept  # gold status not normal
    assert len(kept) == 18


def test_too_little_healthy_history_is_a_clear_error():
    frame = nw.from_native(fleet_features(n_units=2, hours=10))
    with pytest.raises(ValueError, match="healthy feature hours"):
        train_anomaly_model(frame, load_config().models.anomaly)


def test_top_sensors_name_the_deviating_sensor_first():
    frame = nw.from_native(fleet_features())
    model = AnomalyModel(n_estimators=20).fit(*feature_matrix(frame))
    row = np.full((1, len(MODEL_FEATURES)), 1.0)
    row[0, MODEL_FEATURES.index("gas_flow_ratio")] = 0.7
    assert top_sensors(model, row, np.array(["small"]), 2)[0].startswith("gas_flow_mcf,")


def test_psi_separates_stable_from_shifted():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=20_000)
    assert psi(reference, rng.normal(size=5_000)) < 0.1
    assert psi(reference, rng.normal(0.8, 1.0, size=5_000)) > 0.25
