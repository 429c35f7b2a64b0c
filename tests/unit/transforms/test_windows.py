"""The native window functions, on both backends: the same answers from Polars and Spark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import narwhals as nw
import pytest

from altaviz.transforms.windows import (
    CHUNK_ROWS,
    latest_per_key,
    literal_frame,
    per_unit_frames,
    trailing_mean,
    trailing_trimmed_mean,
)
from tests.unit.transforms.conftest import rows_of

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(params=["polars", "spark"])
def backend(request: pytest.FixtureRequest) -> str:
    """These native functions are written once per backend: both must agree."""
    return request.param


def minutes(*offsets: int) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in offsets]


def test_latest_per_key_keeps_the_newest_version_and_treats_nulls_as_oldest(frame):
    rows = frame(
        {
            "compressor_id": ["C1", "C1", "C1", "C2"],
            "timestamp": minutes(0, 0, 0, 0),
            "ingested_at": [T0, T0 + timedelta(hours=1), None, T0],
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )
    kept = rows_of(
        latest_per_key(rows, ("compressor_id", "timestamp"), ("ingested_at",)), "compressor_id"
    )
    assert [(r["compressor_id"], r["value"]) for r in kept] == [("C1", 2.0), ("C2", 4.0)]


def test_trailing_trimmed_mean_drops_the_extremes_of_the_previous_readings(frame):
    # Previous four readings of the fifth: 10, 11, 100, 12 -> drop 100 and 10 -> (11 + 12) / 2.
    rows = frame(
        {
            "compressor_id": ["C1"] * 5,
            "timestamp": minutes(0, 5, 10, 15, 20),
            "v": [10.0, 11.0, 100.0, 12.0, 13.0],
        }
    )
    levelled = rows_of(
        trailing_trimmed_mean(rows, ["v"], count=4, min_count=3, within=timedelta(minutes=30)),
        "timestamp",
    )
    assert [r["_level_v"] for r in levelled[:4]] == [None] * 4  # fewer than four behind them
    assert levelled[4]["_level_v"] == pytest.approx(11.5)


def test_trailing_trimmed_mean_has_no_level_after_a_gap(frame):
    rows = frame(
        {
            "compressor_id": ["C1"] * 5,
            "timestamp": minutes(0, 5, 10, 15, 200),  # the fifth comes after a long silence
            "v": [10.0, 11.0, 12.0, 13.0, 14.0],
        }
    )
    levelled = rows_of(
        trailing_trimmed_mean(rows, ["v"], count=4, min_count=3, within=timedelta(minutes=30)),
        "timestamp",
    )
    assert levelled[4]["_level_v"] is None


def test_trailing_mean_covers_the_window_ending_at_each_row_per_unit(frame):
    rows = frame(
        {
            "compressor_id": ["C1", "C1", "C1", "C2"],
            "timestamp": minutes(0, 30, 90, 30),
            "v": [1.0, 3.0, 5.0, 100.0],
        }
    )
    means = rows_of(
        trailing_mean(rows, ["v"], {"_1h": timedelta(hours=1)}, min_samples=1),
        "compressor_id",
        "timestamp",
    )
    # C1 at 0:30 sees 0:00 and 0:30; at 1:30 the hour back reaches only 0:30 (exclusive) on.
    assert [r["v_1h"] for r in means] == [1.0, 2.0, 5.0, 100.0]


def test_trailing_mean_is_null_below_the_minimum_of_samples(frame):
    rows = frame({"compressor_id": ["C1", "C1"], "timestamp": minutes(0, 5), "v": [1.0, None]})
    means = rows_of(
        trailing_mean(rows, ["v"], {"_1h": timedelta(hours=1)}, min_samples=2), "timestamp"
    )
    assert [r["v_1h"] for r in means] == [None, None]


def test_literal_frame_joins_small_data_and_spark_broadcasts_it(frame, backend):
    readings = frame({"compressor_id": ["C1", "C2", "C3"], "value": [1.0, 2.0, 3.0]})
    small = literal_frame(
        readings, {"compressor_id": ["C1", "C3"], "flag": [1, None]}, ("compressor_id",)
    )
    joined = readings.join(small, on="compressor_id", how="left")
    got = [(r["compressor_id"], r["flag"]) for r in rows_of(joined, "compressor_id")]
    assert got == [("C1", 1.0), ("C2", None), ("C3", None)]
    if backend == "spark":  # without the hint, Spark sort-merge joins rows built in Python
        plan = nw.to_native(joined)._jdf.queryExecution().executedPlan().toString()
        assert "BroadcastHashJoin" in plan and "SortMergeJoin" not in plan


@pytest.mark.parametrize("small_to_driver", [False, True])
def test_per_unit_frames_returns_every_row_of_every_output_in_each_unit_order(
    frame, small_to_driver
):
    """An output of many chunks comes back whole, each unit's rows in the order computed;
    a small output beside it and an empty one come back as they were. Brought to the
    driver, the outputs not large are the driver's own frames, their rows the same."""
    many = 2 * CHUNK_ROWS + 5
    ids = ["C1"] * many + ["C2"] * 3
    readings = frame({"compressor_id": ids, "x": [*range(many), 0, 1, 2]})

    def compute(frames):
        mine = frames["readings"]
        return {
            "rows": mine.select("compressor_id", "x", (nw.col("x") * 2).alias("twice")),
            "units": mine.group_by("compressor_id").agg(nw.len().alias("n")),
            "none": mine.filter(nw.col("x") < 0).select("x"),
            "copied": mine.select("compressor_id", "x"),  # of many chunks, not large
        }

    order = {"readings": ("compressor_id", "x")}
    out = per_unit_frames(
        {"readings": readings}, compute, order, large=("rows",), small_to_driver=small_to_driver
    )
    if not readings.implementation.is_polars():
        on_driver = {k for k, v in out.items() if v.implementation.is_polars()}
        assert on_driver == ({"units", "none", "copied"} if small_to_driver else set())
    copied = rows_of(out["copied"], "compressor_id", "x")
    expected = list(zip(ids, [*range(many), 0, 1, 2], strict=True))
    assert [(r["compressor_id"], r["x"]) for r in copied] == expected
    rows = rows_of(out["rows"])
    first = [(r["x"], r["twice"]) for r in rows if r["compressor_id"] == "C1"]
    assert first == [(x, 2 * x) for x in range(many)]
    assert len(rows) == many + 3
    assert {r["compressor_id"]: r["n"] for r in rows_of(out["units"])} == {"C1": many, "C2": 3}
    assert rows_of(out["none"]) == [] and out["none"].columns == ["x"]
