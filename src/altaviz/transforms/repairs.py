"""Repairs restart a unit: what it learned about itself before is about the unit that failed.

A repair (or replacement) in the maintenance log ends every alert episode of its unit (see
:func:`altaviz.transforms.alerts.alert_episodes`) and makes the unit a new one for what is
learned from its own history: its healthy baseline is learned again from post-repair hours,
and trends fit only hours after the repair.

>>> import polars as pl
>>> from datetime import UTC, datetime
>>> log = nw.from_native(pl.DataFrame({
...     "compressor_id": ["C1", "C1"], "event_type": ["routine_service", "repair"],
...     "completed_at": [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)]}))
>>> repairs_from(log)["repaired_at"].to_list()
[datetime.datetime(2026, 3, 2, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))]
"""

from __future__ import annotations

from datetime import UTC, datetime

import narwhals as nw

from altaviz.core.frames import Frame

REPAIR_EVENTS = ("repair", "replacement")
FIRST_BAND = datetime(1970, 1, 1, tzinfo=UTC)
"""``valid_from`` of a unit's first baseline, learned before any repair."""


def repairs_from(maintenance: Frame) -> Frame:
    """The finished repairs of a maintenance log: compressor_id, repaired_at (back in service)."""
    return maintenance.filter(
        nw.col("event_type").is_in(REPAIR_EVENTS) & ~nw.col("completed_at").is_null()
    ).select("compressor_id", nw.col("completed_at").alias("repaired_at"))


def last_repair(repairs: Frame, until: datetime) -> Frame:
    """Per unit, its latest repair finished before ``until``: compressor_id, repaired_at."""
    return (
        repairs.filter(nw.col("repaired_at") < until)
        .group_by("compressor_id")
        .agg(nw.col("repaired_at").max())
    )


def since_last_repair(frame: Frame, repairs: Frame, until: datetime, moment: str) -> Frame:
    """``frame`` without the rows of a unit from before its latest repair (before ``until``)."""
    last = last_repair(repairs, until)
    if isinstance(frame, nw.LazyFrame):
        last = last.lazy()
    return (
        frame.join(last, on="compressor_id", how="left")
        .filter(nw.col("repaired_at").is_null() | (nw.col(moment) >= nw.col("repaired_at")))
        .drop("repaired_at")
    )


def current_baselines(baselines: Frame, repairs: Frame, until: datetime) -> Frame:
    """The baselines valid at ``until``: per unit, the band learned after its latest repair
    before ``until`` (or its first band, never repaired). A unit repaired and not yet learned
    again has none: the band of the unit before its repair describes a unit that is no more."""
    return valid_from(baselines.select("compressor_id").unique(), repairs, until).join(
        baselines, on=["compressor_id", "valid_from"], how="inner"
    )


def valid_from(units: Frame, repairs: Frame, until: datetime) -> Frame:
    """``units`` with ``valid_from``: the start of each unit's current band at ``until`` (its
    latest repair before then, or :data:`FIRST_BAND`)."""
    last = last_repair(repairs, until)
    if isinstance(units, nw.LazyFrame):
        last = last.lazy()
    return units.join(last, on="compressor_id", how="left").select(
        nw.exclude("repaired_at"),
        nw.col("repaired_at").fill_null(nw.lit(FIRST_BAND)).alias("valid_from"),
    )


def reference_baselines(baselines: Frame, repairs: Frame, at: datetime, until: datetime) -> Frame:
    """The healthy band to measure a unit's losses against from ``at`` on: the band learned
    after its next repair, when one is on record (a unit's first band is learned from its
    first day of data, perhaps while it was already failing; the band after the repair that
    ended the failure describes it healthy), else the band valid at ``until``."""
    upcoming = (
        repairs.filter(nw.col("repaired_at") >= at)
        .group_by("compressor_id")
        .agg(nw.col("repaired_at").min().alias("valid_from"))
    )
    after = upcoming.join(baselines, on=["compressor_id", "valid_from"], how="inner")
    now = current_baselines(baselines, repairs, until).join(
        after.select("compressor_id").unique(), on="compressor_id", how="anti"
    )
    return nw.concat([after.select(now.columns), now])
