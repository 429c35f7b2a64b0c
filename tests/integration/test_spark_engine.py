"""The Spark engine against the embedded one, on a real local Spark with real Delta Lake.

One fixture covers what parity must hold on: duplicates, spikes, dropouts, late data, bad
records and one planted failure of every mode. Both engines run it; every table must come out
equal. Then the lakehouse changes engine mid-stream (Polars, Spark, Polars) and must still
equal a single-engine run.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from altaviz.config import load_config
from altaviz.core.results import RowCounts
from altaviz.fleet import SimulationRequest, simulate
from altaviz.fleet.failure_modes import MODES
from altaviz.lake import catalog as lake
from tests.conftest import START, planted_config, read_table, run_lake, write_bad_batch
from tests.lake_parity import DATA_TABLES, ML_TABLES, differences

pytest.importorskip("pyspark", reason="the Spark engine is an optional extra: make test has it")

DAYS = 6
ONE_RUN_TABLES = tuple(t for t in DATA_TABLES if t is not lake.ALERT_HISTORY)
REFERENCE = (
    "compressor_metadata.parquet",
    "stations.parquet",
    "maintenance_events.parquet",
    "packing_measurements.parquet",
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, config) -> Path:
    """The demo fleet for six days: every failure mode planted (each trips on the last day but
    one), standby spells, the fleet's usual dirt, and a landing file of bad records."""
    cfg = with_standby(planted_config(config, failed_days_before_end=1.0))
    out = tmp_path_factory.mktemp("spark_fleet") / "fleet"
    simulate(SimulationRequest(output=out, days=DAYS, seed=9, start=START, demo=True), config=cfg)
    write_bad_batch(out)
    return out


@pytest.fixture(scope="module")
def polars_lake(tmp_path_factory, fleet) -> Path:
    lake = tmp_path_factory.mktemp("parity_polars") / "lake"
    assert run_lake(fleet, lake, skip_ml=True, skip_quality=True).status == "success"
    return lake


@pytest.fixture(scope="module")
def spark_lake(tmp_path_factory, fleet) -> Path:
    lake = tmp_path_factory.mktemp("parity_spark") / "lake"
    summary = run_lake(fleet, lake, skip_ml=True, skip_quality=True, engine="spark")
    assert summary.status == "success" and summary.engine == "spark"
    return lake


def with_standby(config):
    """``config`` whose demo fleet stands by every two days or so."""
    standby = config.fleet.standby.model_copy(update={"demo": True, "mean_days_between": 2.0})
    return dataclasses.replace(config, fleet=config.fleet.model_copy(update={"standby": standby}))


def test_the_fixture_holds_what_parity_must_cover(fleet, polars_lake):
    truth = pl.read_parquet(fleet / "truth" / "failures.parquet")
    assert set(truth["failure_mode"]) >= set(MODES)
    quality = read_table(polars_lake, "quality_metrics")
    total = dict(quality.group_by("check").agg(pl.col("value").sum()).iter_rows())
    assert total["duplicates_removed"] > 0
    assert sum(v for k, v in total.items() if k.startswith("spikes_nulled_")) > 0
    assert total["late_arrivals"] > 0
    bronze = read_table(polars_lake, "sensor_readings")
    assert bronze.filter(pl.col("vibration_mms").is_null()).height > 0  # dropouts
    assert read_table(polars_lake, "dead_letter").height == 8
    modes = read_table(polars_lake, "operating_mode_days")
    assert modes["standby_hours"].sum() > 0 and modes["depressurised_hours"].sum() > 0
    alerts = read_table(polars_lake, "alert_history")
    assert alerts.filter(pl.col("compressor_id").is_in(truth["compressor_id"])).height > 0


def test_spark_writes_the_same_tables_as_polars(polars_lake, spark_lake):
    assert differences(polars_lake, spark_lake) == []


TELEMETRY_TABLES = [lake.SENSOR_READINGS, lake.SENSOR_CLEANED, lake.HOURLY_AGGREGATES]


@pytest.mark.parametrize("spec", TELEMETRY_TABLES, ids=lambda spec: spec.name)
def test_spark_writes_file_statistics_on_the_telemetry_tables_keys_only(spark_lake, spec):
    from deltalake import DeltaTable

    from altaviz.lake.location import lake_location
    from altaviz.settings import Settings

    location = lake_location(load_config().lakehouse, Settings(_env_file=None), root=spark_lake)
    table = DeltaTable(location.table_uri(spec.layer, spec.name))
    actions = pl.DataFrame(table.get_add_actions(flatten=True))
    assert actions.height > 0
    recorded = {c.removeprefix("min.") for c in actions.columns if c.startswith("min.")}
    assert recorded == set(spec.stats_on)


def test_spark_scores_the_days_as_polars_does(fleet, polars_lake, spark_lake, tmp_path):
    """The ML stage, owed for the six days, run on each engine's lakehouse with a model
    registry of its own: one pass over the units for the whole batch on Spark, a day at a
    time embedded; features, predictions, model alerts, emissions and drift all equal."""
    scored = {}
    for engine, built in (("polars", polars_lake), ("spark", spark_lake)):
        lake_copy, mlflow = tmp_path / engine / "lake", tmp_path / engine / "mlflow"
        shutil.copytree(built, lake_copy)
        mlflow.mkdir()
        summary = run_lake(fleet, lake_copy, mlflow=mlflow, skip_quality=True, engine=engine)
        assert summary.status == "success" and len(summary.ml.dates) == DAYS
        assert summary.ml.trained_version is not None  # each trained its own first model
        scored[engine] = lake_copy, summary.ml
    (polars, embedded), (spark, scaled) = scored["polars"], scored["spark"]
    assert embedded.predictions > 0 and embedded.alerts_opened > 0
    assert (scaled.predictions, scaled.alerts_opened, scaled.emissions_rows) == (
        embedded.predictions,
        embedded.alerts_opened,
        embedded.emissions_rows,
    )
    assert differences(polars, spark, ML_TABLES) == []


def _land_in_batches(
    fleet: Path, root: Path, engines: tuple[str, ...], cuts: tuple[int, ...] = (3, 5)
) -> Path:
    """Land the fleet's days in batches (by default days 1-3, 4-5, 6 and the late tail; the
    ``cuts`` are the day numbers each batch ends after), running the pipeline after each
    with the batch's engine; returns the lakehouse."""
    source, lake = root / "landing", root / "lake"
    (source / "telemetry").mkdir(parents=True)
    for name in REFERENCE:
        shutil.copy2(fleet / name, source / name)
    parts = sorted((fleet / "telemetry").iterdir())
    bounds = [0, *cuts, len(parts)]
    batches = [parts[a:b] for a, b in itertools.pairwise(bounds)]
    for engine, days in zip(engines, batches, strict=True):
        for part in days:
            shutil.copytree(part, source / "telemetry" / part.name, copy_function=shutil.copy2)
        summary = run_lake(source, lake, skip_ml=True, skip_quality=True, engine=engine)
        assert summary.status == "success" and summary.engine == engine
    return lake


def test_engines_continue_each_others_lakehouse(fleet, polars_lake, tmp_path):
    """Polars lands days 1-3, Spark days 4-5, Polars day 6: no duplicate, and every table
    equals the same arrivals on Polars alone."""
    switched = _land_in_batches(fleet, tmp_path / "switched", ("polars", "spark", "polars"))
    alone = _land_in_batches(fleet, tmp_path / "alone", ("polars", "polars", "polars"))
    assert differences(alone, switched) == []
    # Every reading landed once, and every table but the alert history equals one run over
    # all the files. (An alert still open when late readings arrive in a later batch keeps
    # the peak it had already reached: arrival order shows there, on every engine alike.)
    assert differences(polars_lake, switched, tables=ONE_RUN_TABLES) == []
    # And a rerun by either engine finds nothing new.
    source = tmp_path / "switched" / "landing"
    for engine in ("spark", "polars"):
        again = run_lake(source, switched, skip_ml=True, skip_quality=True, engine=engine)
        assert again.rows == RowCounts()
    assert differences(alone, switched) == []


def test_day_by_day_arrival_on_spark_equals_the_embedded_engine(fleet, tmp_path):
    """One day lands at a time (late readings the next day), Spark runs after each: every
    table equals the same arrivals on the embedded engine."""
    cuts = tuple(range(1, DAYS))
    spark = _land_in_batches(fleet, tmp_path / "spark", ("spark",) * DAYS, cuts)
    embedded = _land_in_batches(fleet, tmp_path / "polars", ("polars",) * DAYS, cuts)
    assert differences(embedded, spark) == []


def test_a_spark_run_killed_mid_batch_then_rerun_equals_a_clean_run(fleet, polars_lake, tmp_path):
    """SIGKILL a Spark run as soon as gold's first commit of the batch lands, rerun it."""
    lake = tmp_path / "lake"
    cmd = [sys.executable, "-m", "altaviz", "pipeline", "--engine", "spark", "--skip-ml"]
    cmd += ["--skip-quality", "--skip-db", "--source", str(fleet), "--lakehouse", str(lake)]
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = lake / "lh_gold_curated" / "Tables" / "operating_modes" / "_delta_log"
    deadline = time.monotonic() + 600
    # The table's creation is its first commit; the batch's rows are its second.
    while len(list(marker.glob("*.json"))) < 2 and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    # Gold's commits queue in order: fleet health, the batch's last, is not written yet.
    assert read_table(lake, "fleet_health").height == 0
    summary = run_lake(fleet, lake, skip_ml=True, skip_quality=True, engine="spark")
    assert summary.status == "success"
    assert differences(polars_lake, lake) == []


def test_optimize_z_orders_and_vacuum_honours_the_retention(spark_lake, tmp_path):
    from altaviz.config import load_config
    from altaviz.engines import get_engine
    from altaviz.lake import catalog as lake
    from altaviz.lake.location import lake_location
    from altaviz.settings import Settings

    copy = tmp_path / "lake"
    shutil.copytree(spark_lake, copy)
    location = lake_location(load_config().lakehouse, Settings(_env_file=None), root=copy)
    engine = get_engine("spark", location)
    before = read_table(copy, "hourly_aggregates")
    metrics = engine.optimize(lake.HOURLY_AGGREGATES)
    assert metrics["numFilesRemoved"] >= metrics["numFilesAdded"] >= 1
    assert metrics["zOrderStats"] is not None  # a Z-order, not a plain compaction
    assert engine.history(lake.HOURLY_AGGREGATES, 1)[0]["operation"] == "OPTIMIZE"
    after = read_table(copy, "hourly_aggregates")
    assert after.sort("compressor_id", "hour").equals(before.sort("compressor_id", "hour"))
    # Files the optimize replaced are unreferenced now: a zero-hour retention lists them
    # (with any older unreferenced ones); a week's retention lists none of them yet.
    stale = engine.vacuum(lake.HOURLY_AGGREGATES, retention_hours=0, dry_run=True)
    assert len(stale) >= metrics["numFilesRemoved"]
    assert engine.vacuum(lake.HOURLY_AGGREGATES, retention_hours=168, dry_run=True) == []


def test_gold_is_computed_again_when_a_partition_of_units_missed_an_hour(fleet, tmp_path, caplog):
    """Operating modes share out the hours the whole fleet reported. In one hour only one
    unit reports, so Spark's other partitions of units cannot know that hour in the
    cleaning's pass: gold is computed again from silver, and equals the embedded engine's."""
    source = tmp_path / "landing"
    (source / "telemetry").mkdir(parents=True)
    for name in REFERENCE:
        shutil.copy2(fleet / name, source / name)
    lonely = START + timedelta(days=1, hours=5)
    for part in sorted((fleet / "telemetry").iterdir())[:2]:
        shutil.copytree(part, source / "telemetry" / part.name, copy_function=shutil.copy2)
    files = sorted((source / "telemetry").glob("date=*/*.parquet"))
    first = pl.read_parquet(files[0])["compressor_id"].min()
    for f in files:
        readings = pl.read_parquet(f)
        if readings.schema["timestamp"] == pl.String:
            continue  # the bad records' file
        in_hour = pl.col("timestamp").dt.truncate("1h") == lonely
        readings.filter(~in_hour | (pl.col("compressor_id") == first)).write_parquet(f)
    embedded, spark = tmp_path / "polars", tmp_path / "spark"
    assert run_lake(source, embedded, skip_ml=True, skip_quality=True).status == "success"
    with caplog.at_level("INFO", logger="altaviz.pipeline"):
        summary = run_lake(source, spark, skip_ml=True, skip_quality=True, engine="spark")
    assert summary.status == "success"
    assert "computed again from its silver" in caplog.text
    modes = read_table(spark, "operating_modes").filter(pl.col("hour") == lonely)
    assert modes.height == read_table(spark, "compressor_metadata").height  # every unit
    assert differences(embedded, spark) == []


def test_a_pass_writes_its_rows_itself_and_the_engine_commits_those_files(spark_lake, tmp_path):
    """On local Spark the cleaning's pass writes silver with Polars where it computes it: the
    frame it returns reads those files, its write commits them without a Spark job, and
    files a run never commits are deleted when the engine is released."""
    import narwhals as nw

    from altaviz.engines import get_engine
    from altaviz.lake.location import lake_location
    from altaviz.settings import Settings
    from altaviz.transforms.windows import per_unit_frames

    silver = read_table(spark_lake, "sensor_cleaned").sort("compressor_id", "timestamp")
    days = sorted(set(silver["date"]))
    location = lake_location(load_config().lakehouse, Settings(_env_file=None), root=tmp_path)
    engine = get_engine("spark", location)
    rows = nw.from_native(engine.spark.createDataFrame(silver.to_arrow()))

    def passed():
        sink = engine.file_sink(lake.SENSOR_CLEANED)
        assert sink is not None  # local Spark, local lakehouse
        copy = lambda f: {"silver": f["silver"], "units": f["silver"].select(nw.len())}  # noqa: E731
        return per_unit_frames({"silver": rows}, copy, {}, sinks={"silver": sink})["silver"]

    out = passed()
    read_back = lambda f: pl.from_arrow(nw.to_native(f).toArrow())  # noqa: E731
    assert read_back(out).sort("compressor_id", "timestamp").equals(silver)
    assert read_table(tmp_path, "sensor_cleaned").height == 0  # written, not yet committed
    jobs = engine.jobs_run()
    assert engine.replace(lake.SENSOR_CLEANED, out, {"date": days}).rows == silver.height
    assert engine.jobs_run() == jobs
    committed = read_table(tmp_path, "sensor_cleaned").sort("compressor_id", "timestamp")
    assert committed.equals(silver)
    table = Path(location.table_uri("silver", "sensor_cleaned"))
    on_disk = lambda: set(table.rglob("*.parquet"))  # noqa: E731
    kept = on_disk()
    passed()  # a pass whose output the run does not keep
    assert on_disk() > kept
    engine.release()
    assert on_disk() == kept
    assert read_table(tmp_path, "sensor_cleaned").sort("compressor_id", "timestamp").equals(silver)
    # Spark reads the files the log lists, not every file in the folder: a replaced date's
    # old files stay on disk (for VACUUM) unread, and the dates come from the paths.
    by_unit = ("compressor_id", "timestamp")
    fewer = silver.filter(pl.col("date") == days[0]).head(10)
    fewer_rows = nw.from_native(engine.spark.createDataFrame(fewer.to_arrow()))
    engine.replace(lake.SENSOR_CLEANED, fewer_rows, {"date": days[:1]})
    current = read_table(tmp_path, "sensor_cleaned").sort(*by_unit)
    assert current.height == silver.filter(pl.col("date") != days[0]).height + 10
    assert read_back(engine.read(lake.SENSOR_CLEANED)).sort(*by_unit).equals(current)
    assert engine.read_local(lake.SENSOR_CLEANED).to_native().sort(*by_unit).equals(current)


def test_bronze_landed_on_spark_is_read_by_the_pass_a_range_of_units_at_a_time(
    spark_lake, tmp_path
):
    """The landing tasks write bronze in unit order, so the cleaning's pass reads its own
    units' readings from the files (a :class:`FileScan`) rather than through Spark's
    shuffle; a range of units reads exactly that range's rows. Spark's own writer's files
    (a row group each, units mixed) are not scanned."""
    from datetime import UTC, datetime

    import narwhals as nw

    from altaviz.core.file_scan import GROUP_ROWS, scannable
    from altaviz.engines import get_engine
    from altaviz.lake.location import lake_location
    from altaviz.settings import Settings
    from altaviz.transforms.windows import per_unit_frames

    location = lake_location(load_config().lakehouse, Settings(_env_file=None), root=spark_lake)
    engine = get_engine("spark", location)
    bronze = read_table(spark_lake, "sensor_readings")
    first, last = bronze["timestamp"].min(), bronze["timestamp"].max()
    span = [(first, last + timedelta(seconds=1))]
    scan = engine.file_scan(lake.SENSOR_READINGS, ["compressor_id", "timestamp"], span)
    assert scan is not None and scan.paths
    keys = scan.keys()
    assert keys == sorted(set(bronze["compressor_id"]))
    middle = keys[len(keys) // 2]
    lower, upper = scan.read([(None, middle)]), scan.read([(middle, None)])
    assert set(lower["compressor_id"]) == {k for k in keys if k < middle}
    assert lower.height + upper.height == bronze.height
    day = datetime(first.year, first.month, first.day, tzinfo=UTC)
    next_day = day + timedelta(days=1)
    one_day = engine.file_scan(lake.SENSOR_READINGS, ["compressor_id"], [(day, next_day)])
    assert one_day is not None
    assert (
        one_day.read([(None, None)]).height
        == bronze.filter(pl.col("timestamp").is_between(day, next_day, closed="left")).height
    )

    # In a pass, each partition reads one range of units, none two.
    def span(frames):  # what a partition saw (nested: it travels by value to the workers)
        seen = frames["bronze"].select(
            nw.col("compressor_id").min().alias("low"),
            nw.col("compressor_id").max().alias("high"),
            nw.len().alias("rows"),
        )
        return {"span": seen.filter(nw.col("rows") > 0)}

    spans = per_unit_frames({"bronze": scan}, span, {})["span"]
    spans = pl.from_arrow(nw.to_native(spans).toArrow()).sort("low")
    spark = engine.spark
    parts = max(
        int(spark.conf.get("spark.sql.shuffle.partitions")), spark.sparkContext.defaultParallelism
    )
    assert spans.height == min(parts, len(keys)) and spans["rows"].sum() == bronze.height
    assert (spans["low"].shift(-1) > spans["high"]).drop_nulls().all()
    # Files whose units are mixed, or whose row groups are large (Spark's writer's), are not.
    mixed = tmp_path / "mixed.parquet"
    bronze.sample(fraction=1.0, shuffle=True, seed=1).write_parquet(mixed, row_group_size=1000)
    assert not scannable([str(mixed)], "compressor_id", "timestamp")
    large = tmp_path / "large.parquet"
    pl.concat([bronze.sort("compressor_id")] * (GROUP_ROWS // bronze.height + 1)).write_parquet(
        large, row_group_size=GROUP_ROWS * 2
    )
    assert not scannable([str(large)], "compressor_id", "timestamp")
    naive = tmp_path / "naive.parquet"  # instants without their zone (Spark writes INT96)
    bronze.sort("compressor_id").with_columns(
        pl.col("timestamp").dt.replace_time_zone(None)
    ).write_parquet(naive)
    assert not scannable([str(naive)], "compressor_id", "timestamp")
