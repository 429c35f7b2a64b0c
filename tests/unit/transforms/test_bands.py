"""Healthy bands day by day: learned from an epoch's first full day, judging from that day
on, and the same whether the days are computed one at a time or all at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import narwhals as nw
import polars as pl
import pytest

from altaviz.config.schema import BaselineRules
from altaviz.core.sensors import SENSORS
from altaviz.lake import catalog as lake
from altaviz.transforms.bands import day_bands

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RULES = BaselineRules(hours=24, min_readings_per_hour=6)


def hours(unit: str, first: int, count: int, level: float = 100.0, gap: range = range(0)):
    """``count`` hourly rows of ``unit`` from hour ``first``, 12 readings each but the hours in
    ``gap`` (2: a stop)."""
    rows = range(first, first + count)
    return pl.DataFrame(
        {
            "compressor_id": [unit] * count,
            "hour": [T0 + timedelta(hours=h) for h in rows],
            "reading_count": [2 if h in gap else 12 for h in rows],
            **{f"{s}_mean": [level + h for h in rows] for s in SENSORS},
        },
        schema_overrides={"reading_count": pl.Int32},
    )


def none_stored() -> nw.DataFrame:
    return nw.from_native(pl.from_arrow(lake.UNIT_BASELINES.schema.arrow().empty_table()))


def repairs(*done: tuple[str, int]) -> nw.DataFrame:
    return nw.from_native(
        pl.DataFrame(
            {
                "compressor_id": [u for u, _ in done],
                "repaired_at": [T0 + timedelta(hours=h) for _, h in done],
            },
            schema={"compressor_id": pl.String, "repaired_at": pl.Datetime("us", "UTC")},
        )
    )


def bands_by_day(frame: pl.DataFrame, fixed=None, stored=None, first=date(2026, 3, 1)):
    bands, learned = day_bands(
        nw.from_native(frame), stored or none_stored(), fixed or repairs(), first, RULES
    )
    native = nw.to_native(bands).filter(pl.col("sensor") == "vibration_mms")
    return {
        (r["compressor_id"], r["date"]): r["p50"] for r in native.iter_rows(named=True)
    }, learned


def test_a_full_first_day_is_the_band_and_judges_that_day_on():
    found, learned = bands_by_day(hours("A", 0, 72))
    assert set(found) == {("A", date(2026, 3, d)) for d in (1, 2, 3)}
    assert found["A", date(2026, 3, 3)] == pytest.approx(111.5)  # the median of hours 0-23
    row = nw.to_native(learned).row(0, named=True)
    assert (row["established_from"], row["established_to"]) == (T0, T0 + timedelta(days=1))


def test_a_day_of_stops_is_not_learned_from():
    """Stopped for two hours of the first day: the band is the second day's."""
    found, _ = bands_by_day(hours("B", 0, 72, gap=range(5, 7)))
    assert ("B", date(2026, 3, 1)) not in found
    assert found["B", date(2026, 3, 2)] == pytest.approx(135.5)  # hours 24-47


def test_a_repair_starts_a_new_band_from_the_first_full_day_after_it():
    fixed = repairs(("C", 30))  # repaired at 06:00 on the second day
    found, learned = bands_by_day(hours("C", 0, 96), fixed)
    assert found["C", date(2026, 3, 1)] == pytest.approx(111.5)
    assert ("C", date(2026, 3, 2)) not in found  # the new unit has no full day yet
    assert found["C", date(2026, 3, 3)] == pytest.approx(159.5)  # hours 48-71
    assert nw.to_native(learned)["valid_from"].n_unique() == 2


def test_one_day_at_a_time_equals_all_days_at_once():
    """The embedded engine computes a day per batch, Spark a month: the same bands."""
    data = pl.concat([hours("A", 0, 96), hours("B", 0, 96, gap=range(30, 33)), hours("C", 0, 96)])
    fixed = repairs(("C", 50))
    at_once, _ = bands_by_day(data, fixed)
    stored = none_stored()
    one_by_one = {}
    for day in range(1, 5):
        first = date(2026, 3, day)
        window = data.filter(
            (pl.col("hour") >= T0 + timedelta(days=day - 2))
            & (pl.col("hour") < T0 + timedelta(days=day))
        )
        found, learned = bands_by_day(window, fixed, stored, first)
        one_by_one.update({k: v for k, v in found.items() if k[1] == first})
        keys = ["compressor_id", "sensor", "valid_from"]
        merged = pl.concat(
            [
                nw.to_native(stored).join(nw.to_native(learned), on=keys, how="anti"),
                nw.to_native(learned),
            ]
        )
        stored = nw.from_native(merged)
    assert one_by_one == at_once
