"""The gold stage: hourly and daily aggregates, rule alerts and fleet health for one date."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import narwhals as nw

from altaviz.core.days import day_bounds
from altaviz.core.frames import Frame, done, first_row, height, same_kind
from altaviz.lake import catalog as lake
from altaviz.pipeline.alert_store import carried_alerts, opened_on, write_alerts
from altaviz.pipeline.context import RunContext
from altaviz.pipeline.write_behind import WriteBehind
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms import gold
from altaviz.transforms.limits import unit_limits
from altaviz.transforms.modes import daily_modes, hourly_modes, running
from altaviz.transforms.repairs import current_baselines, since_last_repair, valid_from

log = logging.getLogger("altaviz.pipeline")


def gold_day(
    run: RunContext,
    writer: WriteBehind,
    day: date,
    units: Frame,
    hourly_of: dict[date, Frame],
    silver_of: dict[date, Frame],
) -> tuple[int, int, dict[date, Frame]]:
    """Hourly, daily, alerts and fleet health for one date; returns alerts opened and resolved
    that day, and the day's hourly rows for the next day to look back on.

    ``silver_of`` holds silver rebuilt in this run (today's, yesterday's); other days are read.
    """
    cfg = run.config
    start, end = day_bounds(day)
    look_from = start - timedelta(hours=cfg.thresholds.alerts.lookback_hours)
    silver, today = _silver_with_lookback(run, day, look_from, silver_of)
    _operating_modes(run, writer, day, today, units)
    # A stopped unit's readings tell its mode, not its condition: gold describes it running.
    under_load = running(cfg.thresholds.operating_modes)
    silver, today = silver.filter(under_load), today.filter(under_load)
    trend_window = timedelta(hours=cfg.thresholds.trends.window_hours)
    prior = _prior_hourly(run, day, trend_window, hourly_of)
    stats = gold.hourly_stats(today)
    yesterday = prior.filter(nw.col("hour") >= start - timedelta(days=1))
    baselines = _baselines(run, units, stats, yesterday, end)
    limits = unit_limits(units, baselines, cfg.thresholds)
    hourly = gold.hourly_aggregates(
        stats,
        prior,
        units.select("compressor_id", "model", "station_id", "region"),
        limits,
        day,
        trend_window=trend_window,
        trend_min_hours=cfg.thresholds.trends.min_hours,
        trend_sensors=tuple(cfg.thresholds.trends.sensors),
        repairs=run.repairs(),
    )
    writer.submit(run.engine.replace, lake.HOURLY_AGGREGATES, hourly, {"date": [day]})
    daily = gold.daily_aggregates(hourly, day)
    writer.submit(run.engine.replace, lake.DAILY_AGGREGATES, daily, {"date": [day]})
    alerts = _rule_alerts(run, day, silver, hourly, limits, units)
    # Not queued: the next day reads the history.
    opened, resolved = write_alerts(run.engine, alerts, day, alert_rules.RULE_TYPES)
    health = gold.fleet_health(daily, units, opened_on(alerts, day), day)
    writer.submit(run.engine.replace, lake.FLEET_HEALTH, health, {"date": [day]})
    hours = height(hourly)
    run.rows.gold_hourly += hours
    run.rows.gold_daily += height(daily)
    log.info("gold %s: %d hourly rows, %d alerts opened", day, hours, opened)
    oldest_needed = day - timedelta(days=days_in(trend_window) - 1)  # by tomorrow's trends
    kept = {d: h for d, h in hourly_of.items() if d >= oldest_needed}
    return opened, resolved, {**kept, day: hourly}


def _operating_modes(
    run: RunContext, writer: WriteBehind, day: date, today: Frame, units: Frame
) -> None:
    """Queue the day's hours per unit in each operating mode, hourly and per day."""
    cfg = run.config
    hourly = hourly_modes(
        today,
        units,
        run.downtime(),
        day,
        cfg.fleet.telemetry.interval_minutes,
        cfg.thresholds.operating_modes,
    )
    writer.submit(run.engine.replace, lake.OPERATING_MODES, hourly, {"date": [day]})
    daily = daily_modes(hourly, units, run.downtime(), day)
    writer.submit(run.engine.replace, lake.OPERATING_MODE_DAYS, daily, {"date": [day]})


def days_in(window: timedelta) -> int:
    """Whole days a look-back window reaches into.

    >>> days_in(timedelta(hours=25))
    2
    """
    return -(-window // timedelta(days=1))


def _silver_with_lookback(
    run: RunContext, day: date, look_from: datetime, silver_of: dict[date, Frame]
) -> tuple[Frame, Frame]:
    """The day's silver with the alert look-back's tail of the day before, and the day's own."""
    before = day - timedelta(days=1)
    parts = []
    for d in (before, day):
        part = silver_of.get(d)
        if part is None:
            part = done(run.engine.read(lake.SENSOR_CLEANED, nw.col("date") == d))
        parts.append(part.filter(nw.col("timestamp") >= look_from) if d == before else part)
    return nw.concat(same_kind(parts)), parts[1]


def _prior_hourly(
    run: RunContext, day: date, trend_window: timedelta, hourly_of: dict[date, Frame]
) -> Frame:
    """The hourly rows of the days the trends look back on (rebuilt ones are in memory).

    Oldest day first, each day in (compressor_id, hour) order: every unit's hours are then
    in time order, which is all the rolling windows need.
    """
    days_back = [day - timedelta(days=k) for k in range(days_in(trend_window), 0, -1)]
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
    return nw.concat(same_kind([h.select(gold.HOURLY_STAT_COLUMNS) for h in earlier]))


def _rule_alerts(
    run: RunContext,
    day: date,
    silver: Frame,
    hourly: Frame,
    limits: Frame,
    units: Frame,
) -> Frame:
    """Threshold, deviation and trend alerts of the day, continuing the open ones."""
    cfg = run.config
    # Alerts still open when the day begins (read with the filter: the history grows).
    carried = carried_alerts(run.engine, day_bounds(day)[0], alert_rules.RULE_TYPES)
    rules = cfg.thresholds.alerts
    is_trend = nw.col("alert_type") == alert_rules.TREND
    carried_limits = carried.filter(~is_trend)
    readings = alert_rules.evaluate_readings(silver, limits, rules, watch=carried_limits)
    carried_trends = carried.filter(is_trend)
    trends = alert_rules.evaluate_trends(hourly, cfg.thresholds.trends, watch=carried_trends)
    return done(
        nw.concat(
            same_kind(
                [
                    alert_rules.alert_episodes(
                        readings, carried_limits, units, rules, day, run.repairs()
                    ),
                    alert_rules.alert_episodes(
                        trends, carried_trends, units, rules, day, run.repairs()
                    ),
                ]
            )
        )
    )


def _baselines(
    run: RunContext, units: Frame, stats: Frame, previous: Frame, until: datetime
) -> Frame:
    """The baselines valid for the day, learning any missing now (from the previous day's
    hourly rows and this day's): for units that have none, and for units repaired since
    theirs was learned (from their post-repair hours only)."""
    known = current_baselines(done(run.engine.read(lake.UNIT_BASELINES)), run.repairs(), until)
    hourly = (
        nw.concat(same_kind([previous.select(stats.columns), stats])) if height(previous) else stats
    )
    if not height(hourly):
        return known
    window_start = first_row(hourly.select(nw.col("hour").min()))["hour"]
    # A baseline learned from hours that are being rebuilt now is learned again, so late
    # readings reach it and the result does not depend on how the data arrived.
    settled = known.filter(nw.col("established_to") <= window_start)
    todo = units.select("compressor_id").join(settled, on="compressor_id", how="anti")
    if not height(todo):
        return known
    healthy_hours = since_last_repair(hourly, run.repairs(), until, "hour")
    learned = gold.learn_baselines(
        healthy_hours.join(todo, on="compressor_id", how="inner"),
        settled,
        run.config.thresholds.baseline,
    )
    fresh = done(valid_from(learned, run.repairs(), until))
    if not height(fresh):
        return known
    run.engine.merge(lake.UNIT_BASELINES, fresh)
    kept = known.join(fresh.select("compressor_id").unique(), on="compressor_id", how="anti")
    return done(nw.concat(same_kind([kept, fresh.select(known.columns)])))
