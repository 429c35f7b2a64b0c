"""The gold stage: hourly and daily aggregates, operating modes, rule alerts and fleet health
for a batch of consecutive dates (one date on the embedded engine, many on Spark)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import partial

import narwhals as nw

from altaviz.core.days import day_bounds, days_in
from altaviz.core.file_sink import FileSink
from altaviz.core.frames import Frame, done, height, local, same_kind, scanned
from altaviz.core.sensors import SENSORS
from altaviz.lake import catalog as lake
from altaviz.pipeline.alert_store import carried_alerts, opened_on, recent_alerts, write_alerts
from altaviz.pipeline.context import RunContext
from altaviz.pipeline.silver import SilverBatch
from altaviz.pipeline.write_behind import WriteBehind
from altaviz.transforms import alerts as alert_rules
from altaviz.transforms import gold
from altaviz.transforms.modes import reported_hours
from altaviz.transforms.silver import InPass
from altaviz.transforms.unit_gold import UNIT_INPUTS, FleetFacts, unit_gold
from altaviz.transforms.windows import per_unit_frames, unit_partitions

log = logging.getLogger("altaviz.pipeline")
DAY = timedelta(days=1)


# What gold reads of a reading: Spark shuffles every column it is given.
GOLD_SILVER = ("timestamp", "compressor_id", *SENSORS, "date")
# Gold's outputs of a row per unit and hour, and their tables.
WIDE = {"hourly": lake.HOURLY_AGGREGATES, "modes": lake.OPERATING_MODES}


def gold_days(
    run: RunContext,
    writer: WriteBehind,
    days: list[date],
    units: Frame,
    hourly_of: dict[date, Frame],
    silver_of: dict[date, SilverBatch],
    computed: dict[str, Frame] | None = None,
) -> tuple[int, int, dict[date, Frame]]:
    """Operating modes, hourly and daily aggregates, bands, alerts and fleet health for a
    batch of consecutive days (all but fleet health unit by unit, see
    :mod:`altaviz.transforms.unit_gold`), each table written once for the batch. Returns the
    alerts opened and resolved, and (on an engine that carries frames) the batch's hourly
    rows for the next batch to look back on.

    ``silver_of`` maps the days rebuilt in this run to their silver; other days are read.
    ``computed``: the units' gold of the days, when the cleaning's pass computed it (see
    :func:`gold_after_cleaning`).
    """
    out = computed
    if out is None:
        silver, batch = _silver_with_lookback(run, days, silver_of)
        facts, others = _gold_inputs(
            run, days, units, hourly_of, _fleet_hours(days, batch, silver_of)
        )
        out = per_unit_frames(
            {"silver": silver.select(*GOLD_SILVER), **others},  # the readings first: the largest
            partial(unit_gold, facts=facts),
            UNIT_INPUTS,
            partitions=unit_partitions(height(units), len(days)),
            wide=tuple(WIDE),
            sinks=_sinks(run),
            small_to_driver=True,  # of a unit-day or an alert a row: read on the driver
        )
    first, last = days[0], days[-1]
    writer.submit(run.engine.replace, lake.OPERATING_MODES, out["modes"], {"date": days})
    writer.submit(run.engine.replace, lake.OPERATING_MODE_DAYS, out["mode_days"], {"date": days})
    run.engine.merge(lake.UNIT_BASELINES, out["learned"])
    hourly = out["hourly"]
    # Rows counted from the commits (a count of their own would be a Spark job each).
    counted = partial(run.rows.add, "gold_hourly")
    writer.submit(run.engine.replace, lake.HOURLY_AGGREGATES, hourly, {"date": days}, then=counted)
    # A row per unit and day: collected once, for the driver to write and for fleet health
    # (on Spark a dozen jobs of joins and group-bys over a few thousand rows otherwise).
    daily = local(out["daily"])
    counted = partial(run.rows.add, "gold_daily")
    writer.submit(run.engine.replace, lake.DAILY_AGGREGATES, daily, {"date": days}, then=counted)
    alerts = out["alerts"]
    types = alert_rules.RULE_TYPES
    # Not queued: the next batch reads the history.
    opened, resolved = write_alerts(run.engine, alerts, days, types)
    health = gold.fleet_health(daily, local(units), local(opened_on(alerts, first, last)))
    writer.submit(run.engine.replace, lake.FLEET_HEALTH, health, {"date": days})
    log.info("gold %s to %s: %d alerts opened", first, last, opened)
    if not run.engine.carries_frames:
        return opened, resolved, {}
    trend_window = timedelta(hours=run.config.thresholds.trends.window_hours)
    oldest_needed = last - timedelta(days=days_in(trend_window) - 1)  # by the next day's trends
    kept = {d: h for d, h in hourly_of.items() if d >= oldest_needed}
    fresh = {d: hourly.filter(nw.col("date") == d) for d in days if d >= oldest_needed}
    return opened, resolved, {**kept, **fresh}


def gold_after_cleaning(
    run: RunContext,
    days: list[date],
    units: Frame,
    hourly_of: dict[date, Frame],
    silver_of: dict[date, SilverBatch],
) -> InPass:
    """Gold for ``days``, every one of them cleaned now, in the cleaning's own pass: on
    Spark one shuffle of the readings and one hand-over to Python fewer than
    :func:`gold_days` on the days' silver.

    The pass cannot know two things the batch's gold depends on, so its gold is kept only
    when :func:`gold_of_pass_holds`: each day passes its quality checks, and each partition
    of units saw every hour the fleet reported (its operating modes take those hours).
    """
    tail = _tail(run, days, silver_of)
    facts, others = _gold_inputs(run, days, units, hourly_of, hours=None)

    def then(silver: Frame, inputs: dict[str, Frame]) -> dict[str, Frame]:
        own = silver.select(*GOLD_SILVER)
        readings = nw.concat(same_kind([inputs["tail"], own]))  # each unit's in time order
        out = unit_gold({**inputs, "silver": readings}, facts)
        return {**out, "parts": inputs["units"].select(nw.len().alias("units"))}

    order = {
        "tail": UNIT_INPUTS["silver"],
        **{k: v for k, v in UNIT_INPUTS.items() if k != "silver"},
    }
    # The look-back of hourly rows first: the largest input after the readings.
    inputs = {"prior": others["prior"], "tail": tail.select(*GOLD_SILVER), **others}
    return InPass(then, inputs, order, wide=tuple(WIDE), sinks=_sinks(run))


def _sinks(run: RunContext) -> dict[str, FileSink]:
    """Sinks for gold's outputs of a row per unit and hour, where the engine lets a pass
    write them itself (on local Spark: Spark's own Delta writer cost some 8 s the first
    time a run used it)."""
    sinks = {k: run.engine.file_sink(spec) for k, spec in WIDE.items()}
    return {k: sink for k, sink in sinks.items() if sink is not None}


def gold_of_pass_holds(out: dict[str, Frame], hours: Frame) -> bool:
    """Whether the gold computed in the cleaning's pass is the batch's: every partition of
    units it ran in (one row each in ``out["parts"]``) saw every hour any unit reported
    (``hours``: a row per partition and hour). A partition's operating modes cover its own
    hours, which are then the fleet's."""
    parts = height(out["parts"])
    seen = local(hours).group_by("hour").agg(nw.len().alias("n"))
    return bool((seen["n"] == parts).all())


def _gold_inputs(
    run: RunContext,
    days: list[date],
    units: Frame,
    hourly_of: dict[date, Frame],
    hours: Frame | None,
) -> tuple[FleetFacts, dict[str, Frame]]:
    """What the units' gold of ``days`` takes besides their readings: the fleet's facts,
    and the units' other rows (see :data:`UNIT_INPUTS`). ``hours``: the hours the fleet
    reported, or None for those of the units at hand."""
    cfg = run.config
    start = day_bounds(days[0])[0]
    trend_window = timedelta(hours=cfg.thresholds.trends.window_hours)
    types = alert_rules.RULE_TYPES
    window = timedelta(minutes=cfg.thresholds.alerts.aggregation_window_minutes)
    others = {
        "units": units.select("compressor_id", "model", "station_id", "region"),
        "prior": _prior_hourly(run, days[0], trend_window, hourly_of),
        # Alerts still open when the batch begins (read with the filter: the history grows).
        "carried": carried_alerts(run.engine, start, types),
        "recent": recent_alerts(run.engine, start, window, types),
    }
    facts = FleetFacts(
        days=tuple(days),
        thresholds=cfg.thresholds,
        interval_minutes=cfg.fleet.telemetry.interval_minutes,
        hours=None if hours is None else nw.to_native(hours),
        repairs=nw.to_native(run.repairs()),
        downtime=nw.to_native(run.downtime()),
        baselines=nw.to_native(run.engine.read_local(lake.UNIT_BASELINES)),
    )
    return facts, others


def _silver_with_lookback(
    run: RunContext, days: list[date], silver_of: dict[date, SilverBatch]
) -> tuple[Frame, Frame]:
    """The days' silver with the alert look-back's tail of the day before, and the days' own.

    ``silver_of`` maps the days rebuilt in this run to their batch's silver (several days may
    share one frame); the other days are read from the table.
    """
    rebuilt = [d for d in days if d in silver_of]
    frames = {id(silver_of[d]): silver_of[d].silver for d in rebuilt}
    parts = [f.filter(nw.col("date").is_in(rebuilt)) for f in frames.values()]
    if len(rebuilt) < len(days):
        others = [d for d in days if d not in silver_of]
        parts.append(scanned(run.engine.read(lake.SENSOR_CLEANED, nw.col("date").is_in(others))))
    own = nw.concat(same_kind(parts))
    return nw.concat(same_kind([_tail(run, days, silver_of), own])), own


def _tail(run: RunContext, days: list[date], silver_of: dict[date, SilverBatch]) -> Frame:
    """The silver of the day before ``days`` that the alerts look back on: from this run's,
    or the table."""
    before = days[0] - DAY
    look_from = day_bounds(days[0])[0] - timedelta(
        hours=run.config.thresholds.alerts.lookback_hours
    )
    kept = silver_of.get(before)
    if kept is None:
        tail = run.engine.read(lake.SENSOR_CLEANED, nw.col("date") == before)
    else:
        tail = kept.silver
    return tail.filter((nw.col("date") == before) & (nw.col("timestamp") >= look_from))


def _fleet_hours(days: list[date], batch: Frame, silver_of: dict[date, SilverBatch]) -> Frame:
    """The hours of ``days`` in which any unit reported: found by the cleaning's pass when
    it cleaned every one of the days, else read from ``batch``, the days' silver."""
    if not all(d in silver_of for d in days):
        return local(reported_hours(batch))
    found = {id(silver_of[d]): silver_of[d].hours for d in days}.values()  # one per batch
    hours = nw.concat([local(h) for h in found]).unique()  # on Spark, a row per partition
    return hours.filter(nw.col("hour").dt.date().is_in(days))


def _prior_hourly(
    run: RunContext, first: date, trend_window: timedelta, hourly_of: dict[date, Frame]
) -> Frame:
    """The hourly statistics and trends of the days the batch's windows look back on
    (rebuilt ones are in memory), each unit's hours in time order on the embedded engine
    (Spark's partitions are sorted where they are computed)."""
    days_back = [first - timedelta(days=k) for k in range(days_in(trend_window), 0, -1)]
    columns = [*gold.HOURLY_STAT_COLUMNS, *gold.TREND_COLUMNS]
    missing = [d for d in days_back if d not in hourly_of]
    earlier = [hourly_of[d].select(columns) for d in days_back if d in hourly_of]
    if missing:
        read = run.engine.read(lake.HOURLY_AGGREGATES, nw.col("date").is_in(missing))
        earlier.append(read.select(columns))
    prior = nw.concat(same_kind(earlier))
    return done(prior.sort("compressor_id", "hour")) if run.engine.carries_frames else prior
