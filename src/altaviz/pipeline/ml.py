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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import narwhals as nw
import numpy as np

from altaviz.config import AppConfig
from altaviz.config.schema import ThresholdsConfig, TrendFitRules
from altaviz.core.days import dates_between, day_bounds
from altaviz.core.errors import NotFoundError
from altaviz.core.features import MODEL_FEATURES
from altaviz.core.frames import local
from altaviz.core.results import MlResult
from altaviz.engines import Engine, ensure_writable
from altaviz.lake import catalog as lake
from altaviz.ml import anomaly as anomaly_model
from altaviz.ml.drift import LAGS as DRIFT_LAGS
from altaviz.ml.drift import SERIES as DRIFT_SERIES
from altaviz.ml.drift import temperature_drift
from altaviz.ml.emissions import hourly_emissions, over_limit, packing_leak
from altaviz.ml.features import hourly_features, psi
from altaviz.ml.registry import ModelRef, Registry
from altaviz.ml.rul import remaining_useful_life
from altaviz.ml.scoring import (
    KEYS,
    anomaly_scores,
    at_risk,
    complete_daily_means,
    model_evaluation,
    prediction_status,
    risk_level,
    scoring_hours,
)
from altaviz.ml.trends import robust_trends
from altaviz.pipeline.alert_store import carried_alerts, write_alerts
from altaviz.pipeline.training import MlError, record_metrics, train
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms.limits import unit_limits
from altaviz.transforms.repairs import (
    current_baselines,
    reference_baselines,
    repairs_from,
    since_last_repair,
)

log = logging.getLogger("altaviz.ml")

PSI_DRIFTED = 0.25


@dataclass(frozen=True)
class _Fleet:
    """What every scored date needs about the fleet, read once."""

    units: nw.DataFrame[Any]
    known: nw.DataFrame[Any]  # every baseline on record
    checks: nw.DataFrame[Any]  # packing measurements and replacements: compressor_id, checked_at
    repairs: nw.DataFrame[Any]  # finished repairs: compressor_id, repaired_at
    thresholds: ThresholdsConfig
    baselines: nw.DataFrame[Any] | None = None  # as of one date (see `on`)
    limits: nw.DataFrame[Any] | None = None

    @classmethod
    def read(cls, engine: Engine, cfg: AppConfig) -> _Fleet:
        units = (
            engine.read(lake.COMPRESSOR_METADATA)
            .select("compressor_id", "model", "station_id", "region", "basin", "cylinders")
            .collect("polars")
        )
        maintenance = engine.read(lake.MAINTENANCE_EVENTS).collect("polars")
        checks = (
            engine.read(lake.PACKING_MEASUREMENTS)
            .select("compressor_id", nw.col("measured_at").alias("checked_at"))
            .unique()
            .collect("polars")
        )
        known = engine.read(lake.UNIT_BASELINES).collect("polars")
        return cls(units, known, checks, repairs_from(maintenance), cfg.thresholds)

    def on(self, day: date) -> _Fleet:
        """The fleet as ``day`` is scored: a baseline learned before a repair that finished
        by the day's end no longer describes its unit (the hours of the day before the
        repair are mostly the unit's downtime)."""
        baselines = current_baselines(self.known, self.repairs, day_bounds(day)[1])
        limits = unit_limits(self.units, baselines, self.thresholds)
        return replace(self, baselines=baselines, limits=limits)


def run_ml(
    engine: Engine,
    cfg: AppConfig,
    registry: Registry,
    days: list[date],
    run_id: str,
    say: Callable[[str], None] | None = None,
) -> MlResult:
    """Score ``days`` (gold dates) in order; trains a first anomaly model when none is
    registered and the feature store holds enough healthy history."""
    summary = MlResult(dates=sorted(days))
    if not days:
        return summary
    say = say or (lambda _m: None)
    fleet = _Fleet.read(engine, cfg)
    say("features")
    features_of: dict[date, nw.DataFrame[Any]] = {}  # computed once, scored and monitored
    for day in summary.dates:
        hourly = _hourly(engine, day, timedelta(0))
        baselines = fleet.on(day).baselines
        features_of[day] = hourly_features(hourly, baselines, cfg.models.features.feature_set)
        engine.replace(lake.FEATURE_STORE, features_of[day], {"date": [day]})
    champion = registry.champion()
    if champion is None:
        try:
            trained = train(engine, cfg, registry, run_id)
            summary.trained_version = trained.version
            if trained.note:
                summary.notes.append(f"{trained.name} v{trained.version}: {trained.note}")
            champion = registry.champion()
        except MlError as exc:
            summary.notes.append(f"anomaly model not trained yet: {exc}")
    if champion is not None:
        summary.model_version = champion[1].version
        summary.model_name = champion[1].name
    latest: nw.DataFrame[Any] | None = None
    for n, day in enumerate(summary.dates, start=1):
        say(f"models: {day} ({n} of {len(summary.dates)})")
        hourly = _hourly(engine, day, timedelta(hours=cfg.models.features.history_hours))
        features = features_of.pop(day)
        predictions, opened, resolved = _score_day(
            engine, cfg, fleet.on(day), day, hourly, features, champion, run_id
        )
        summary.emissions_rows += _emissions_day(engine, cfg, fleet, day, hourly)
        if champion is not None:
            summary.drifted_features = _feature_drift(engine, champion, day, features, run_id)
        if predictions.shape[0]:  # else no unit reported at a scoring hour of the date
            summary.predictions += predictions.shape[0]
            summary.anomalous_predictions += int(
                (predictions.get_column("anomaly_level") >= 1).sum()
            )
            summary.alerts_opened += opened
            summary.alerts_resolved += resolved
            latest = predictions
    restated = _restated_days(engine, cfg, fleet, summary.dates)
    for n, day in enumerate(restated, start=1):
        say(f"emissions restated: {day} ({n} of {len(restated)})")
        hourly = _hourly(engine, day, timedelta(hours=cfg.models.features.history_hours))
        _emissions_day(engine, cfg, fleet, day, hourly)
    if restated:
        summary.notes.append(
            f"emissions of {len(restated)} earlier day(s) restated against bands learned "
            "after repairs"
        )
    if latest is not None and latest.shape[0]:
        last = latest.filter(nw.col("hour") == latest.get_column("hour").max())
        summary.units_at_risk = last.filter(at_risk()).shape[0]
    _log_runs(engine, registry, summary, run_id, cfg)
    return summary


def _restated_days(engine: Engine, cfg: AppConfig, fleet: _Fleet, scored: list[date]) -> list[date]:
    """Earlier days whose emissions a repair finished on a scored day (or the day before,
    whose band is learned with the next) may change: a worn packing's loss is measured
    against the band learned after its repair (see ``reference_baselines``)."""
    if not scored:
        return []
    first, last = min(scored) - timedelta(days=1), max(scored)
    repaired = {
        moment.date()
        for moment in fleet.repairs.get_column("repaired_at").to_list()
        if first <= moment.date() <= last
    }
    back = cfg.models.emissions.restate_days
    known = engine.partition_values(lake.EMISSIONS_ESTIMATES)
    days = {r - timedelta(days=k) for r in repaired for k in range(1, back + 1)}
    return sorted((days & known) - set(scored))


def _hourly(engine: Engine, day: date, history: timedelta) -> nw.DataFrame[Any]:
    start, end = day_bounds(day)
    first = start - history
    return (
        engine.read(lake.HOURLY_AGGREGATES, nw.col("date").is_in(dates_between(first.date(), day)))
        .filter((nw.col("hour") >= first) & (nw.col("hour") < end))
        .collect("polars")
        .sort("compressor_id", "hour")
    )


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
    anomalies = anomaly_scores(
        hourly,
        features,
        fleet.baselines,
        day,
        champion,
        models.anomaly,
        models.features.feature_set,
    )
    drift_trends = _trends(hourly, DRIFT_SERIES, at, models.drift, DRIFT_LAGS, fleet.repairs)
    # Temperature swings with the day: RUL reads it through its 24-hour mean, as drift does.
    rul_series = {s: DRIFT_SERIES.get(s, f"{s}_mean") for s in models.rul.sensors}
    # RUL projects up to weeks ahead, so it also waits for a first full day; drift, whose
    # horizon is three days and which must see a unit already hot on its first day, does not.
    smoothed = complete_daily_means(hourly, fleet.baselines, DRIFT_SERIES.values())
    rul_lags = {s: DRIFT_LAGS[s] for s in rul_series if s in DRIFT_LAGS}
    rul_trends = _trends(smoothed, rul_series, at, models.rul, rul_lags, fleet.repairs)
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
            prediction_status(champion is not None).alias("status"),
        )
        .sort("compressor_id", "hour")
    )
    engine.replace(lake.ML_PREDICTIONS, predictions, {"date": [day]})
    opened, resolved = _model_alerts(engine, cfg, fleet, predictions, day)
    log.info("ml %s: %d predictions, %d model alerts opened", day, predictions.shape[0], opened)
    return predictions, opened, resolved


def _trends(
    hourly: nw.DataFrame[Any],
    series: Mapping[str, str],
    at: list[datetime],
    rules: TrendFitRules,
    lags: Mapping[str, float],
    repairs: nw.DataFrame[Any],
) -> nw.DataFrame[Any]:
    """Robust trends of ``series`` at the scoring hours, over the model's window; a unit
    repaired within the window is fitted at each hour on its hours since the repair only."""
    window = timedelta(hours=rules.window_hours)
    first, last = hourly["hour"].min(), max(at)
    if first is None:
        return robust_trends(hourly, series, at, window, rules.min_hours, lags=lags)
    recent = repairs.filter((nw.col("repaired_at") > first) & (nw.col("repaired_at") <= last))
    repaired = recent.select("compressor_id").unique()
    parts = [
        robust_trends(
            hourly.join(repaired, on="compressor_id", how="anti"),
            series,
            at,
            window,
            rules.min_hours,
            lags=lags,
        )
    ]
    if repaired.shape[0]:
        theirs = hourly.join(repaired, on="compressor_id", how="semi")
        for moment in at:
            since = since_last_repair(theirs, recent, moment + timedelta(hours=1), "hour")
            parts.append(robust_trends(since, series, [moment], window, rules.min_hours, lags=lags))
    return nw.concat(parts)


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
    start, _ = day_bounds(day)
    to_limit = nw.min_horizontal(
        nw.col("drift_hours_to_warning"), nw.col("drift_hours_to_critical")
    )
    evaluations = nw.concat(
        [
            model_evaluation(
                predictions,
                "anomaly",
                "anomaly",
                nw.col("anomaly_score"),
                models.anomaly.warning_score,
            ),
            model_evaluation(
                predictions,
                "temperature_drift",
                "drift",
                to_limit,
                models.drift.warning_within_hours,
            ),
            model_evaluation(
                predictions, "rul", "rul", nw.col("rul_hours"), models.rul.warning_below_hours
            ),
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
    alerts = alert_rules.alert_episodes(
        evaluations, carried, fleet.units, rules, day, day, fleet.repairs
    )
    return write_alerts(engine, alerts, [day], alert_rules.MODEL_TYPES)


def _emissions_day(
    engine: Engine, cfg: AppConfig, fleet: _Fleet, day: date, hourly: nw.DataFrame[Any]
) -> int:
    """Estimate the day's emissions from its gold hours and operating modes; ``hourly`` holds
    the history before it, which the leak signature and the OOOOb flag look back on."""
    factors = cfg.models.emissions
    start, _ = day_bounds(day)
    look_from = start - timedelta(hours=factors.packing_over_limit_hours)
    modes = _modes(engine, cfg, look_from, day, hourly)
    if not modes.shape[0]:
        return 0
    hours = modes.select("compressor_id", "hour").sort("hour")
    with warnings.catch_warnings():  # Polars cannot verify sortedness within `by` groups
        warnings.simplefilter("ignore", UserWarning)
        checks = hours.join_asof(
            fleet.checks.sort("checked_at"),
            left_on="hour",
            right_on="checked_at",
            by="compressor_id",
            strategy="backward",
        )
    reference = reference_baselines(fleet.known, fleet.repairs, look_from, day_bounds(day)[1])
    leak = packing_leak(hourly, reference, factors, cfg.models.diagnostics)
    rows = over_limit(
        hourly_emissions(hourly, modes, fleet.units, checks, leak, factors), factors
    ).filter(nw.col("hour") >= start)
    engine.replace(lake.EMISSIONS_ESTIMATES, rows, {"date": [day]})
    return rows.shape[0]


def _modes(
    engine: Engine, cfg: AppConfig, since: datetime, day: date, hourly: nw.DataFrame[Any]
) -> nw.DataFrame[Any]:
    """The operating modes of the hours from ``since`` through ``day``; for gold written
    before modes were kept, each hour's readings under load count as its operating time."""
    modes = (
        engine.read(lake.OPERATING_MODES, nw.col("date").is_in(dates_between(since.date(), day)))
        .filter(nw.col("hour") >= since)
        .collect("polars")
    )
    if modes.shape[0]:
        return modes
    per_reading = cfg.fleet.telemetry.interval_minutes / 60.0
    return hourly.filter(nw.col("hour") >= since).select(
        "compressor_id",
        "hour",
        "date",
        (nw.col("reading_count") * per_reading).clip(upper_bound=1.0).alias("operating_hours"),
        nw.lit(0.0).alias("standby_hours"),
        nw.col("reading_count").alias("readings"),
        nw.lit(None).cast(nw.Float64).alias("standby_compression_ratio"),
    )


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


def _log_runs(
    engine: Engine, registry: Registry, summary: MlResult, run_id: str, cfg: AppConfig
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
            {**scored, "anomalous_predictions": float(summary.anomalous_predictions)},
        ),
        "drift": (cfg.models.drift.model_dump(), scored),
        "rul": ({**cfg.models.rul.model_dump(exclude={"sensors"})}, scored),
        "emissions": (cfg.models.emissions.model_dump(), {"rows": float(summary.emissions_rows)}),
    }
    for model, (params, metrics) in per_model.items():
        registry.log_run(model, f"score-{run_id}", params, metrics)
        record_metrics(engine, run_id, model, metrics)


@dataclass(frozen=True)
class ScoredDate:
    """One gold date scored on request: the stage's result, every unit's latest prediction
    and those at risk, worst first."""

    day: date
    result: MlResult
    latest: nw.DataFrame[Any]
    at_risk: nw.DataFrame[Any]
    seconds: float


def score_date(
    engine: Engine, cfg: AppConfig, registry: Registry, day: date | None = None
) -> ScoredDate:
    """Score ``day`` (default: the last complete gold day) with all four models, writing its
    predictions, model alerts and emissions as the pipeline would."""
    import time
    import uuid

    from altaviz.pipeline.reports import last_complete_day

    ensure_writable(engine)
    dates = engine.partition_values(lake.HOURLY_AGGREGATES)
    complete = last_complete_day(engine)
    if not dates or complete is None:
        raise NotFoundError("the lakehouse has no gold hourly rows (run `altaviz pipeline` first)")
    wanted = day or complete[0]
    if wanted not in dates:
        raise NotFoundError(f"--date {wanted}: no gold hourly rows for that date")
    began = time.perf_counter()
    result = run_ml(engine, cfg, registry, [wanted], uuid.uuid4().hex[:12])
    took = time.perf_counter() - began
    rows = engine.read(lake.ML_PREDICTIONS, nw.col("date") == wanted).collect("polars")
    latest = rows.filter(nw.col("hour") == rows.get_column("hour").max())
    flagged = (
        latest.with_columns(risk_level().alias("risk"))
        .filter(nw.col("risk") >= 1)
        .sort("risk", "rul_failure_probability", descending=[True, True], nulls_last=True)
    )
    return ScoredDate(wanted, result, latest, flagged, took)
