"""Training the anomaly model from the feature store, and the model metrics table."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import narwhals as nw

from altaviz.config import AppConfig
from altaviz.core.errors import DataError
from altaviz.core.features import MODEL_FEATURES
from altaviz.engines import Engine, ensure_writable
from altaviz.lake import catalog as lake
from altaviz.ml import anomaly as anomaly_model
from altaviz.ml.registry import ModelRef, Registry


class MlError(DataError):
    """The ML stage cannot run; the message says why in one line."""


def training_features(engine: Engine, start: datetime, end: datetime) -> nw.DataFrame[Any]:
    """Feature rows with ``start <= hour < end`` that were knowable then: only hours after the
    unit's baseline had been established (point-in-time correct)."""
    known_from = (
        engine.read_local(lake.UNIT_BASELINES)
        .group_by("compressor_id")
        .agg(nw.col("established_to").min().alias("_known_from"))
    )
    rows = engine.read_local(lake.FEATURE_STORE, (nw.col("hour") >= start) & (nw.col("hour") < end))
    # In one order whichever engine read them: the model's fit depends on it.
    return (
        rows.join(known_from, on="compressor_id", how="inner")
        .filter(nw.col("hour") >= nw.col("_known_from"))
        .sort("date", "compressor_id", "hour")
    )


def train(
    engine: Engine,
    cfg: AppConfig,
    registry: Registry,
    run_id: str,
    until: datetime | None = None,
    promote: bool = False,
) -> ModelRef:
    """Train an anomaly model on ``anomaly.training_days`` of feature history - the first
    days on record, or the days before ``until`` - and register it (champion if there is
    none or ``promote``, else challenger)."""
    ensure_writable(engine)
    rules = cfg.models.anomaly
    first = engine.read(lake.FEATURE_STORE).select(nw.col("hour").min()).collect("polars").item()
    if first is None:
        raise MlError("the feature store is empty (run the pipeline first)")
    window = timedelta(days=rules.training_days)
    end = until if until is not None else first + window
    start = end - window if until is not None else first
    features = training_features(engine, start, end)
    try:
        model = anomaly_model.train_anomaly_model(features, rules)
    except ValueError as exc:
        raise MlError(str(exc)) from exc
    params = {
        "n_estimators": rules.n_estimators,
        "max_samples": rules.max_samples,
        "random_state": rules.random_state,
        "healthy_max_robust_z": rules.healthy_max_robust_z,
        "features": ",".join(MODEL_FEATURES),
        "training_from": start.isoformat(),
        "training_to": end.isoformat(),
    }
    metrics = {
        "training_rows": float(model.n_training_rows_),
        "candidate_rows": float(features.shape[0]),
        "healthy_share": model.n_training_rows_ / max(features.shape[0], 1),
        "compressor_models": float(len(model.scaler_.stats_)),
    }
    note = anomaly_model.confidence_note(model, rules)
    params["confidence"] = "reduced" if note else "full"
    ref = registry.register_anomaly(model, f"train-{run_id}", params, metrics, promote)
    record_metrics(engine, run_id, "anomaly_training", metrics)
    return dataclasses.replace(ref, note=note)


def record_metrics(engine: Engine, run_id: str, model: str, metrics: dict[str, float]) -> None:
    now = datetime.now(UTC)
    names = sorted(metrics)
    engine.merge(
        lake.MODEL_METRICS,
        engine.frame(
            lake.MODEL_METRICS,
            {
                "run_id": [run_id] * len(names),
                "model": [model] * len(names),
                "metric": names,
                "value": [float(metrics[n]) for n in names],
                "recorded_at": [now] * len(names),
            },
        ),
    )
