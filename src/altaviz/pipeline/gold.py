"""The gold stage: hourly and daily aggregates, operating modes, rule alerts and fleet health
for a batch of consecutive dates (one date on the embedded engine, many on Spark)."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from functools import partial

import narwhals as nw

from altaviz.core.days import day_bounds, days_in
from altaviz.core.frames import Frame, done, same_kind, scanned
from altaviz.lake import catalog as lake
from altaviz.pipeline.alert_store import carried_alerts, opened_on, recent_alerts, write_alerts
from altaviz.pipeline.context import RunContext
from altaviz.pipeline.write_behind import WriteBehind
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms import gold
from altaviz.transforms.bands import day_bands, unit_days
from altaviz.transforms.limits import unit_limits
from altaviz.transforms.modes import daily_modes, hourly_modes, running

log = logging.getLogger("altaviz.pipeline")
DAY = timedelta(days=1)


def gold_days(
    run: RunContext,
    writer: WriteBehind,
    days: list[date],
    units: Frame,
    hourly_of: dict[date, Frame],
    silver_of: dict[date, Frame],
) -> tuple[int, int, dict[date, Frame]]:
    """Hourly, daily, alerts and fleet health for a batch of consecutive days, each table
    written once for the batch; returns the alerts opened and resolved, and (on an engine
    that carries frames) the batch's hourly rows for the next batch to look back on.

    ``silver_of`` maps the days rebuilt in this run to their silver; other days are read.
    """
    cfg = run.config
    first, last = days[0], days[-1]
    start = day_bounds(first)[0]
    look_from = start - timedelta(hours=cfg.thresholds.alerts.lookback_hours)
    silver, batch = _silver_with_lookback(run, days, look_from, silver_of)
    _operating_modes(run, writer, days, batch, units)
    # A stopped unit's readings tell its mode, not its condition: gold describes it running.
    under_load = running(cfg.thresholds.operating_modes)
    silver, batch = silver.filter(under_load), batch.filter(under_load)
    trend_window = timedelta(hours=cfg.thresholds.trends.window_hours)
    prior = _prior_hourly(run, first, trend_window, hourly_of)
    stats = gold.hourly_stats(batch)
    limits = _day_limits(run, units, stats, prior.filter(nw.col("hour") >= start - DAY), first)
    hourly = gold.hourly_aggregates(
        stats,
        prior,
        units.select("compressor_id", "model", "station_id", "region"),
        limits,
        days,
        trend_window=trend_window,
        trend_min_hours=cfg.thresholds.trends.min_hours,
        trend_sensors=tuple(cfg.thresholds.trends.sensors),
        repairs=run.repairs(),
    )
    # Rows counted from the commits (a count of their own would be a Spark job each).
    counted = partial(run.rows.add, "gold_hourly")
    writer.submit(run.engine.replace, lake.HOURLY_AGGREGATES, hourly, {"date": days}, then=counted)
    daily = gold.daily_aggregates(hourly)
    counted = partial(run.rows.add, "gold_daily")
    writer.submit(run.engine.replace, lake.DAILY_AGGREGATES, daily, {"date": days}, then=counted)
    alerts = _rule_alerts(run, days, silver, hourly, prior, limits, units)
    # Not queued: the next batch reads the history.
    opened, resolved = write_alerts(run.engine, alerts, days, alert_rules.RULE_TYPES)
    health = gold.fleet_health(daily, units, opened_on(alerts, first, last))
    writer.submit(run.engine.replace, lake.FLEET_HEALTH, health, {"date": days})
    log.info("gold %s to %s: %d alerts opened", first, last, opened)
    if not run.engine.carries_frames:
        return opened, resolved, {}
    oldest_needed = last - timedelta(days=days_in(trend_window) - 1)  # by the next day's trends
    kept = {d: h for d, h in hourly_of.items() if d >= oldest_needed}
    fresh = {d: hourly.filter(nw.col("date") == d) for d in days if d >= oldest_needed}
    return opened, resolved, {**kept, **fresh}


def _operating_modes(
    run: RunContext, writer: WriteBehind, days: list[date], batch: Frame, units: Frame
) -> None:
    """Queue the days' hours per unit in each operating mode, hourly and per day."""
    cfg = run.config
    hourly = hourly_modes(
        batch,
        units,
        run.downtime(),
        cfg.fleet.telemetry.interval_minutes,
        cfg.thresholds.operating_modes,
    )
    writer.submit(run.engine.replace, lake.OPERATING_MODES, hourly, {"date": days})
    daily = daily_modes(hourly, units, run.downtime())
    writer.submit(run.engine.replace, lake.OPERATING_MODE_DAYS, daily, {"date": days})


def _silver_with_lookback(
    run: RunContext, days: list[date], look_from: datetime, silver_of: dict[date, Frame]
) -> tuple[Frame, Frame]:
    """The days' silver with the alert look-back's tail of the day before, and the days' own.

    ``silver_of`` maps the days rebuilt in this run to their batch's silver (several days may
    share one frame); the other days are read from the table.
    """
    before = days[0] - DAY
    rebuilt = [d for d in days if d in silver_of]
    frames = {id(silver_of[d]): silver_of[d] for d in rebuilt}
    parts = [f.filter(nw.col("date").is_in(rebuilt)) for f in frames.values()]
    if len(rebuilt) < len(days):
        others = [d for d in days if d not in silver_of]
        parts.append(scanned(run.engine.read(lake.SENSOR_CLEANED, nw.col("date").is_in(others))))
    own = nw.concat(same_kind(parts))
    tail = silver_of.get(before)
    if tail is None:
        tail = run.engine.read(lake.SENSOR_CLEANED, nw.col("date") == before)
    tail = tail.filter((nw.col("date") == before) & (nw.col("timestamp") >= look_from))
    return nw.concat(same_kind([tail, own])), own


def _prior_hourly(
    run: RunContext, first: date, trend_window: timedelta, hourly_of: dict[date, Frame]
) -> Frame:
    """The hourly statistics and trends of the days the batch's windows look back on
    (rebuilt ones are in memory).

    Oldest day first, each day in (compressor_id, hour) order: every unit's hours are then
    in time order, which is all the rolling windows need.
    """
    days_back = [first - timedelta(days=k) for k in range(days_in(trend_window), 0, -1)]
    earlier = [
        hourly_of.get(d)
        if d in hourly_of
        else done(
            run.engine.read(lake.HOURLY_AGGREGATES, nw.col("date") == d).sort(
                "compressor_id", "hour"
            )
        )
        for d in days_back
    ]
    columns = [*gold.HOURLY_STAT_COLUMNS, *gold.TREND_COLUMNS]
    return nw.concat(same_kind([h.select(columns) for h in earlier]))


def _rule_alerts(
    run: RunContext,
    days: list[date],
    silver: Frame,
    hourly: Frame,
    prior: Frame,
    limits: Frame,
    units: Frame,
) -> Frame:
    """Threshold, deviation and trend alerts of the days, continuing the open ones."""
    cfg = run.config
    rules = cfg.thresholds.alerts
    first, last = days[0], days[-1]
    start = day_bounds(first)[0]
    # Alerts still open when the batch begins (read with the filter: the history grows).
    carried = carried_alerts(run.engine, start, alert_rules.RULE_TYPES)
    window = timedelta(minutes=rules.aggregation_window_minutes)
    recent = done(recent_alerts(run.engine, start, window, alert_rules.RULE_TYPES))
    is_trend = nw.col("alert_type") == alert_rules.TREND
    carried_limits = carried.filter(~is_trend)
    readings = alert_rules.evaluate_readings(silver, limits, rules, watch=carried_limits)
    carried_trends = carried.filter(is_trend)
    # The hours before the batch whose trends the quiet rule looks back on (stamped at their
    # end, the last one at the batch's start).
    memory = timedelta(hours=rules.auto_resolve_consecutive_normal)
    trend_hours = nw.concat(
        same_kind(
            [
                prior.filter(nw.col("hour") >= start - memory).select(
                    "compressor_id", "hour", *gold.TREND_COLUMNS
                ),
                hourly.select("compressor_id", "hour", *gold.TREND_COLUMNS),
            ]
        )
    )
    trends = alert_rules.evaluate_trends(trend_hours, cfg.thresholds.trends, watch=carried_trends)
    repairs = run.repairs()
    episodes = [
        alert_rules.alert_episodes(
            judged, open_now, units, rules, first, last, repairs, recent.filter(kind)
        )
        for judged, open_now, kind in (
            (readings, carried_limits, ~is_trend),
            (trends, carried_trends, is_trend),
        )
    ]
    return done(nw.concat(same_kind(episodes)))


def _day_limits(run: RunContext, units: Frame, stats: Frame, before: Frame, first: date) -> Frame:
    """Every unit's limits on each day of the batch and the day before it (whose readings
    the alerts look back on), from the bands valid on each day; merges the bands the batch
    learns into ``unit_baselines``."""
    hours = nw.concat(same_kind([before.select(stats.columns), stats]))
    bands, learned = day_bands(
        hours,
        done(run.engine.read(lake.UNIT_BASELINES)),
        run.repairs(),
        first,
        run.config.thresholds.baseline,
        units=units,
    )
    run.engine.merge(lake.UNIT_BASELINES, learned)
    unit_dates = unit_days(hours, units, run.repairs()).join(
        units.lazy().select("compressor_id", "model"), on="compressor_id", how="left"
    )
    return unit_limits(unit_dates, bands, run.config.thresholds, keys=("compressor_id", "date"))
