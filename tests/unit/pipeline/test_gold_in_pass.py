"""Gold computed in the cleaning's pass is kept only when each partition of units in that
pass saw every hour the fleet reported: a partition's operating modes cover its own hours."""

from datetime import UTC, datetime

import narwhals as nw
import polars as pl

from altaviz.pipeline.gold import gold_of_pass_holds

EIGHT, NINE = datetime(2026, 3, 1, 8, tzinfo=UTC), datetime(2026, 3, 1, 9, tzinfo=UTC)


def frame(**columns: list) -> nw.DataFrame:
    return nw.from_native(pl.DataFrame(columns))


def test_gold_of_the_pass_holds_when_every_partition_saw_every_hour():
    two_parts = {"parts": frame(units=[3, 2])}
    assert gold_of_pass_holds(two_parts, frame(hour=[EIGHT, NINE, EIGHT, NINE]))


def test_gold_of_the_pass_fails_when_a_partition_missed_an_hour_the_fleet_reported():
    two_parts = {"parts": frame(units=[3, 2])}
    assert not gold_of_pass_holds(two_parts, frame(hour=[EIGHT, NINE, EIGHT]))
    # A partition whose units reported nothing at all missed every hour.
    assert not gold_of_pass_holds(two_parts, frame(hour=[EIGHT, NINE]))


def test_gold_of_one_partition_holds():
    assert gold_of_pass_holds({"parts": frame(units=[5])}, frame(hour=[EIGHT, NINE]))
