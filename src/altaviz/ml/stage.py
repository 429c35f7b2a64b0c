"""The ML stage: features into the feature store, the four models over the whole fleet,
their predictions, alerts and emissions into the lakehouse, runs into MLflow.

Date by date, like gold: for each scored date the stage reads the date's gold hourly rows
plus ``features.history_hours`` before it, and scores every unit every
``features.score_every_hours``. Each table's rows for the date are replaced as a whole (model
alerts by their own types), so a rerun changes nothing and a rebuilt gold date is re-scored.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import narwhals as nw
import numpy as np

from altaviz.config import AppConfig
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.lake.queries import carried_alerts
from altaviz.ml import anomaly as anomaly_model
from altaviz.ml.drift import LAGS as DRIFT_LAGS
from altaviz.ml.drift import SERIES as DRIFT_SERIES
from altaviz.ml.drift import temperature_drift
from altaviz.ml.emissions import hourly_emissions
from altaviz.ml.features import MODEL_FEATURES, hourly_features, psi
from altaviz.ml.registry import ModelRef, Registry
from altaviz.ml.rul import remaining_useful_life
from altaviz.ml.trends import robust_trends
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms.days import dates_between, day_bounds
from altaviz.transforms.frames import local
from altaviz.transforms.limits import unit_limits

log = logging.getLogger("altaviz.ml")

PSI_DRIFTED = 0.25
KEYS = ["compressor_id", "hour"]


class MlError(RuntimeError):
    """The ML stage cannot run; the message says why in one line."""


@dataclass
class MlSummary:
    dates: list[date] = field(default_factory=list)
    model_version: str | None = None
    trained: ModelRef | None = None
    predictions: int = 0
    anomalies: int = 0
    units_at_risk: int = 0
    alerts_opened: int = 0
    alerts_resolved: int = 0
    emissions_rows: int = 0
    drifted_features: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Fleet:
    """What every scored date needs about the fleet, read once."""

    units: nw.DataFrame[Any]
    limits: nw.DataFrame[Any]
    baselines: nw.DataFrame[Any]
    checks: nw.DataFrame[Any]  # packing measurements: compressor_id, checked_at

    @classmethod
    def read(cls, engine: Engine, cfg: AppConfig) -> _Fleet:
        units = (
            engine.read(lake.COMPRESSOR_METADATA)
            .select("compressor_id", "model", "station_id", "region", "basin", "cylinders")
            .collect("polars")
        )
        baselines = engine.read(lake.UNIT_BASELINES).collect("polars")
        checks = (
            engine.read(lake.MAINTENANCE_EVENTS)
            .filter(~nw.col("completed_at").is_null())
            .select("compressor_id", nw.col("completed_at").alias("checked_at"))
            .collect("polars")
        )
        return cls(units, unit_limits(units, baselines, cfg.thresholds), baselines, checks)


def run_ml(
    engine: Engine,
    cfg: AppConfig,
    registry: Registry,
    days: list[date],
    run_id: str,
    say: Callable[[str], None] | None = None,
) -> MlSummary:
    """Score ``days`` (gold dates) in order; trains a first anomaly model when none is
    registered and the feature store holds enough healthy history."""
    summary = MlSummary(dates=sorted(days))
    if not days:
        return summary
    say = say or (lambda _m: None)
    fleet = _Fleet.read(engine, cfg)
    say("features")
    features_of: dict[date, nw.DataFrame[Any]] = {}  # computed once, scored and monitored
    for day in summary.dates:
        hourly = _hourly(engine, day, timedelta(0))
        features_of[day] = hourly_features(hourly, fleet.baselines, cfg.models.features.feature_set)
        engine.replace(lake.FEATURE_STORE, features_of[day], {"date": [day]})
    champion = registry.champion()
    if champion is None:
        try:
            summary.trained = train(engine, cfg, registry, run_id)
            champion = registry.champion()
        except MlError as exc:
            summary.notes.append(f"anomaly model not trained yet: {exc}")
    if champion is not None:
        summary.model_version = champion[1].version
    say("models")
    latest: nw.DataFrame[Any] | None = None
    for day in summary.dates:
        hourly = _hourly(engine, day, timedelta(hours=cfg.models.features.history_hours))
        features = features_of.pop(day)
        predictions, opened, resolved = _score_day(
            engine, cfg, fleet, day, hourly, features, champion, run_id
        )
        start, _ = day_bounds(day)
        today = hourly.filter(nw.col("hour") >= start)
        summary.emissions_rows += _emissions_day(engine, cfg, fleet, day, today)
        if champion is not None:
            summary.drifted_features = _feature_drift(engine, champion, day, features, run_id)
        if predictions.shape[0]:  # else no unit reported at a scoring hour of the date
            summary.predictions += predictions.shape[0]
            summary.anomalies += int((predictions.get_column("anomaly_level") >= 1).sum())
            summary.alerts_opened += opened
            summary.alerts_resolved += resolved
            latest = predictions
    if latest is not None and latest.shape[0]:
        last = latest.filter(nw.col("hour") == latest.get_column("hour").max())
        at_risk = last.filter(
            nw.max_horizontal(
                nw.col("anomaly_level").fill_null(0),
                nw.col("drift_level").fill_null(0),
                nw.col("rul_level").fill_null(0),
            )
            >= 1
        )
        summary.units_at_risk = at_risk.shape[0]
    _log_runs(engine, registry, summary, run_id, cfg)
    return summary


# ---------------------------------------------------------------------------- training


def training_features(engine: Engine, start: datetime, end: datetime) -> nw.DataFrame[Any]:
    """Feature rows with ``start <= hour < end`` that were knowable then: only hours after the
    unit's baseline had been established (point-in-time correct)."""
    known_from = (
        engine.read(lake.UNIT_BASELINES)
        .group_by("compressor_id")
        .agg(nw.col("established_to").max().alias("_known_from"))
        .collect("polars")
    )
    rows = engine.read(
        lake.FEATURE_STORE, (nw.col("hour") >= start) & (nw.col("hour") < end)
    ).collect("polars")
    return rows.join(known_from, on="compressor_id", how="inner").filter(
        nw.col("hour") >= nw.col("_known_from")
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
    ref = registry.register_anomaly(model, f"train-{run_id}", params, metrics, promote)
    _record_metrics(engine, run_id, "anomaly_training", metrics)
    return ref


# ---------------------------------------------------------------------------- scoring


def _hourly(engine: Engine, day: date, history: timedelta) -> nw.DataFrame[Any]:
    start, end = day_bounds(day)
    first = start - history
    return (
        engine.read(lake.HOURLY_AGGREGATES, nw.col("date").is_in(dates_between(first.date(), day)))
        .filter((nw.col("hour") >= first) & (nw.col("hour") < end))
        .collect("polars")
        .sort("compressor_id", "hour")
    )


def scoring_hours(day: date, every_hours: int) -> list[datetime]:
    """The hours of ``day`` at which every unit is scored: the last hour of each
    ``every_hours`` block (its data is complete at the block's end).

    >>> [h.hour for h in scoring_hours(date(2026, 1, 1), 6)]
    [5, 11, 17, 23]
    """
    start, _ = day_bounds(day)
    return [start + timedelta(hours=h) for h in range(every_hours - 1, 24, every_hours)]


def _score_day(
    engine: Engine,
    cfg: AppConfig,
    fleet: _Fleet,
    day: date,
    hourly: nw.DataFrame[Any],
    features: nw.DataFrame[Any],
    champion: tuple[Any, ModelRef] | None,
    run_id: str,
) -> tuple[nw.DataFrame[Any], int, int]:
    """Predictions of every model for ``day`` from its gold hourly rows (with the history
    before them) and its features; writes them and the day's model alerts."""
    models = cfg.models
    at = scoring_hours(day, models.features.score_every_hours)
    grid = (
        hourly.filter(nw.col("hour").is_in(at))
        .select("compressor_id", "hour", "date")
        .with_columns(nw.lit(day).alias("date"))
    )
    if not grid.shape[0]:
        return grid, 0, 0
    anomalies = _anomaly_scores(cfg, fleet, hourly, features, day, champion)
    drift_trends = robust_trends(
        hourly,
        DRIFT_SERIES,
        at,
        timedelta(hours=models.drift.window_hours),
        models.drift.min_hours,
        lags=DRIFT_LAGS,
    )
    # Temperature swings with the day: RUL reads it through its 24-hour mean, as drift does.
    rul_series = {s: DRIFT_SERIES.get(s, f"{s}_mean") for s in models.rul.sensors}
    # RUL projects up to weeks ahead, so it also waits for a first full day; drift, whose
    # horizon is three days and which must see a unit already hot on its first day, does not.
    smoothed = _complete_daily_means(hourly, fleet.baselines, DRIFT_SERIES.values())
    rul_trends = robust_trends(
        smoothed,
        rul_series,
        at,
        timedelta(hours=models.rul.window_hours),
        models.rul.min_hours,
        lags={s: DRIFT_LAGS[s] for s in rul_series if s in DRIFT_LAGS},
    )
    drift = temperature_drift(drift_trends, fleet.limits, models.drift).rename({"at": "hour"})
    rul = remaining_useful_life(rul_trends, fleet.limits, models.rul).rename({"at": "hour"})
    version = champion[1].version if champion is not None else None
    predictions = (
        grid.join(anomalies, on=KEYS, how="left")
        .join(drift, on=KEYS, how="left")
        .join(rul, on=KEYS, how="left")
        .with_columns(
            nw.lit(run_id).alias("run_id"),
            nw.lit(version).cast(nw.String).alias("anomaly_model_version"),
            _status(champion is not None).alias("status"),
        )
        .sort("compressor_id", "hour")
    )
    engine.replace(lake.ML_PREDICTIONS, predictions, {"date": [day]})
    opened, resolved = _model_alerts(engine, cfg, fleet, predictions, day)
    log.info("ml %s: %d predictions, %d model alerts opened", day, predictions.shape[0], opened)
    return predictions, opened, resolved


def _complete_daily_means(
    hourly: nw.DataFrame[Any], baselines: nw.DataFrame[Any], columns: Iterable[str]
) -> nw.DataFrame[Any]:
    """``hourly`` with trailing 24-hour means nulled where fewer than 24 hours of the unit's
    data stood behind them (its first day, from when its baseline was first learned): a mean
    over a part of a day still swings with the ambient temperature."""
    began = baselines.group_by("compressor_id").agg(
        nw.col("established_from").min().alias("_began")
    )
    partial = (nw.col("hour") < nw.col("_began") + timedelta(hours=23)).fill_null(False)
    return (
        hourly.join(began, on="compressor_id", how="left")
        .with_columns(nw.when(~partial).then(nw.col(c)).alias(c) for c in columns)
        .drop("_began")
    )


def _status(has_model: bool) -> nw.Expr:
    missing = [
        (nw.col("drift_level").is_null(), "too few hours for a temperature trend"),
        (nw.col("rul_failure_probability").is_null(), "too few hours for degradation trends"),
    ]
    if has_model:
        missing.insert(0, (nw.col("anomaly_score").is_null(), "no baseline or features yet"))
    else:
        missing.insert(0, (nw.lit(True), "no anomaly model registered yet"))
    expr: Any = nw.when(missing[0][0]).then(nw.lit(f"insufficient_data: {missing[0][1]}"))
    for condition, why in missing[1:]:
        expr = expr.when(condition).then(nw.lit(f"insufficient_data: {why}"))
    return expr.otherwise(nw.lit("ok"))


def _anomaly_scores(
    cfg: AppConfig,
    fleet: _Fleet,
    hourly: nw.DataFrame[Any],
    today: nw.DataFrame[Any],
    day: date,
    champion: tuple[Any, ModelRef] | None,
) -> nw.DataFrame[Any]:
    """Per (compressor_id, hour) of the day: calibrated score, level (the score held by every
    one of the last ``persist_hours`` hours) and, for anomalous hours, the top sensors.

    ``today``: the day's features; the hours before it that a level looks back on are
    computed from ``hourly``."""
    rules = cfg.models.anomaly
    start, _ = day_bounds(day)
    columns = {
        "compressor_id": nw.String,
        "hour": nw.Datetime("us", "UTC"),
        "anomaly_score": nw.Float64,
        "anomaly_level": nw.Int32,
        "anomaly_top_sensors": nw.String,
    }
    if champion is None:
        return hourly.select(
            "compressor_id",
            "hour",
            *(nw.lit(None).cast(t).alias(c) for c, t in columns.items() if c not in KEYS),
        )
    model = champion[0]
    tail = hourly.filter(
        (nw.col("hour") >= start - timedelta(hours=rules.persist_hours - 1))
        & (nw.col("hour") < start)
    )
    before = hourly_features(tail, fleet.baselines, cfg.models.features.feature_set)
    features = nw.concat([before, today]).sort("compressor_id", "hour")
    X, groups = anomaly_model.feature_matrix(features)
    scores = model.score(X, groups)
    scored = (
        features.select("compressor_id", "hour")
        .with_columns(
            nw.new_series("anomaly_score", scores, nw.Float64, backend=features.implementation)
        )
        .with_columns(nw.col("anomaly_score").fill_nan(None))
    )  # not scored: null, never NaN
    n = rules.persist_hours
    score = nw.col("anomaly_score").fill_null(0.0)

    def held(threshold: float) -> nw.Expr:
        """Every one of the unit's last ``n`` hours at or above ``threshold``."""
        return (score >= threshold).cast(nw.Int32).rolling_sum(n, min_samples=n) == n

    # Sorted by unit and hour; a window reaching into the previous unit is cut by `same`.
    same = (nw.col("compressor_id") == nw.col("compressor_id").shift(n - 1)).fill_null(False)
    level = (
        nw.when(same & held(rules.critical_score).fill_null(False))
        .then(nw.lit(2))
        .when(same & held(rules.warning_score).fill_null(False))
        .then(nw.lit(1))
        .when(~nw.col("anomaly_score").is_null())
        .then(nw.lit(0))
        .cast(nw.Int32)
    )
    judged = (
        scored.sort("compressor_id", "hour")
        .with_columns(level.alias("anomaly_level"))
        .filter(nw.col("hour") >= start)
    )
    flagged = (judged.get_column("anomaly_level") >= 1).fill_null(False).to_numpy()
    sensors = np.full(len(flagged), None, dtype=object)
    in_day = (features.get_column("hour") >= start).to_numpy()
    if flagged.any():  # only the few anomalous rows get their sensors named
        rows = np.flatnonzero(in_day)[flagged]
        sensors[flagged] = anomaly_model.top_sensors(
            model, X[rows], groups[rows], rules.top_sensors
        )
    return judged.select("compressor_id", "hour", "anomaly_score", "anomaly_level").with_columns(
        nw.new_series(
            "anomaly_top_sensors", sensors.tolist(), nw.String, backend=judged.implementation
        )
    )


def _model_alerts(
    engine: Engine,
    cfg: AppConfig,
    fleet: _Fleet,
    predictions: nw.DataFrame[Any],
    day: date,
) -> tuple[int, int]:
    """Alert episodes from the models' levels, with the gold alerts' life cycle."""
    models = cfg.models
    rules = cfg.thresholds.alerts
    start, end = day_bounds(day)
    to_limit = nw.min_horizontal(
        nw.col("drift_hours_to_warning"), nw.col("drift_hours_to_critical")
    )
    evaluations = nw.concat(
        [
            _judged(
                predictions,
                "anomaly",
                "anomaly",
                nw.col("anomaly_score"),
                models.anomaly.warning_score,
            ),
            _judged(
                predictions,
                "temperature_drift",
                "drift",
                to_limit,
                models.drift.warning_within_hours,
            ),
            _judged(predictions, "rul", "rul", nw.col("rul_hours"), models.rul.warning_below_hours),
        ]
    ).filter(~nw.col("level").is_null())
    # Only pairs that were abnormal today, or carry an open alert, can open or close one.
    carried = local(carried_alerts(engine, start, alert_rules.MODEL_TYPES))
    pairs = nw.concat(
        [
            evaluations.filter(nw.col("level") >= 1).select(*alert_rules.PAIR),
            carried.select(*alert_rules.PAIR),
        ]
    ).unique()
    evaluations = evaluations.join(pairs, on=list(alert_rules.PAIR), how="inner")
    alerts = alert_rules.alert_episodes(evaluations, carried, fleet.units, rules, day)
    new = alerts.filter((nw.col("opened_at") >= start) & (nw.col("opened_at") < end))
    engine.replace(lake.ALERT_HISTORY, new, {"date": [day], "alert_type": alert_rules.MODEL_TYPES})
    earlier = alerts.filter(nw.col("opened_at") < start)
    if earlier.shape[0]:
        engine.merge(lake.ALERT_HISTORY, earlier)
    resolved_at = nw.col("resolved_at")
    resolved = alerts.filter(~resolved_at.is_null() & (resolved_at >= start) & (resolved_at < end))
    return new.shape[0], resolved.shape[0]


def _judged(
    predictions: nw.DataFrame[Any], sensor: str, kind: str, value: nw.Expr, limit: float
) -> nw.DataFrame[Any]:
    """One model's predictions as evaluations for :func:`alert_episodes`: its level and
    value, stamped at the end of the scored hour (when they are known)."""
    return predictions.select(
        "compressor_id",
        nw.lit(sensor).alias("sensor"),
        (nw.col("hour") + timedelta(hours=1)).alias("timestamp"),
        value.alias("value"),
        nw.col(f"{kind}_level").alias("level"),
        nw.lit(limit).alias("limit_value"),
        nw.lit(kind).alias("alert_type"),
    )


def _emissions_day(
    engine: Engine, cfg: AppConfig, fleet: _Fleet, day: date, hourly: nw.DataFrame[Any]
) -> int:
    if not hourly.shape[0]:
        return 0
    hours = hourly.select("compressor_id", "hour").sort("hour")
    with warnings.catch_warnings():  # Polars cannot verify sortedness within `by` groups
        warnings.simplefilter("ignore", UserWarning)
        checks = hours.join_asof(
            fleet.checks.sort("checked_at"),
            left_on="hour",
            right_on="checked_at",
            by="compressor_id",
            strategy="backward",
        )
    readings_per_hour = 60 // cfg.fleet.telemetry.interval_minutes
    rows = hourly_emissions(hourly, fleet.units, checks, cfg.models.emissions, readings_per_hour)
    engine.replace(lake.EMISSIONS_ESTIMATES, rows, {"date": [day]})
    return rows.shape[0]


def _feature_drift(
    engine: Engine,
    champion: tuple[Any, ModelRef],
    day: date,
    today: nw.DataFrame[Any],
    run_id: str,
) -> list[str]:
    """PSI and KS of each model feature on ``day`` against the champion's training sample;
    returns the features that drifted."""
    from scipy.stats import ks_2samp

    model, ref = champion
    X, _ = anomaly_model.feature_matrix(today)
    rows = {"date": [], "feature": [], "run_id": [], "model_version": [], "psi": [], "ks": []}
    for j, name in enumerate(MODEL_FEATURES):
        expected, actual = model.reference_[:, j], X[:, j]
        actual = actual[np.isfinite(actual)]
        expected = expected[np.isfinite(expected)]
        ks = float(ks_2samp(expected, actual).statistic) if actual.size and expected.size else None
        for key, value in (
            ("date", day),
            ("feature", name),
            ("run_id", run_id),
            ("model_version", ref.version),
            ("psi", psi(expected, actual)),
            ("ks", ks),
        ):
            rows[key].append(value)
    rows["drifted"] = [p == p and p > PSI_DRIFTED for p in rows["psi"]]
    engine.merge(lake.FEATURE_DRIFT, engine.frame(lake.FEATURE_DRIFT, rows))
    return [f for f, d in zip(rows["feature"], rows["drifted"], strict=True) if d]


def _record_metrics(engine: Engine, run_id: str, model: str, metrics: dict[str, float]) -> None:
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


def _log_runs(
    engine: Engine, registry: Registry, summary: MlSummary, run_id: str, cfg: AppConfig
) -> None:
    """One scoring run per model in MLflow and in ``model_metrics``."""
    scored = {
        "dates": float(len(summary.dates)),
        "predictions": float(summary.predictions),
        "units_at_risk": float(summary.units_at_risk),
        "alerts_opened": float(summary.alerts_opened),
    }
    per_model = {
        "anomaly": (
            {"model_version": summary.model_version or "none"},
            {**scored, "anomalous_predictions": float(summary.anomalies)},
        ),
        "drift": (cfg.models.drift.model_dump(), scored),
        "rul": ({**cfg.models.rul.model_dump(exclude={"sensors"})}, scored),
        "emissions": (cfg.models.emissions.model_dump(), {"rows": float(summary.emissions_rows)}),
    }
    for model, (params, metrics) in per_model.items():
        registry.log_run(model, f"score-{run_id}", params, metrics)
        _record_metrics(engine, run_id, model, metrics)
