"""The ML stage: features into the feature store, the four models over the whole fleet,
their predictions, alerts and emissions into the lakehouse, runs into MLflow.

Batch by batch, like gold (a day at a time on the embedded engine, many on Spark): a batch's
features, predictions, model alerts and emissions are computed in one pass over every unit's
gold hourly rows (:mod:`altaviz.pipeline.unit_ml`), each unit scored every
``features.score_every_hours`` from its rows and ``features.history_hours`` before them.
Each table's rows for the batch's dates are replaced as a whole (model alerts by their own
types), so a rerun changes nothing and a rebuilt gold date is re-scored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import partial
from typing import Any

import narwhals as nw
import numpy as np

from altaviz.config import AppConfig
from altaviz.core.days import dates_between, day_bounds
from altaviz.core.errors import NotFoundError
from altaviz.core.features import MODEL_FEATURES
from altaviz.core.frames import Frame, first_row, height, local, scanned
from altaviz.core.results import MlResult
from altaviz.engines import Engine, ensure_writable
from altaviz.lake import catalog as lake
from altaviz.ml import anomaly as anomaly_model
from altaviz.ml.features import psi
from altaviz.ml.registry import ModelRef, Registry
from altaviz.ml.scoring import KEYS, at_risk, risk_level
from altaviz.pipeline.alert_store import carried_alerts, write_alerts
from altaviz.pipeline.promotion import consecutive, date_batches
from altaviz.pipeline.training import MlError, record_metrics, train
from altaviz.pipeline.unit_ml import (
    FEATURE_INPUTS,
    JUDGED,
    UNIT_INPUTS,
    ScoringFacts,
    judged_before,
    needed_dates,
    unit_features,
    unit_scores,
)
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms.repairs import repairs_from
from altaviz.transforms.windows import per_unit_frames, unit_partitions

log = logging.getLogger("altaviz.ml")

PSI_DRIFTED = 0.25
# The pass's outputs of many rows, each written to its table.
WRITTEN = {
    "features": lake.FEATURE_STORE,
    "predictions": lake.ML_PREDICTIONS,
    "emissions": lake.EMISSIONS_ESTIMATES,
}


@dataclass(frozen=True)
class _Fleet:
    """What every scored batch needs about the fleet, read once (small: on the driver)."""

    known: nw.DataFrame[Any]  # every baseline on record
    checks: nw.DataFrame[Any]  # packing measurements and replacements: compressor_id, checked_at
    repairs: nw.DataFrame[Any]  # finished repairs: compressor_id, repaired_at

    @classmethod
    def read(cls, engine: Engine) -> _Fleet:
        maintenance = engine.read_local(lake.MAINTENANCE_EVENTS)
        checks = (
            engine.read_local(lake.PACKING_MEASUREMENTS)
            .select("compressor_id", nw.col("measured_at").alias("checked_at"))
            .unique()
        )
        known = engine.read_local(lake.UNIT_BASELINES)
        return cls(known, checks, repairs_from(maintenance))


def run_ml(
    engine: Engine,
    cfg: AppConfig,
    registry: Registry,
    days: list[date],
    run_id: str,
    say: Callable[[str], None] | None = None,
) -> MlResult:
    """Score ``days`` (gold dates) in batches of the engine's size; trains a first anomaly
    model when none is registered and the feature store holds enough healthy history."""
    summary = MlResult(dates=sorted(days))
    if not days:
        return summary
    say = say or (lambda _m: None)
    fleet = _Fleet.read(engine)
    # Consecutive days only: each batch continues the model alerts open when it begins.
    batches = [
        b for run in consecutive(summary.dates) for b in date_batches(run, engine.batch_days)
    ]
    champion = registry.champion()
    if champion is None:
        say("features")
        for batch in batches:
            facts = _facts(cfg, fleet, batch, (), None, run_id)
            out = _unit_pass(engine, cfg, facts, unit_features, FEATURE_INPUTS, ["features"])
            engine.replace(lake.FEATURE_STORE, out["features"], {"date": batch})
        try:
            trained = train(engine, cfg, registry, run_id)
            summary.trained_version = trained.version
            if trained.note:
                summary.notes.append(f"{trained.name} v{trained.version}: {trained.note}")
            champion = registry.champion()
        except MlError as exc:
            summary.notes.append(f"anomaly model not trained yet: {exc}")
        features_written = True
    else:
        features_written = False
    if champion is not None:
        summary.model_version = champion[1].version
        summary.model_name = champion[1].name
    latest: nw.DataFrame[Any] | None = None
    for n, batch in enumerate(batches, start=1):
        say(f"models: {_span(batch)} ({n} of {len(batches)})")
        facts = _facts(cfg, fleet, batch, batch, champion, run_id)
        kept = ["predictions", "emissions", *([] if features_written else ["features"])]
        out = _unit_pass(engine, cfg, facts, unit_scores, UNIT_INPUTS, kept)
        if not features_written:
            engine.replace(lake.FEATURE_STORE, out["features"], {"date": batch})
        predictions = out["predictions"]
        summary.predictions += engine.replace(
            lake.ML_PREDICTIONS, predictions, {"date": batch}
        ).rows
        opened, resolved = write_alerts(engine, out["alerts"], batch, alert_rules.MODEL_TYPES)
        summary.alerts_opened += opened
        summary.alerts_resolved += resolved
        written = engine.replace(lake.EMISSIONS_ESTIMATES, out["emissions"], {"date": batch})
        summary.emissions_rows += written.rows
        if champion is not None:
            summary.drifted_features = _feature_drift(
                engine, champion, batch, out["features"], run_id
            )
        anomalous, last_hour = first_row(
            predictions.select(
                (nw.col("anomaly_level") >= 1).cast(nw.Int64).sum().alias("anomalous"),
                nw.col("hour").max().alias("last"),
            )
        ).values()
        summary.anomalous_predictions += int(anomalous or 0)
        if last_hour is not None:  # else no unit reported at a scoring hour of the batch
            latest = local(predictions.filter(nw.col("hour") == last_hour))
        log.info("ml %s: %d model alerts opened", _span(batch), opened)
    restated = _restated_days(engine, cfg, fleet, summary.dates)
    for batch in date_batches(restated, engine.batch_days):
        say(f"emissions restated: {_span(batch)}")
        facts = _facts(cfg, fleet, (), batch, champion, run_id)
        out = _unit_pass(engine, cfg, facts, unit_scores, UNIT_INPUTS, ["emissions"])
        engine.replace(lake.EMISSIONS_ESTIMATES, out["emissions"], {"date": batch})
    if restated:
        summary.notes.append(
            f"emissions of {len(restated)} earlier day(s) restated against bands learned "
            "after repairs"
        )
    if latest is not None:
        summary.units_at_risk = latest.filter(at_risk()).shape[0]
    _log_runs(engine, registry, summary, run_id, cfg)
    return summary


def _span(days: list[date]) -> str:
    return f"{days[0]}" if len(days) == 1 else f"{days[0]} to {days[-1]}"


def _facts(
    cfg: AppConfig,
    fleet: _Fleet,
    days: Sequence[date],
    emission_days: Sequence[date],
    champion: tuple[Any, ModelRef] | None,
    run_id: str,
) -> ScoringFacts:
    return ScoringFacts(
        days=tuple(days),
        emission_days=tuple(emission_days),
        models=cfg.models,
        thresholds=cfg.thresholds,
        interval_minutes=cfg.fleet.telemetry.interval_minutes,
        champion=champion,
        run_id=run_id,
        known=nw.to_native(fleet.known),
        repairs=nw.to_native(fleet.repairs),
        checks=nw.to_native(fleet.checks),
    )


def _unit_pass(
    engine: Engine,
    cfg: AppConfig,
    facts: ScoringFacts,
    compute: Callable[[dict[str, Frame], ScoringFacts], dict[str, Frame]],
    order: Mapping[str, Sequence[str]],
    kept: Sequence[str],
) -> dict[str, Frame]:
    """``compute`` (:func:`unit_features` or :func:`unit_scores`) for the facts' days over
    the inputs named in ``order``: one pass over every unit's rows, one per partition of
    units on Spark. ``kept``: the outputs of :data:`WRITTEN` that will be written, which
    the pass writes as files itself where the engine lets it (on local Spark: Spark's Delta
    writer took 1.2-3.4 s a table and batch on the demo's thirty units)."""
    history = timedelta(hours=cfg.models.features.history_hours)
    look_back = timedelta(hours=cfg.models.emissions.packing_over_limit_hours)
    days = sorted({*facts.days, *facts.emission_days})
    with_modes = engine.partition_values(lake.OPERATING_MODES)
    legacy = frozenset(
        d for d in facts.emission_days if not with_modes & set(needed_dates([d], look_back))
    )
    facts = replace(facts, legacy_modes=legacy)
    sort = engine.carries_frames  # Spark's partitions are sorted where they are computed

    def read(spec: lake.TableSpec, dates: list[date], *by: str) -> Frame:
        rows = scanned(engine.read(spec, nw.col("date").is_in(dates)))
        return rows.sort(*by) if sort else rows

    units = scanned(
        engine.read(lake.COMPRESSOR_METADATA).select(
            "compressor_id", "model", "station_id", "region", "basin", "cylinders"
        )
    )
    registered = height(engine.read_local(lake.COMPRESSOR_METADATA))
    sinks = {k: engine.file_sink(WRITTEN[k]) for k in kept}
    readers = {
        "units": lambda: units,
        "hourly": lambda: read(lake.HOURLY_AGGREGATES, needed_dates(days, history), *KEYS),
        "modes": lambda: read(
            lake.OPERATING_MODES, needed_dates(facts.emission_days, look_back), *KEYS
        ),
        "carried": lambda: carried_alerts(engine, day_bounds(days[0])[0], alert_rules.MODEL_TYPES),
        "previous": lambda: _previous_predictions(engine, cfg, days[0]),
    }
    return per_unit_frames(
        {name: readers[name]() for name in order},
        partial(compute, facts=facts),
        order,
        partitions=unit_partitions(registered, len(days)),
        wide=tuple(WRITTEN),
        sinks={k: sink for k, sink in sinks.items() if sink is not None},
        small_to_driver=True,  # the model alerts: read on the driver
    )


def _previous_predictions(engine: Engine, cfg: AppConfig, first: date) -> Frame:
    """The predictions before ``first`` that its batch's model alerts judge or remember."""
    start = day_bounds(first)[0]
    since = start - judged_before(cfg.models, cfg.thresholds)
    return scanned(
        engine.read(lake.ML_PREDICTIONS, nw.col("date").is_in(dates_between(since.date(), first)))
        .filter((nw.col("hour") >= since) & (nw.col("hour") < start))
        .select(*JUDGED)
    )


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


def _feature_drift(
    engine: Engine,
    champion: tuple[Any, ModelRef],
    days: list[date],
    features: Frame,
    run_id: str,
) -> list[str]:
    """PSI and KS of each model feature on each of ``days`` against the champion's training
    sample (one day's features at a time on the driver); returns the features that drifted
    on the last day."""
    from scipy.stats import ks_2samp

    model, ref = champion
    rows: dict[str, list[Any]] = {
        k: [] for k in ("date", "feature", "run_id", "model_version", "psi", "ks")
    }
    for day in days:
        today = local(features.filter(nw.col("date") == day).select("model", *MODEL_FEATURES))
        X, _ = anomaly_model.feature_matrix(today)
        for j, name in enumerate(MODEL_FEATURES):
            expected, actual = model.reference_[:, j], X[:, j]
            actual = actual[np.isfinite(actual)]
            expected = expected[np.isfinite(expected)]
            both = actual.size and expected.size
            for key, value in (
                ("date", day),
                ("feature", name),
                ("run_id", run_id),
                ("model_version", ref.version),
                ("psi", psi(expected, actual)),
                ("ks", float(ks_2samp(expected, actual).statistic) if both else None),
            ):
                rows[key].append(value)
    rows["drifted"] = [p == p and p > PSI_DRIFTED for p in rows["psi"]]
    engine.merge(lake.FEATURE_DRIFT, engine.frame(lake.FEATURE_DRIFT, rows))
    last = [i for i, d in enumerate(rows["date"]) if d == days[-1]]
    return [rows["feature"][i] for i in last if rows["drifted"][i]]


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
