"""Gold for a batch of consecutive days, unit by unit: operating modes, hourly and daily
aggregates, the bands and limits of each day, and the rule alerts.

Nothing here looks across units, so the whole of it runs as one piece of Polars code over
any set of whole units: all of them at once on the embedded engine, a partition of them at
a time on Spark's executors (:func:`altaviz.transforms.windows.per_unit_frames`) - one
shuffle and one pass where Spark's own plan took some 200 jobs a batch.

>>> sorted(UNIT_INPUTS)
['carried', 'prior', 'recent', 'silver', 'units']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import narwhals as nw

from altaviz.config.schema.rules import ThresholdsConfig
from altaviz.core.days import day_bounds
from altaviz.core.frames import Frame, done, same_kind
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms import gold
from altaviz.transforms.bands import day_bands, unit_days
from altaviz.transforms.limits import unit_limits
from altaviz.transforms.modes import daily_modes, hourly_modes, running

DAY = timedelta(days=1)
# The units' own rows, and how each is ordered before the computation (each unit's in time);
# the largest first (see ``per_unit_frames``).
UNIT_INPUTS = {
    "silver": ("compressor_id", "timestamp"),  # the days' and the look-back's readings
    "units": (),  # the registered units (compressor_id, model, station_id, region)
    "prior": ("compressor_id", "hour"),  # hourly statistics and trends of the days before
    "carried": (),  # alerts open when the batch begins
    "recent": (),  # alerts opened just before it (they count towards the cap)
}


@dataclass(frozen=True)
class FleetFacts:
    """What the units' gold needs besides their own rows: small frames, the same for every
    unit (Polars frames, so that they travel to Spark's executors with the computation)."""

    days: tuple[date, ...]
    thresholds: ThresholdsConfig
    interval_minutes: int  # between a unit's readings
    hours: Any  # the hours in which any unit of the fleet reported (column ``hour``), or None
    # for the hours of the units at hand (all of them on the embedded engine)
    repairs: Any  # compressor_id, repaired_at
    downtime: Any  # compressor_id, started_at, completed_at
    baselines: Any  # unit_baselines

    def frame(self, name: str) -> Frame:
        return nw.from_native(getattr(self, name))


def unit_gold(inputs: dict[str, Frame], facts: FleetFacts) -> dict[str, Frame]:
    """The batch's gold tables for the units in ``inputs`` (see :data:`UNIT_INPUTS`):
    ``modes`` and ``mode_days`` (hours per operating mode), ``hourly``, ``daily``, ``alerts``
    (their rows for ``alert_history``) and ``learned`` (the bands learned now, for
    ``unit_baselines``)."""
    cfg = facts.thresholds
    days = list(facts.days)
    start = day_bounds(days[0])[0]
    repairs, downtime = facts.frame("repairs"), facts.frame("downtime")
    units = inputs["units"]
    modes = hourly_modes(
        inputs["silver"].filter(nw.col("timestamp") >= start),
        units,
        downtime,
        facts.interval_minutes,
        cfg.operating_modes,
        hours=None if facts.hours is None else facts.frame("hours"),
    )
    # A stopped unit's readings tell its mode, not its condition: gold describes it running.
    silver = inputs["silver"].filter(running(cfg.operating_modes))
    prior = inputs["prior"]
    stats = done(gold.hourly_stats(silver.filter(nw.col("timestamp") >= start)))
    before = prior.filter(nw.col("hour") >= start - DAY)
    limits, learned = _day_limits(facts, units, stats, before)
    trend_window = timedelta(hours=cfg.trends.window_hours)
    hourly = done(
        gold.hourly_aggregates(
            stats,
            prior,
            units,
            limits,
            days,
            trend_window=trend_window,
            trend_min_hours=cfg.trends.min_hours,
            trend_sensors=tuple(cfg.trends.sensors),
            repairs=repairs,
        )
    )
    alerts = _rule_alerts(facts, units, inputs, silver, hourly, limits)
    return {
        "modes": modes,
        "mode_days": daily_modes(modes, units, downtime),
        "hourly": hourly,
        "daily": gold.daily_aggregates(hourly),
        "alerts": alerts,
        "learned": learned,
    }


def _day_limits(
    facts: FleetFacts, units: Frame, stats: Frame, before: Frame
) -> tuple[Frame, Frame]:
    """Every unit's limits on each day of the batch and the day before it (whose readings
    the alerts look back on), from the bands valid on each day; and the bands learned."""
    hours = nw.concat(same_kind([before.select(stats.columns), stats]))
    repairs = facts.frame("repairs")
    bands, learned = day_bands(
        hours, facts.frame("baselines"), repairs, facts.days[0], facts.thresholds.baseline, units
    )
    unit_dates = unit_days(hours, units, repairs).join(
        units.lazy().select("compressor_id", "model"), on="compressor_id", how="left"
    )
    limits = unit_limits(unit_dates, bands, facts.thresholds, keys=("compressor_id", "date"))
    return done(limits), learned


def _rule_alerts(
    facts: FleetFacts,
    units: Frame,
    inputs: dict[str, Frame],
    silver: Frame,
    hourly: Frame,
    limits: Frame,
) -> Frame:
    """Threshold, deviation and trend alerts of the days, continuing the open ones."""
    rules = facts.thresholds.alerts
    first, last = facts.days[0], facts.days[-1]
    start = day_bounds(first)[0]
    repairs = facts.frame("repairs")
    carried, recent = inputs["carried"], inputs["recent"]
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
                inputs["prior"]
                .filter(nw.col("hour") >= start - memory)
                .select("compressor_id", "hour", *gold.TREND_COLUMNS),
                hourly.select("compressor_id", "hour", *gold.TREND_COLUMNS),
            ]
        )
    )
    trends = alert_rules.evaluate_trends(trend_hours, facts.thresholds.trends, watch=carried_trends)
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
