"""`altaviz simulate` as a user runs it: summary, determinism, errors that leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from altaviz.cli import app
from altaviz.config import _load
from altaviz.fleet import SimulationRequest, simulate
from altaviz.settings import get_settings
from tests.conftest import START, read_table, run_lake

runner = CliRunner()
SMALL = ["--compressors", "40", "--days", "2", "--start", "2026-03-01T00:00:00Z"]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def test_json_summary_has_the_documented_shape(tmp_path):
    result = runner.invoke(app, ["simulate", *SMALL, "--output", str(tmp_path / "f"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"rows", "compressors", "stations", "basins", "degrading", "paths"} <= summary.keys()
    assert set(summary["paths"]) >= {"telemetry", "metadata", "stations", "truth"}
    assert summary["compressors"] == 40
    assert summary["scheduled_readings"] == 40 * 576
    for path in summary["paths"].values():
        assert Path(path).exists(), path


def test_same_seed_and_start_give_identical_files(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(SimulationRequest(output=a, compressors=300, days=2, seed=9, start=START, workers=1))
    simulate(SimulationRequest(output=b, compressors=300, days=2, seed=9, start=START, workers=3))
    simulate(SimulationRequest(output=c, compressors=300, days=2, seed=10, start=START))
    assert digest(a) == digest(b)
    assert len(digest(a)) > 8
    differing = {k for k, v in digest(a).items() if digest(c).get(k) != v}
    assert any(k.startswith("telemetry/") for k in differing)


def test_demo_preset(tmp_path):
    result = runner.invoke(
        app, ["simulate", "--demo", "--days", "3", "--output", str(tmp_path / "d"), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["compressors"], summary["stations"], summary["degrading"]) == (10, 4, 2)


def test_default_start_is_days_before_now_on_the_five_minute_grid(tmp_path):
    before = datetime.now(UTC)
    summary = simulate(SimulationRequest(output=tmp_path / "f", compressors=5, days=1))
    assert summary.start.minute % 5 == 0 and summary.start.second == 0
    assert before - timedelta(days=1, minutes=5) < summary.start <= before - timedelta(days=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compressors", "0"], "--compressors must be at least 1"),
        (["--compressors", "-3"], "--compressors must be at least 1"),
        (["--days", "0"], "--days must be at least 1"),
        (["--days", "-1"], "--days must be at least 1"),
        (["--start", "2026-03-01T00:02:00Z"], "not on a 5-minute boundary"),
        (["--start", "yesterday"], "is not an ISO-8601"),
        (["--demo", "--compressors", "5"], "--demo fixes the fleet"),
        (["--seed", "-1"], "--seed must be 0 or more, got -1"),
        (["--workers", "0"], "--workers must be at least 1, got 0"),
    ],
)
def test_bad_options_exit_2_with_one_line_and_write_nothing(tmp_path, args, message):
    target = tmp_path / "out" / "fleet"
    result = runner.invoke(app, ["simulate", "--output", str(target), *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()
    assert leftovers(tmp_path / "out") == []


def test_unwritable_output_exits_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["simulate", *SMALL, "--output", str(blocker / "fleet")])
    assert result.exit_code == 2
    assert "is a file, not a folder" in result.stderr
    assert blocker.read_text() == "not a folder"
    assert leftovers(tmp_path) == ["a-file"]


def test_malformed_configuration_exits_2_naming_file_and_key(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "fleet.yaml").write_text(
        "version: 1\ntelemetry: {interval_minutes: seven}\n"
    )
    monkeypatch.setenv("ALTAVIZ_CONFIG_DIR", str(tmp_path / "cfg"))
    get_settings.cache_clear()
    _load.cache_clear()
    try:
        result = runner.invoke(app, ["simulate", *SMALL, "--output", str(tmp_path / "out" / "f")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "fleet.yaml: telemetry.interval_minutes" in result.stderr
    assert not (tmp_path / "out").exists()


def test_interrupted_run_leaves_no_partial_output_and_keeps_the_previous_one(tmp_path):
    target = tmp_path / "fleet"
    simulate(SimulationRequest(output=target, compressors=20, days=1, start=START))
    before = digest(target)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(
            SimulationRequest(output=target, compressors=20, days=3, seed=1, start=START),
            on_progress=interrupt,
        )
    assert digest(target) == before
    assert leftovers(tmp_path) == ["fleet"]


def test_rerun_replaces_an_earlier_simulation_but_never_a_foreign_folder(tmp_path):
    target = tmp_path / "fleet"
    simulate(SimulationRequest(output=target, compressors=20, days=1, seed=1, start=START))
    simulate(SimulationRequest(output=target, compressors=30, days=1, seed=2, start=START))
    assert json.loads((target / "manifest.json").read_text())["compressors"] == 30

    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    result = runner.invoke(app, ["simulate", *SMALL, "--output", str(foreign)])
    assert result.exit_code == 2
    assert "holds no earlier simulation" in result.stderr
    assert leftovers(foreign) == ["cat.jpg"]


def test_every_command_has_help():
    for args in (
        ["--help"],
        ["simulate", "--help"],
        ["config", "--help"],
        ["config", "show", "--help"],
        ["config", "validate", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.stdout


def test_config_show_masks_secrets(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://altaviz:hunter2@db/altaviz")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["config", "show", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert "hunter2" not in result.stdout
    assert shown["settings"]["database_url"] == "**********"
    assert shown["settings"]["eventhub_name"] == "compressor-telemetry"


def test_installed_console_script_runs(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "altaviz",
            "simulate",
            *SMALL,
            "--output",
            str(tmp_path / "f"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["compressors"] == 40


def test_a_single_unit_for_many_days_simulates(tmp_path):
    """Some of its days it is down for repair all day: such a day simply has no file."""
    result = runner.invoke(
        app, ["simulate", "--compressors", "1", "--days", "250", "--output", str(tmp_path / "f")]
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "f" / "telemetry").glob("date=*"))) >= 240


def test_continue_extends_the_same_fleet_for_a_day_by_day_feed(tmp_path):
    """`--continue` writes the next days of the same fleet: the earlier files stay as they
    are, every episode in progress goes on, late readings of the earlier last day arrive in
    the new days, and it is as deterministic as a first simulation."""
    first = tmp_path / "feed"
    args = ["--compressors", "60", "--seed", "9", "--start", "2026-03-01T00:00Z"]
    assert (
        runner.invoke(app, ["simulate", *args, "--days", "3", "--output", str(first)]).exit_code
        == 0
    )

    def digests(folder):
        return {
            p.relative_to(folder / "telemetry").as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted((folder / "telemetry").rglob("*.parquet"))
        }

    before = digests(first)
    truth_before = pl.read_parquet(first / "truth" / "failures.parquet")
    twin = tmp_path / "twin"
    shutil.copytree(first, twin)
    run_lake(first, tmp_path / "lake", skip_ml=True)
    days_before = read_table(tmp_path / "lake", "hourly_aggregates")["date"].n_unique()

    result = runner.invoke(app, ["simulate", "--continue", str(first), "--days", "2"])
    assert result.exit_code == 0, result.output
    after = digests(first)
    assert {k: after[k] for k in before} == before  # the earlier landing files are untouched
    assert {k.split("/")[0] for k in set(after) - set(before)} == {
        "date=2026-03-04",
        "date=2026-03-05",
    }
    late = pl.read_parquet(next((first / "telemetry" / "date=2026-03-04").glob("*-late.parquet")))
    assert late.height > 0 and late["timestamp"].max() < datetime(2026, 3, 4, tzinfo=UTC)
    # Every episode of the first three days is still there, unchanged; new ones start later.
    truth = pl.read_parquet(first / "truth" / "failures.parquet")
    assert truth_before.join(truth, on=truth_before.columns, how="anti").height == 0
    new = truth.join(truth_before, on=truth_before.columns, how="anti")
    assert (new["onset_time"] >= datetime(2026, 3, 4, tzinfo=UTC)).all()
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["days"] == 5 and manifest["segments"] == [3, 2]

    assert runner.invoke(app, ["simulate", "--continue", str(twin), "--days", "2"]).exit_code == 0
    assert digests(twin) == after  # deterministic, as a first simulation is

    # The pipeline takes the new days as the next landing batch of the same fleet.
    run_lake(first, tmp_path / "lake", skip_ml=True)
    assert read_table(tmp_path / "lake", "hourly_aggregates")["date"].n_unique() == days_before + 2


def test_continue_refuses_what_it_cannot_honour(tmp_path):
    nothing = runner.invoke(app, ["simulate", "--continue", str(tmp_path), "--days", "1"])
    assert nothing.exit_code == 2 and "no simulation there" in nothing.stderr
    mixed = runner.invoke(app, ["simulate", "--continue", str(tmp_path), "--seed", "4"])
    assert mixed.exit_code == 2 and "drop --seed" in mixed.stderr
