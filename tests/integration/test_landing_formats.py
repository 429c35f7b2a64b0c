"""Landing files as gateways write them - Parquet, CSV, JSON Lines - and a fuzz of the
landing zone: every readable record ends in bronze or the dead letter, counts reconcile,
unreadable files are dead-lettered whole, nothing is skipped in silence, no traceback."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from altaviz.cli import app
from altaviz.fleet import SimulationRequest, simulate
from tests.conftest import START, read_table

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_day(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("formats") / "fleet"
    simulate(SimulationRequest(output=out, days=1, seed=3, start=START, demo=True))
    return out


def _landing(fleet: Path, tmp_path: Path) -> tuple[Path, Path, pl.DataFrame]:
    """A copy of the fleet with its Parquet readings taken out: returns (source, the date
    folder, the readings) so each test writes the files it means."""
    source = tmp_path / "source"
    shutil.copytree(fleet, source)
    files = sorted((source / "telemetry").glob("date=*/*.parquet"))
    readings = pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
    for f in files:
        f.unlink()
    folder = files[0].parent
    return source, folder, readings


def run(source: Path, lake: Path, *extra: str):
    return runner.invoke(
        app,
        ["pipeline", "--source", str(source), "--lakehouse", str(lake), "--skip-ml", *extra],
    )


def per_source(lake: Path) -> dict[str, tuple[int, int]]:
    bronze = read_table(lake, "sensor_readings").group_by("source").len()
    dead = read_table(lake, "dead_letter").group_by("source").len()
    found: dict[str, list[int]] = {}
    for row in bronze.iter_rows(named=True):
        found.setdefault(row["source"], [0, 0])[0] = row["len"]
    for row in dead.iter_rows(named=True):
        found.setdefault(row["source"], [0, 0])[1] = row["len"]
    return {k.rsplit("/", 1)[-1]: (v[0], v[1]) for k, v in found.items()}


def test_csv_and_json_lines_land_like_parquet(demo_day, tmp_path):
    source, folder, readings = _landing(demo_day, tmp_path)
    thirds = readings.height // 3
    readings.head(thirds).write_parquet(folder / "a.parquet")
    text = readings.slice(thirds, thirds).with_columns(pl.col("timestamp", "received_at").cast(str))
    text.write_csv(folder / "b.csv")
    readings.slice(2 * thirds).with_columns(
        pl.col("timestamp", "received_at").dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")
    ).write_ndjson(folder / "c.jsonl")
    result = run(source, tmp_path / "lake")
    assert result.exit_code == 0, result.output
    counts = per_source(tmp_path / "lake")
    assert sum(b + d for b, d in counts.values()) == readings.height
    assert set(counts) == {"a.parquet", "b.csv", "c.jsonl"}
    # The same readings as if every file had been Parquet.
    parquet_only = tmp_path / "parquet"
    source2, folder2, _ = _landing(demo_day, parquet_only)
    readings.write_parquet(folder2 / "all.parquet")
    assert run(source2, parquet_only / "lake").exit_code == 0
    mixed = read_table(tmp_path / "lake", "sensor_cleaned").drop("received_at")
    plain = read_table(parquet_only / "lake", "sensor_cleaned").drop("received_at")
    key = ["compressor_id", "timestamp"]
    assert mixed.sort(key).equals(plain.sort(key))


def test_a_fuzzed_landing_zone_loses_nothing_and_tells_what_it_refused(demo_day, tmp_path):
    source, folder, readings = _landing(demo_day, tmp_path)
    chunks = [readings.slice(i * 200, 200) for i in range(6)]
    chunks[0].write_parquet(folder / "good.parquet")
    # Wrong types: text where numbers belong, two values that are not numbers at all.
    chunks[1].with_columns(
        pl.when(pl.int_range(pl.len()) < 2)
        .then(pl.lit("abc"))
        .otherwise(pl.col("vibration_mms").cast(str))
        .alias("vibration_mms")
    ).write_parquet(folder / "wrong-types.parquet")
    # An extra column and a missing one.
    chunks[2].drop("gas_flow_mcf").with_columns(pl.lit("x").alias("firmware")).write_parquet(
        folder / "extra-missing.parquet"
    )
    # Naive timestamps (taken as UTC).
    chunks[3].with_columns(pl.col("timestamp").dt.replace_time_zone(None)).write_parquet(
        folder / "naive.parquet"
    )
    # A CSV with one bad row (a timestamp that is no time) and one short row.
    csv = chunks[4].with_columns(pl.col("timestamp", "received_at").cast(str)).write_csv()
    lines = csv.splitlines()
    lines[1] = "not a time" + lines[1][lines[1].index(",") :]
    lines[2] = lines[2].rsplit(",", 3)[0]
    (folder / "gateway.csv").write_text("\n".join(lines) + "\n")
    # Truncated Parquet, an empty file, another kind of file, a folder where a file should be.
    chunks[5].write_parquet(folder / "whole.parquet")
    data = (folder / "whole.parquet").read_bytes()
    (folder / "whole.parquet").unlink()
    (folder / "truncated.parquet").write_bytes(data[: len(data) // 2])
    (folder / "empty.csv").write_bytes(b"")
    (folder / "notes.txt").write_text("gateway 7 restarted")
    (folder / "folder.parquet").mkdir()

    result = run(source, tmp_path / "lake")
    assert result.exit_code == 4, result.output  # some files refused; the rest landed
    assert "Traceback" not in result.output
    assert "landing files refused" in result.stdout and "truncated.parquet" in result.stdout
    assert "not read: 2 landing entries" in result.stdout and "notes.txt" in result.stdout

    counts = per_source(tmp_path / "lake")
    for name, rows in (
        ("good.parquet", 200),
        ("wrong-types.parquet", 200),
        ("extra-missing.parquet", 200),
        ("naive.parquet", 200),
        ("gateway.csv", 200),
    ):
        assert sum(counts[name]) == rows, name  # in = accepted + rejected, file by file
    assert counts["truncated.parquet"] == (0, 1) and counts["empty.csv"] == (0, 1)
    dead = read_table(tmp_path / "lake", "dead_letter")
    reasons = dict(zip(dead["source"].str.split("/").list.last(), dead["reason"], strict=False))
    assert reasons["truncated.parquet"].startswith(
        "unreadable landing file: not a readable parquet"
    )
    assert "the file is empty" in reasons["empty.csv"]
    wrong = dead.filter(pl.col("source").str.ends_with("wrong-types.parquet"))["reason"]
    assert wrong.to_list() == ["vibration_mms: cannot read abc as float64"] * 2
    assert counts["naive.parquet"] == (200, 0) and counts["extra-missing.parquet"] == (200, 0)
    bad_csv = dead.filter(pl.col("source").str.ends_with("gateway.csv"))["reason"].to_list()
    assert bad_csv == ["timestamp: cannot read not a time as timestamp"]  # the short row landed

    # A rerun reads nothing again and changes no table.
    versions = {
        t: read_table(tmp_path / "lake", t).height for t in ("sensor_readings", "dead_letter")
    }
    again = run(source, tmp_path / "lake")
    assert again.exit_code == 0, again.output
    assert versions == {t: read_table(tmp_path / "lake", t).height for t in versions}


def test_readings_from_the_future_are_dead_lettered(tmp_path):
    fleet = tmp_path / "future"
    start = datetime(2030, 1, 1, tzinfo=UTC)
    simulate(SimulationRequest(output=fleet, days=1, seed=3, demo=True, start=start))
    result = run(fleet, tmp_path / "lake")
    assert result.exit_code == 0, result.output
    assert read_table(tmp_path / "lake", "sensor_readings").height == 0
    dead = read_table(tmp_path / "lake", "dead_letter")
    assert dead.height > 0
    assert set(dead["reason"].str.split(":").list.first()) == {"timestamp in the future"}
