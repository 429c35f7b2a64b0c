"""Reruns change nothing, a killed run recovers, and arrival order does not matter."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from altaviz.core.results import RowCounts
from altaviz.lake.catalog import TABLES
from tests.conftest import START, read_table, run_lake, write_bad_batch

# Columns that record *when* a run happened, not what the data says.
RUN_COLUMNS = {"ingested_at", "run_id"}
CONTENT_TABLES = [
    "sensor_readings",
    "dead_letter",
    "compressor_metadata",
    "stations",
    "maintenance_events",
    "sensor_cleaned",
    "quality_metrics",
    "hourly_aggregates",
    "daily_aggregates",
    "alert_history",
    "fleet_health",
    "unit_baselines",
    "emissions_estimates",
    "feature_store",
    "ml_predictions",
    "feature_drift",
]


def versions(lake: Path) -> dict[str, int | None]:
    """Every table's Delta version - but the run log, which gains a record per run by design."""
    from deltalake import DeltaTable

    found = {}
    for spec in TABLES.values():
        if spec.name == "pipeline_runs":
            continue
        path = next(lake.glob(f"*/Tables/{spec.name}"), None)
        found[spec.name] = (
            DeltaTable(path).version() if path and (path / "_delta_log").exists() else None
        )
    return found


def content(lake: Path, name: str) -> pl.DataFrame:
    frame = read_table(lake, name)
    frame = frame.drop([c for c in frame.columns if c in RUN_COLUMNS])
    return frame.sort(frame.columns, nulls_last=True)


def assert_same_lake(a: Path, b: Path) -> None:
    """Same rows everywhere; floats equal to 1e-9 relative (summation order may differ)."""
    for name in CONTENT_TABLES:
        left, right = content(a, name), content(b, name)
        assert left.height == right.height, name
        assert_frame_equal(left, right, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


def test_rerun_changes_no_table(small_fleet, tmp_path):
    lake = tmp_path / "lake"
    run_lake(small_fleet, lake)
    before = versions(lake)
    again = run_lake(small_fleet, lake)
    assert versions(lake) == before
    assert again.rows == RowCounts()  # nothing written anywhere
    assert again.status == "success"


@pytest.mark.parametrize(
    "wait_for",
    ["lh_silver_cleaned/Tables/sensor_cleaned", "lh_gold_curated/Tables/hourly_aggregates"],
)
def test_killed_run_then_rerun_equals_a_clean_run(small_fleet, small_lake, tmp_path, wait_for):
    """SIGKILL the pipeline mid-write (as soon as a stage's first commit lands), rerun it."""
    lake = tmp_path / "lake"
    cmd = [
        sys.executable,
        "-m",
        "altaviz",
        "pipeline",
        "--source",
        str(small_fleet),
        "--lakehouse",
        str(lake),
        "--json",
    ]
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = lake / wait_for / "_delta_log"
    deadline = time.monotonic() + 120
    while not (marker.exists() and any(marker.glob("*.json"))) and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    summary = run_lake(small_fleet, lake)
    assert summary.status == "success"
    assert_same_lake(lake, small_lake[1])


def test_day_by_day_arrival_equals_one_run(small_fleet, small_lake, tmp_path):
    """Landing partitions arrive one day at a time (late readings land the next day)."""
    source = tmp_path / "landing"
    lake = tmp_path / "lake"
    source.mkdir()
    for reference in small_fleet.glob("*.parquet"):  # metadata, stations, maintenance, packing
        shutil.copy2(reference, source / reference.name)
    for part in sorted((small_fleet / "telemetry").iterdir()):
        shutil.copytree(part, source / "telemetry" / part.name, copy_function=shutil.copy2)
        summary = run_lake(source, lake)
        assert summary.status == "success"
    assert_same_lake(lake, small_lake[1])


def test_bad_records_go_to_dead_letter_and_counts_reconcile(small_fleet, tmp_path):
    source = tmp_path / "landing"
    shutil.copytree(small_fleet, source, copy_function=shutil.copy2)
    folder = write_bad_batch(source).parent
    lake = tmp_path / "lake"
    summary = run_lake(source, lake)
    letters = read_table(lake, "dead_letter")
    bronze = read_table(lake, "sensor_readings")
    landed = sum(
        pq.read_metadata(f).num_rows for f in (source / "telemetry").glob("date=*/*.parquet")
    )
    assert landed == bronze.height + letters.height  # in = accepted + rejected
    assert summary.rejected == letters.height == 8
    reasons = dict(
        zip(letters["source_offset"].to_list(), letters["reason"].to_list(), strict=True)
    )
    assert reasons[0] == "unknown compressor_id: not in the fleet"
    assert reasons[1].startswith("malformed compressor_id")
    assert reasons[2] == "missing timestamp"
    assert reasons[3] == "timestamp before 2000-01-01"
    assert reasons[4].startswith("timestamp in the future: more than 60 min after it was")
    assert reasons[5] == "vibration_mms: cannot read abc as float64"
    assert reasons[6] == "missing compressor_id"
    assert reasons[7] == "timestamp: cannot read not a time as timestamp"
    assert set(letters["source"]) == {f"telemetry/{folder.name}/late-batch.parquet"}
    import json

    raw = json.loads(letters.filter(pl.col("source_offset") == 5)["raw_record"].item())
    assert raw["vibration_mms"] == "abc" and raw["compressor_id"] == "COMP-0001"
    # Valid readings of that file in bronze: none (all eight were bad); rerun adds nothing.
    before = versions(lake)
    run_lake(source, lake)
    assert versions(lake) == before


def test_critical_quality_holds_dates_back_until_skipped(small_fleet, tmp_path):
    source = tmp_path / "landing"
    shutil.copytree(small_fleet, source, copy_function=shutil.copy2)
    # Only a fifth of the registered fleet reports: fleet completeness is critical.
    keep = pl.read_parquet(source / "compressor_metadata.parquet")["compressor_id"].head(60)
    for f in (source / "telemetry").glob("date=*/*.parquet"):
        frame = pl.read_parquet(f).filter(pl.col("compressor_id").is_in(keep.to_list()))
        frame.write_parquet(f)
    lake = tmp_path / "lake"
    held = run_lake(source, lake)
    assert held.status == "quality_failed"
    assert held.blocked_dates and not held.dates["gold"]
    assert read_table(lake, "hourly_aggregates").height == 0
    quality = read_table(lake, "quality_metrics").filter(check="fleet_completeness")
    assert (quality["severity"] == "critical").all() and (quality["value"] == 0.2).all()
    released = run_lake(source, lake, skip_quality=True)
    assert released.status == "success"
    assert released.dates["gold"] == held.blocked_dates
    assert read_table(lake, "hourly_aggregates").height > 0


def test_files_committed_together_are_ingested_once_after_a_stopped_run(small_fleet, tmp_path):
    """An engine that records one transaction per commit (Delta on Spark) lands many files
    per commit under a group transaction, recording the group's files first. A run stopped
    between that record and bronze's commit leaves a group on record with no rows: the next
    run retries the group as it was, and no file lands twice."""
    from altaviz.config import load_config
    from altaviz.engines.polars_engine import PolarsEngine
    from altaviz.lake import catalog as lake
    from altaviz.lake.location import lake_location
    from altaviz.pipeline import PipelineRequest, run_pipeline
    from altaviz.pipeline.bronze import landing_file_id, recorded_groups
    from altaviz.settings import Settings

    class OneTxnPerCommit(PolarsEngine):
        one_txn_per_commit = True

    source, lakehouse = tmp_path / "landing", tmp_path / "lake"
    shutil.copytree(small_fleet, source, copy_function=shutil.copy2)
    write_bad_batch(source)
    location = lake_location(load_config().lakehouse, Settings(_env_file=None), root=lakehouse)
    engine = OneTxnPerCommit(location)
    files = sorted((source / "telemetry").rglob("*.parquet"))
    ids = [landing_file_id(f, f.relative_to(source).as_posix()) for f in files]
    first_day = [i for f, i in zip(files, ids, strict=True) if f.parent == files[0].parent]
    # What a stopped run left: its first group recorded, neither table written.
    stale = engine.frame(
        lake.LANDING_FILES,
        {
            "file_id": first_day,
            "group_id": ["files:stopped-run"] * len(first_day),
            "path": ["telemetry/..."] * len(first_day),
            "recorded_at": [START] * len(first_day),
        },
    )
    engine.merge(lake.LANDING_FILES, stale)

    def run() -> None:
        request = PipelineRequest(source=source, lakehouse=lakehouse, skip_ml=True)
        assert run_pipeline(request, engine=engine).status == "success"

    run()
    bronze, letters = read_table(lakehouse, "sensor_readings"), read_table(lakehouse, "dead_letter")
    landed = sum(pq.read_metadata(f).num_rows for f in files)
    assert landed == bronze.height + letters.height  # in = accepted + rejected, once each
    assert letters.height == 8
    groups = recorded_groups(engine, ids)
    assert set(groups) == set(ids)  # every file is on record with its commit's group
    assert {groups[i] for i in first_day} == {"files:stopped-run"}  # retried as it was
    commits = engine.txn_versions(lake.SENSOR_READINGS, sorted(set(groups.values())))
    assert all(v == 1 for v in commits.values())
    # Dates of each file kept: a group's rows are partitioned by their own landing date.
    assert set(bronze["ingestion_date"].cast(pl.String)) == {
        f.parent.name.removeprefix("date=") for f in files
    }
    before = versions(lakehouse)
    run()
    assert versions(lakehouse) == before
