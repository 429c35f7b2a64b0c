"""The ML stage for a batch of days, unit by unit: the features, every model's predictions,
the model alerts and the emissions estimates of the days.

Nothing here reads or writes a table, and nothing looks across units, so the whole of it
runs as one piece of Polars code over any set of whole units: all of them at once on the
embedded engine, a partition of them at a time on Spark's executors
(:func:`altaviz.transforms.windows.per_unit_frames`), with the same scikit-learn model.
What the fleet shares (the champion model, the baselines on record, repairs, packing
checks) travels with the computation in :class:`ScoringFacts`.

>>> sorted(UNIT_INPUTS)
['carried', 'hourly', 'modes', 'previous', 'units']
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import narwhals as nw

from altaviz.config.schema import ModelsConfig, ThresholdsConfig, TrendFitRules
from altaviz.core.days import dates_between, day_bounds
from altaviz.core.frames import Frame
from altaviz.ml.drift import LAGS as DRIFT_LAGS
from altaviz.ml.drift import SERIES as DRIFT_SERIES
from altaviz.ml.drift import temperature_drift, with_early_levels
from altaviz.ml.emissions import hourly_emissions, over_limit, packing_leak
from altaviz.ml.features import hourly_features
from altaviz.ml.rul import remaining_useful_life
from altaviz.ml.scoring import (
    KEYS,
    anomaly_scores,
    complete_daily_means,
    model_evaluation,
    prediction_status,
    scoring_hours,
)
from altaviz.ml.trends import robust_trends
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms.limits import unit_limits
from altaviz.transforms.repairs import current_baselines, reference_baselines, since_last_repair

# The units' own rows, and how each is ordered before the computation (each unit's in time);
# the largest first (see ``per_unit_frames``).
UNIT_INPUTS = {
    "hourly": ("compressor_id", "hour"),  # gold hourly rows of the days and their history
    "units": (),  # compressor_id, model, station_id, region, basin, cylinders
    "modes": ("compressor_id", "hour"),  # operating modes of the emissions' days and look-back
    "carried": (),  # model alerts open when the batch begins
    "previous": (),  # predictions before the batch judged in it, or remembered by it
}
# The features need only the units' hourly rows.
FEATURE_INPUTS = {"hourly": UNIT_INPUTS["hourly"]}
# What the model alerts judge of a prediction.
JUDGED = (
    "compressor_id",
    "hour",
    "anomaly_score",
    "anomaly_level",
    "drift_hours_to_warning",
    "drift_hours_to_critical",
    "drift_level",
    "rul_hours",
    "rul_level",
)


@dataclass(frozen=True)
class ScoringFacts:
    """What the units' scoring needs besides their own rows (Polars frames, so that they
    travel to Spark's executors with the computation).

    ``days``: the days scored; ``emission_days``: the days whose emissions are estimated
    (the scored ones, or earlier days restated after a repair); ``legacy_modes``: days whose
    gold was written before operating modes were kept.
    """

    days: tuple[date, ...]
    emission_days: tuple[date, ...]
    models: ModelsConfig
    thresholds: ThresholdsConfig
    interval_minutes: int
    champion: tuple[Any, Any] | None  # (model, ModelRef)
    run_id: str
    known: Any  # every baseline on record (unit_baselines)
    repairs: Any  # compressor_id, repaired_at
    checks: Any  # compressor_id, checked_at: packing measurements and replacements
    legacy_modes: frozenset[date] = frozenset()

    def frame(self, name: str) -> Frame:
        return nw.from_native(getattr(self, name))

    def baselines_on(self, day: date) -> Frame:
        """The bands valid at the end of ``day``: one learned before a repair that finished
        by then no longer describes its unit."""
        return current_baselines(self.frame("known"), self.frame("repairs"), day_bounds(day)[1])


def hourly_window(hourly: Frame, day: date, history: timedelta) -> Frame:
    """The hourly rows of ``day`` and of ``history`` before it."""
    start, end = day_bounds(day)
    return hourly.filter((nw.col("hour") >= start - history) & (nw.col("hour") < end))


def needed_dates(days: tuple[date, ...] | list[date], history: timedelta) -> list[date]:
    """The dates whose rows the days and their ``history`` cover.

    >>> needed_dates([date(2026, 3, 5)], timedelta(hours=30))
    [datetime.date(2026, 3, 3), datetime.date(2026, 3, 4), datetime.date(2026, 3, 5)]
    """
    needed = {d for day in days for d in dates_between((day_bounds(day)[0] - history).date(), day)}
    return sorted(needed)


def unit_features(inputs: dict[str, Frame], facts: ScoringFacts) -> dict[str, Frame]:
    """``features``: the feature store's rows of the scored days (see
    :data:`FEATURE_INPUTS`)."""
    hourly = inputs["hourly"]
    parts = [_day_features(facts, hourly, day, facts.baselines_on(day)) for day in facts.days]
    return {"features": nw.concat(parts)}


def _day_features(facts: ScoringFacts, hourly: Frame, day: date, baselines: Frame) -> Frame:
    """The feature rows of ``day``'s hours, against the bands valid that day."""
    return hourly_features(
        hourly_window(hourly, day, timedelta(0)), baselines, facts.models.features.feature_set
    )


def unit_scores(inputs: dict[str, Frame], facts: ScoringFacts) -> dict[str, Frame]:
    """For the units in ``inputs`` (see :data:`UNIT_INPUTS`): the scored days' ``features``,
    ``predictions`` (every model at every scoring hour) and ``alerts`` (model alerts, for
    ``alert_history``), and the ``emissions`` of ``facts.emission_days`` - each only when
    there are such days."""
    history = timedelta(hours=facts.models.features.history_hours)
    units, all_hourly = inputs["units"], inputs["hourly"]
    out: dict[str, Frame] = {}
    if facts.days:
        features, predictions = [], []
        for day in facts.days:
            baselines = facts.baselines_on(day)
            hourly = hourly_window(all_hourly, day, history)
            today = _day_features(facts, hourly, day, baselines)
            features.append(today)
            predictions.append(_predictions(facts, units, day, hourly, today, baselines))
        out["features"] = nw.concat(features)
        out["predictions"] = nw.concat(predictions)
        out["alerts"] = _model_alerts(facts, units, inputs, out["predictions"])
    if facts.emission_days:
        out["emissions"] = nw.concat(
            [
                _emissions(facts, units, inputs["modes"], d, hourly_window(all_hourly, d, history))
                for d in facts.emission_days
            ]
        )
    return out


def _predictions(
    facts: ScoringFacts,
    units: Frame,
    day: date,
    hourly: Frame,
    features: Frame,
    baselines: Frame,
) -> Frame:
    """Every model's prediction for ``day`` at its scoring hours, from the day's gold hourly
    rows (with the history before them) and its features."""
    models = facts.models
    repairs = facts.frame("repairs")
    limits = unit_limits(units, baselines, facts.thresholds)
    at = scoring_hours(day, models.features.score_every_hours)
    grid = (
        hourly.filter(nw.col("hour").is_in(at))
        .select("compressor_id", "hour")
        .with_columns(nw.lit(day).alias("date"))
    )
    champion = facts.champion
    anomalies = anomaly_scores(
        hourly, features, baselines, day, champion, models.anomaly, models.features.feature_set
    )
    # Both trend models fit rates on full-day means only (a first day's mean climbs or falls
    # with the hour the data began). Drift also reads a unit's level in its first day, to see
    # one already at its limit: where the line stands, not carried forward at its made-up rate.
    smoothed = complete_daily_means(hourly, baselines, DRIFT_SERIES.values())
    drift_trends = with_early_levels(
        _trends(smoothed, DRIFT_SERIES, at, models.drift, DRIFT_LAGS, repairs),
        _trends(hourly, DRIFT_SERIES, at, models.drift, {}, repairs),
    )
    # Temperature swings with the day: RUL reads it through its 24-hour mean, as drift does.
    rul_series = {s: DRIFT_SERIES.get(s, f"{s}_mean") for s in models.rul.sensors}
    rul_lags = {s: DRIFT_LAGS[s] for s in rul_series if s in DRIFT_LAGS}
    rul_trends = _trends(smoothed, rul_series, at, models.rul, rul_lags, repairs)
    drift = temperature_drift(drift_trends, limits, models.drift).rename({"at": "hour"})
    rul = remaining_useful_life(rul_trends, limits, models.rul).rename({"at": "hour"})
    version = champion[1].version if champion is not None else None
    return (
        grid.join(anomalies, on=KEYS, how="left")
        .join(drift, on=KEYS, how="left")
        .join(rul, on=KEYS, how="left")
        .with_columns(
            nw.lit(facts.run_id).alias("run_id"),
            nw.lit(version).cast(nw.String).alias("anomaly_model_version"),
            prediction_status(champion is not None).alias("status"),
        )
        .sort("compressor_id", "hour")
    )


def _trends(
    hourly: Frame,
    series: Mapping[str, str],
    at: list[datetime],
    rules: TrendFitRules,
    lags: Mapping[str, float],
    repairs: Frame,
) -> Frame:
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
    facts: ScoringFacts, units: Frame, inputs: dict[str, Frame], predictions: Frame
) -> Frame:
    """Alert episodes from the models' levels over the days, with the rule alerts' life
    cycle, continuing the model alerts open when the batch begins.

    A prediction is judged at the end of its hour, so the days' evaluations are those of
    their hours but the last, and that of the last hour of the day before; the evaluations
    before those are the quiet rule's memory. Both come from ``previous`` (see
    :func:`judged_before`): however the days are batched, each is judged once, in its own
    day, with the same memory.
    """
    models = facts.models
    start, end = day_bounds(facts.days[0])[0], day_bounds(facts.days[-1])[1]
    judged = predictions.select(JUDGED)
    kinds = judged.schema
    previous = inputs["previous"].select(nw.col(c).cast(kinds[c]) for c in JUDGED)
    judged = nw.concat([previous, judged])
    to_limit = nw.min_horizontal(
        nw.col("drift_hours_to_warning"), nw.col("drift_hours_to_critical")
    )
    evaluations = nw.concat(
        [
            model_evaluation(
                judged,
                "anomaly",
                "anomaly",
                nw.col("anomaly_score"),
                models.anomaly.warning_score,
            ),
            model_evaluation(
                judged,
                "temperature_drift",
                "drift",
                to_limit,
                models.drift.warning_within_hours,
            ),
            model_evaluation(
                judged, "rul", "rul", nw.col("rul_hours"), models.rul.warning_below_hours
            ),
        ]
    ).filter(~nw.col("level").is_null() & (nw.col("timestamp") < end))
    # A prediction of an hour in which a repair finished describes the unit before it: judged
    # at the hour's end it would open the repaired unit's first alert on the old unit's data.
    repairs = facts.frame("repairs").select("compressor_id", "repaired_at")
    stale = (
        evaluations.select("compressor_id", "timestamp")
        .unique()
        .join(repairs, on="compressor_id", how="inner")
        .filter(
            (nw.col("repaired_at") > nw.col("timestamp") - timedelta(hours=1))
            & (nw.col("repaired_at") <= nw.col("timestamp"))
        )
        .select("compressor_id", "timestamp")
    )
    evaluations = evaluations.join(stale, on=["compressor_id", "timestamp"], how="anti")
    # Only pairs abnormal on a day of the batch, or carrying an open alert, can open or
    # close one.
    carried = inputs["carried"]
    pairs = nw.concat(
        [
            evaluations.filter((nw.col("level") >= 1) & (nw.col("timestamp") >= start)).select(
                *alert_rules.PAIR
            ),
            carried.select(*alert_rules.PAIR),
        ]
    ).unique()
    evaluations = evaluations.join(pairs, on=list(alert_rules.PAIR), how="inner")
    return alert_rules.alert_episodes(
        evaluations,
        carried,
        units,
        facts.thresholds.alerts,
        facts.days[0],
        facts.days[-1],
        facts.frame("repairs"),
    )


def judged_before(models: ModelsConfig, thresholds: ThresholdsConfig) -> timedelta:
    """How far before a batch the predictions lie that it judges (the last of the day
    before) or remembers (the quiet rule's evaluations before it).

    >>> from altaviz.config import load_config
    >>> cfg = load_config()
    >>> judged_before(cfg.models, cfg.thresholds)  # 1 h + 2 x 4 h
    datetime.timedelta(seconds=32400)
    """
    remembered = thresholds.alerts.auto_resolve_consecutive_normal - 1
    return timedelta(hours=1 + remembered * models.features.score_every_hours)


def _emissions(facts: ScoringFacts, units: Frame, modes: Frame, day: date, hourly: Frame) -> Frame:
    """The emissions estimates of ``day`` from its gold hours and operating modes; ``hourly``
    holds the history before it, which the leak signature and the OOOOb flag look back on."""
    factors = facts.models.emissions
    start, end = day_bounds(day)
    look_from = start - timedelta(hours=factors.packing_over_limit_hours)
    if day in facts.legacy_modes:
        modes = _modes_from_readings(hourly, facts.interval_minutes)
    modes = modes.filter((nw.col("hour") >= look_from) & (nw.col("hour") < end))
    hours = modes.select("compressor_id", "hour").sort("hour")
    with warnings.catch_warnings():  # Polars cannot verify sortedness within `by` groups
        warnings.simplefilter("ignore", UserWarning)
        checks = hours.join_asof(
            facts.frame("checks").sort("checked_at"),
            left_on="hour",
            right_on="checked_at",
            by="compressor_id",
            strategy="backward",
        )
    reference = reference_baselines(facts.frame("known"), facts.frame("repairs"), look_from, end)
    leak = packing_leak(hourly, reference, factors, facts.models.diagnostics)
    rows = hourly_emissions(hourly, modes, units, checks, leak, factors)
    return over_limit(rows, factors).filter(nw.col("hour") >= start)


def _modes_from_readings(hourly: Frame, interval_minutes: int) -> Frame:
    """Operating modes for gold written before modes were kept: each hour's readings under
    load count as its operating time."""
    per_reading = interval_minutes / 60.0
    return hourly.select(
        "compressor_id",
        "hour",
        "date",
        (nw.col("reading_count") * per_reading).clip(upper_bound=1.0).alias("operating_hours"),
        nw.lit(0.0).alias("standby_hours"),
        nw.col("reading_count").alias("readings"),
        nw.lit(None).cast(nw.Float64).alias("standby_compression_ratio"),
    )


__all__ = [
    "FEATURE_INPUTS",
    "JUDGED",
    "UNIT_INPUTS",
    "ScoringFacts",
    "hourly_window",
    "judged_before",
    "needed_dates",
    "unit_features",
    "unit_scores",
]
