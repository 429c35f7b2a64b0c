"""The alert history as every alerting stage reads and writes it: the alerts a day's
evaluation continues, and the write-back of what it found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import narwhals as nw

from altaviz.core.days import day_bounds
from altaviz.core.frames import Frame, done, height, rows, values
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.transforms.alerts import TREND
from altaviz.transforms.windows import latest_per_key


def carried_alerts(engine: Engine, since: datetime, types: Sequence[str]) -> Frame:
    """Alerts of the given types opened before ``since`` and not resolved by then (suppressed
    ones excepted): the alerts an evaluation starting at ``since`` continues.

    One per unit, sensor and kind (a trend, or a limit): the newest, should a history written
    before the life cycle kept one alert per pair hold more.
    """
    still_open = engine.read(
        lake.ALERT_HISTORY,
        (nw.col("opened_at") < since)
        & (nw.col("resolved_at").is_null() | (nw.col("resolved_at") >= since))
        & (nw.col("state") != "suppressed")
        & nw.col("alert_type").is_in(list(types)),
    ).with_columns((nw.col("alert_type") == TREND).alias("_trend"))
    newest = latest_per_key(still_open, ("compressor_id", "sensor", "_trend"), ("opened_at",))
    return done(newest.drop("_trend"))


def recent_alerts(
    engine: Engine, since: datetime, window: timedelta, types: Sequence[str]
) -> Frame:
    """Alerts of the given types that opened within ``window`` before ``since`` (suppressed
    ones included): those an evaluation starting at ``since`` counts towards its cap."""
    return engine.read(
        lake.ALERT_HISTORY,
        (nw.col("opened_at") >= since - window)
        & (nw.col("opened_at") < since)
        & nw.col("alert_type").is_in(list(types)),
    ).select("compressor_id", "alert_id", "alert_type", "opened_at")


def write_alerts(
    engine: Engine, alerts: Frame, days: Sequence[date], types: Sequence[str]
) -> tuple[int, int]:
    """Write the evaluation of alerts of ``types`` over consecutive ``days``; returns the
    alerts it opened and resolved that were not on record already (a rerun over the same days
    reports 0 and 0).

    The alerts that opened on the days replace those days' alerts of those types as a whole
    (none linger from an earlier, incomplete version of a day); earlier alerts they continue
    or resolve are merged on their IDs. One commit for the days, one for the merge.
    """
    start, end = day_bounds(min(days))[0], day_bounds(max(days))[1]
    resolved_at = nw.col("resolved_at")
    in_days = ~resolved_at.is_null() & (resolved_at >= start) & (resolved_at < end)
    new = opened_on(alerts, min(days), max(days))
    opened = set(values(new, "alert_id"))
    resolved = set(values(alerts.filter(in_days), "alert_id"))
    # What the history held of these alerts before this write, read once, on the driver:
    # a few rows out of a history that grows with every run.
    before = rows(
        engine.read_local(lake.ALERT_HISTORY, nw.col("alert_id").is_in(sorted(opened | resolved)))
        .filter(nw.col("alert_type").is_in(list(types)))
        .select("alert_id", in_days.alias("_resolved"))
    )
    engine.replace(lake.ALERT_HISTORY, new, {"date": list(days), "alert_type": list(types)})
    earlier = alerts.filter(nw.col("opened_at") < start)
    if height(earlier):
        engine.merge(lake.ALERT_HISTORY, earlier)
    known = {r["alert_id"] for r in before}
    was_resolved = {r["alert_id"] for r in before if r["_resolved"]}
    return len(opened - known), len(resolved - was_resolved)


def opened_on(alerts: Frame, first: date, last: date | None = None) -> Frame:
    """The alerts that opened on ``first`` (or from ``first`` to ``last``)."""
    start, end = day_bounds(first)[0], day_bounds(last or first)[1]
    return alerts.filter((nw.col("opened_at") >= start) & (nw.col("opened_at") < end))
