"""The simulator's files agree with its own ground truth, reading by reading."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from altaviz.core.sensors import SENSORS
from altaviz.fleet.failure_modes import MODES
from altaviz.fleet.truth import read_dirt, read_failures, severity_at
from tests.conftest import START, read_telemetry

STEP = timedelta(minutes=5)


@pytest.fixture(scope="module")
def day(full_day):
    summary, out = full_day
    return summary, out, read_telemetry(out)


def _offline_slots(out, start, end) -> pl.DataFrame:
    """(compressor_id, timestamp) slots during trips/repairs and service windows."""
    failures = read_failures(out).select(
        "compressor_id", s=pl.col("failure_time"), e=pl.col("back_online_time")
    )
    service = pl.read_parquet(out / "maintenance_events.parquet").select(
        "compressor_id", s=pl.col("started_at"), e=pl.col("completed_at")
    )
    windows = pl.concat([failures, service]).filter(pl.col("s") < end, pl.col("e") > start)
    grid = pl.datetime_range(start, end, STEP, closed="left", eager=True, time_zone="UTC").alias(
        "timestamp"
    )
    return (
        windows.join(pl.DataFrame(grid), how="cross")
        .filter(pl.col("timestamp") >= pl.col("s"), pl.col("timestamp") < pl.col("e"))
        .select("compressor_id", "timestamp")
        .unique()
    )


def test_rows_reconcile_with_schedule_downtime_and_duplicates(day):
    summary, out, tel = day
    dirt = read_dirt(out)
    offline = _offline_slots(out, summary.start, summary.end)
    duplicates = dirt.filter(kind="duplicate").height
    assert summary.scheduled_readings == 4700 * 288
    assert tel.height == summary.rows
    assert tel.height == summary.scheduled_readings - offline.height + duplicates
    # No reading during downtime; every other slot is present exactly once before dedup.
    keys = tel.select("compressor_id", "timestamp").unique()
    assert keys.join(offline, on=["compressor_id", "timestamp"], how="semi").height == 0
    assert keys.height == summary.scheduled_readings - offline.height


def test_every_unit_on_one_utc_five_minute_clock(day):
    summary, _, tel = day
    assert tel.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert tel.schema["received_at"] == pl.Datetime("us", "UTC")
    offsets = (tel["timestamp"] - summary.start).dt.total_microseconds()
    assert (offsets % (5 * 60 * 1_000_000) == 0).all()
    assert tel["timestamp"].min() == summary.start
    assert tel["timestamp"].max() == summary.end - STEP
    assert tel["received_at"].max() < summary.end
    assert (tel["received_at"] >= tel["timestamp"]).all()


def test_partitions_hold_readings_by_arrival_date(day):
    _, out, tel = day
    assert (tel["date"] == tel["received_at"].dt.date()).all()
    parts = sorted(p.name for p in (out / "telemetry").iterdir())
    assert parts[0] == f"date={START.date()}"
    assert tel["compressor_id"].str.contains(r"^COMP-\d{4}$").all()


def test_duplicates_are_identical_resends_recorded_in_truth(day):
    _, out, tel = day
    dupes = tel.filter(pl.len().over("compressor_id", "timestamp") > 1)
    truth = read_dirt(out).filter(kind="duplicate")
    assert dupes.height == 2 * truth.height
    keys = dupes.select("compressor_id", "timestamp").unique()
    assert keys.sort(pl.all()).equals(truth.select("compressor_id", "timestamp").sort(pl.all()))
    same = dupes.group_by("compressor_id", "timestamp").agg(
        [pl.col(s).n_unique() for s in SENSORS] + [pl.col("received_at").sort().alias("arrivals")]
    )
    assert (same.select(SENSORS).max_horizontal() == 1).all()
    # The resend arrives later (or, capped at the run's end, at the same instant).
    assert (same["arrivals"].list.get(1) >= same["arrivals"].list.get(0)).all()
    assert (same["arrivals"].list.get(1) > same["arrivals"].list.get(0)).mean() > 0.99


def test_dirt_shares_and_values_match_truth(day, config):
    _, out, tel = day
    spec = config.fleet.dirt
    first = tel.sort("received_at").unique(["compressor_id", "timestamp"], keep="first")
    dirt = read_dirt(out)
    n = first.height
    shares = {
        k: dirt.filter(kind=k).height / n
        for k in ("glitch", "sensor_dropout", "reading_dropout", "duplicate")
    }
    assert shares["glitch"] == pytest.approx(spec.glitch_share, rel=0.1)
    assert shares["sensor_dropout"] == pytest.approx(spec.sensor_dropout_share, rel=0.1)
    assert shares["reading_dropout"] == pytest.approx(spec.reading_dropout_share, rel=0.25)
    assert shares["duplicate"] == pytest.approx(spec.duplicate_share, rel=0.15)

    # Nulls: exactly the dropped sensors, and all six for a dropped reading.
    nulls = sum(first[s].null_count() for s in SENSORS)
    dropped = (
        dirt.filter(kind="sensor_dropout").unique(["compressor_id", "timestamp", "sensor"]).height
    )
    whole = dirt.filter(kind="reading_dropout")
    overlap = dirt.filter(kind="sensor_dropout").join(
        whole, on=["compressor_id", "timestamp"], how="semi"
    )
    assert (
        nulls
        == dropped
        - overlap.unique(["compressor_id", "timestamp", "sensor"]).height
        + 6 * whole.height
    )

    # Glitches: the file holds the glitched value, 15-35 % off its clean reading (a stopped
    # unit's zero power or flow stays zero).
    glitch = dirt.filter(kind="glitch").join(first, on=["compressor_id", "timestamp"])
    for sensor in SENSORS:
        g = glitch.filter(sensor=sensor)
        hit = g.filter(pl.col(sensor).is_not_null())  # a later dropout may null it
        assert (hit[sensor] == hit["value"]).all()
        hit = hit.filter(pl.col("clean_value") != 0)
        ratio = (hit["value"] / hit["clean_value"] - 1).abs()
        rounding = 0.006 / hit["clean_value"].abs()  # values are reported to 2 decimals
        assert (ratio >= 0.15 - rounding).all() and (ratio <= 0.35 + rounding).all(), sensor

    # Late: more than 15 minutes after the reading, for exactly the rows truth names.
    late_rows = first.filter(
        (pl.col("received_at") - pl.col("timestamp")) > pl.duration(minutes=15)
    )
    truth_late = dirt.filter(kind="late")
    assert late_rows.height == truth_late.height
    assert late_rows.height / n == pytest.approx(spec.late_share, rel=0.1)
    assert late_rows.join(truth_late, on=["compressor_id", "timestamp"], how="anti").height == 0


def test_about_five_percent_degrading_from_the_first_hour(day):
    summary, out, _ = day
    failures = read_failures(out)
    for hour in (0, 1, 12, 23):
        sev = severity_at(failures, summary.start + timedelta(hours=hour))
        degrading = sev.filter(pl.col("severity") != "offline").height / 4700
        critical = sev.filter(pl.col("severity") == "critical").height / 4700
        assert 0.04 <= degrading <= 0.06, hour
        assert 0.005 <= critical <= 0.025, hour
    assert summary.degrading_at_start > 0 and summary.critical_at_start > 0
    assert set(summary.modes) == set(MODES) and all(summary.modes.values())


def test_degrading_units_show_it_in_their_telemetry(day, config):
    """A critical unit reads measurably off its own baseline; a healthy one does not."""
    summary, out, tel = day
    failures = read_failures(out)
    units = pl.read_parquet(out / "truth" / "units.parquet")
    last_hour = tel.filter(pl.col("timestamp") >= summary.end - timedelta(hours=1))
    sev = severity_at(failures, summary.end - timedelta(minutes=30))
    critical = sev.filter(severity="critical")
    rows = []
    for unit, mode in critical.select("compressor_id", "failure_mode").iter_rows():
        truth = failures.filter(compressor_id=unit, failure_mode=mode).row(0, named=True)
        sensor = truth["primary_sensor"]
        readings = last_hour.filter(compressor_id=unit)[sensor].drop_nulls()
        if readings.len() < 6:
            continue  # in a service window
        base = units.filter(compressor_id=unit)[f"baseline_{sensor}"].item()
        stat = readings.max() if mode == "valve_failure" else readings.median()
        rows.append(abs(stat / base - 1))
    # Every critical unit is past its floating warning (6 % for the gentlest, packing leak).
    assert len(rows) > 50 and min(rows) > 0.06
    healthy = units.join(failures, on="compressor_id", how="anti").head(500)
    med = (
        last_hour.filter(pl.col("horsepower") > 0)  # running: a unit in standby cools down
        .join(healthy, on="compressor_id")
        .group_by("compressor_id")
        .agg(pl.col("discharge_temp_f").median(), pl.col("baseline_discharge_temp_f").first())
    )
    # Ambient swing (up to ~2 %) plus 3 % noise on a 12-reading median: within 7 % for all.
    off = (med["discharge_temp_f"] / med["baseline_discharge_temp_f"] - 1).abs()
    assert off.max() < 0.07 and off.median() < 0.02


def test_truth_explains_every_degrading_unit(day):
    summary, out, _ = day
    failures = read_failures(out)
    in_run = failures.filter(
        pl.col("onset_time") < summary.end, pl.col("failure_time") > summary.start
    )
    assert in_run["compressor_id"].n_unique() == summary.degrading
    assert failures.null_count().drop("warning_crossed_time").sum_horizontal().item() == 0
    assert (failures["onset_time"] < failures["warning_time"]).all()
    assert (failures["warning_time"] < failures["critical_time"]).all()
    assert (failures["critical_time"] < failures["failed_time"]).all()
    assert (failures["failed_time"] < failures["failure_time"]).all()
    assert (failures["failure_time"] < failures["back_online_time"]).all()
    assert (failures["warning_crossed_time"] < failures["failure_time"]).all()
    # Every failure inside the run is followed by a repair in the maintenance log.
    log = pl.read_parquet(out / "maintenance_events.parquet")
    tripped = failures.filter(
        pl.col("failure_time").is_between(summary.start, summary.end, closed="left")
    )
    repairs = log.filter(event_type="repair")
    matched = tripped.join(
        repairs,
        left_on=["compressor_id", "failure_time", "failure_mode"],
        right_on=["compressor_id", "started_at", "failure_mode"],
    )
    assert matched.height == tripped.height > 0
    assert (matched["completed_at"] == matched["back_online_time"]).all()
    assert log["event_id"].is_unique().all()
