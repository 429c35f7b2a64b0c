"""`altaviz pipeline`, `quality` and `lake` as a user runs them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from altaviz.cli import app

runner = CliRunner()


def test_pipeline_json_summary_and_inspection_commands(small_fleet, tmp_path):
    lake = str(tmp_path / "lake")
    result = runner.invoke(
        app, ["pipeline", "--source", str(small_fleet), "--lakehouse", lake, "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {
        "status",
        "rows",
        "rejected",
        "alerts",
        "quality_passed",
        "duration_s",
    } <= summary.keys()
    assert {"bronze", "silver", "gold_hourly"} <= summary["rows"].keys()
    assert summary["status"] == "success" and summary["quality_passed"] is True
    assert len(summary["fleet_health"]) == 10  # one row per basin

    text = runner.invoke(app, ["pipeline", "--source", str(small_fleet), "--lakehouse", lake])
    assert text.exit_code == 0
    assert "Fleet health" in text.stdout and "Permian" in text.stdout and "Bakken" in text.stdout

    quality = runner.invoke(app, ["quality", "--lakehouse", lake, "--json"])
    assert quality.exit_code == 0
    checks = {c["check"] for c in json.loads(quality.stdout)["checks"]}
    assert {
        "fleet_completeness",
        "freshness_minutes",
        "sensor_completeness",
        "volume_consistency",
        "pressure_consistency",
        "late_arrivals",
    } <= checks

    history = runner.invoke(app, ["lake", "history", "sensor_readings", "--lakehouse", lake])
    assert history.exit_code == 0 and "WRITE" in history.stdout
    optimize = runner.invoke(app, ["lake", "optimize", "hourly_aggregates", "--lakehouse", lake])
    assert optimize.exit_code == 0 and "z-ordered by compressor_id" in optimize.stdout
    vacuum = runner.invoke(app, ["lake", "vacuum", "--lakehouse", lake, "--dry-run"])
    assert vacuum.exit_code == 0 and "sensor_cleaned: would remove" in vacuum.stdout
    tables = runner.invoke(app, ["lake", "tables", "--lakehouse", lake])
    assert tables.exit_code == 0 and "alert_history" in tables.stdout


def test_pipeline_errors_exit_2_with_one_line(tmp_path):
    cases = [
        (
            ["pipeline", "--source", str(tmp_path / "nowhere"), "--lakehouse", str(tmp_path / "l")],
            "no such folder",
        ),
        (["quality", "--lakehouse", str(tmp_path / "empty")], "no quality reports yet"),
        (["quality", "--date", "yesterday"], "is not a date"),
        (["lake", "history", "nope"], "unknown table 'nope'"),
    ]
    (tmp_path / "telemetry").mkdir()
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, args
        assert len(result.stderr.strip().splitlines()) == 1
    # An engine that does not exist is refused before anything runs, naming the choices.
    result = runner.invoke(app, ["pipeline", "--source", str(tmp_path), "--engine", "duckdb"])
    assert result.exit_code == 2
    words = " ".join(w for w in result.stderr.split() if w != "│")  # unwrap Rich's box
    assert "'duckdb' is not one of 'polars', 'spark'" in words


def test_an_unknown_engine_is_an_input_error(tmp_path):
    from altaviz.core.errors import InputError
    from altaviz.pipeline import PipelineRequest, run_pipeline

    (tmp_path / "telemetry").mkdir()
    with pytest.raises(InputError, match="unknown engine 'duckdb'; available: polars, spark"):
        run_pipeline(PipelineRequest(source=tmp_path, lakehouse=tmp_path / "l", engine="duckdb"))
