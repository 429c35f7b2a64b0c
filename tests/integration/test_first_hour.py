"""A newcomer's first hour, as they would type it: each command with the line it must print
and the exit code the README documents (0 done, 1 quality held back, 2 input, 3 service,
4 landing files refused, 5 storage)."""

from __future__ import annotations

import json
import logging
import socket
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from altaviz.api.app import create_app
from altaviz.cli import app
from altaviz.config import load_config
from altaviz.engines import open_engine
from altaviz.fleet import SimulationRequest, simulate
from altaviz.pipeline import PipelineRequest, run_pipeline
from altaviz.settings import Settings, get_settings
from tests.conftest import START, read_table

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The spec's 10-unit demo fleet for its default 10 days, through the pipeline with
    models, its MLflow store inside its lakehouse (no MLFLOW_TRACKING_URI)."""
    root = tmp_path_factory.mktemp("first_hour")
    fleet, lake = root / "fleet", root / "lake"
    simulate(SimulationRequest(output=fleet, days=10, seed=42, start=START, demo=True))
    return fleet, lake, pipeline(fleet, lake)


def pipeline(fleet, lake):
    """The pipeline as a newcomer runs it: no MLFLOW_TRACKING_URI set."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI")
        request = PipelineRequest(source=fleet, lakehouse=lake)
        return run_pipeline(request, settings=Settings(_env_file=None))


def cli(*args: str, **env: str):
    """A command as typed, in an environment without MLFLOW_TRACKING_URI (plus ``env``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI")
        for key, value in env.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args))
        finally:
            get_settings.cache_clear()


def test_the_demo_shows_all_four_models_trained_on_its_own_fleet(demo):
    _, lake, summary = demo
    assert summary.ml.models_run == ["anomaly", "drift", "rul", "emissions"]
    assert summary.ml.model_version == "1" and summary.ml.model_name.startswith("altaviz-anomaly-")
    assert any("healthy hours of this fleet" in n for n in summary.ml.notes)  # said, not hidden
    assert (lake / "_models" / "mlflow.db").exists()  # the models live with the lakehouse
    models = cli("models", "--lakehouse", str(lake))
    assert models.exit_code == 0 and summary.ml.model_name in models.stdout


def test_predict_and_quality_show_the_last_complete_day(demo):
    _, lake, _ = demo
    newest = read_table(lake, "hourly_aggregates")["hour"].max()
    day = newest.date() if newest.hour == 23 else newest.date() - timedelta(days=1)
    predicted = cli("predict", "--lakehouse", str(lake), "--json")
    assert predicted.exit_code == 0, predicted.output
    payload = json.loads(predicted.stdout)
    assert payload["date"] == day.isoformat() and payload["units_scored"] == 10
    shown = cli("predict", "--lakehouse", str(lake))
    assert "(the last complete day)" in shown.stdout and "units scored" in shown.stdout
    assert "written to ml_predictions" in shown.stdout
    quality = cli("quality", "--lakehouse", str(lake))
    assert (
        quality.exit_code == 0 and f"Data quality {day} (the last complete day)" in quality.stdout
    )


def test_evaluate_says_when_the_failures_fall_after_the_data(demo, tmp_path):
    fleet, lake, _ = demo
    result = cli(
        "evaluate",
        "--source",
        str(fleet),
        "--lakehouse",
        str(lake),
        "--report",
        str(tmp_path / "out"),
    )
    assert result.exit_code == 0, result.output
    assert "None h" not in result.stdout
    report = (tmp_path / "out" / "evaluation.md").read_text()
    if "fall after its end" in result.stdout:  # the demo's failures come after its data
        assert "fall after its end" in report


def test_a_rerun_reports_nothing_new(demo, tmp_path):
    fleet, lake, _ = demo
    again = pipeline(fleet, lake)
    assert again.alerts.opened == 0 and again.alerts.resolved == 0
    assert again.rows.bronze == 0


@pytest.mark.parametrize(
    ("args", "line", "code"),
    [
        (["pipeline", "--source", "{tmp}/nowhere", "--lakehouse", "{tmp}/l"], "no such folder", 2),
        (
            ["pipeline", "--source", "{tmp}/file.txt", "--lakehouse", "{tmp}/l"],
            "a file, not a landing folder",
            2,
        ),
        (
            ["pipeline", "--source", "{fleet}", "--lakehouse", "{tmp}/file.txt/lake"],
            "cannot write the lakehouse",
            5,
        ),
        (["diagnose", "COMP-0003", "--lakehouse", "{tmp}/none"], "no lakehouse at", 2),
        (
            [
                "emissions",
                "--lakehouse",
                "{lake}",
                "--since",
                "2026-03-05",
                "--until",
                "2026-03-01",
            ],
            "is after --until",
            2,
        ),
        (["simulate", "--seed", "-1", "--output", "{tmp}/s"], "--seed must be 0 or more", 2),
        (["simulate", "--workers", "0", "--output", "{tmp}/s"], "--workers must be at least 1", 2),
    ],
)
def test_each_error_is_one_line_with_its_code(demo, tmp_path, args, line, code):
    fleet, lake, _ = demo
    (tmp_path / "file.txt").write_text("not a folder")
    filled = [a.format(tmp=tmp_path, fleet=fleet, lake=lake) for a in args]
    result = cli(*filled)
    assert result.exit_code == code, result.output
    assert line in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "l").exists()  # a refused input creates no lakehouse


def test_a_taken_port_is_one_line(demo):
    _, lake, _ = demo
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(
            "serve", "--lakehouse", str(lake), "--port", str(port),
            ALTAVIZ_API_KEYS="ana:engineer:0123456789abcdef0123",
        )  # fmt: skip
    assert result.exit_code == 3 and "already in use" in result.stderr


def test_short_keys_and_secrets(demo):
    _, lake, _ = demo
    short = cli("serve", "--lakehouse", str(lake), ALTAVIZ_API_KEYS="ana:engineer:abc")
    assert short.exit_code == 2
    assert "the key of ana has 3 characters; use at least 16" in short.stderr
    assert "abc" not in short.stderr  # the key itself is never printed
    shown = cli(
        "config", "show", "--json",
        MLFLOW_TRACKING_URI="postgresql://ml:pa55word@db/mlflow",
        DIAGNOSTICS_BASE_URL="http://127.0.0.1:11434/v1",
    )  # fmt: skip
    settings = json.loads(shown.stdout)["settings"]
    assert settings["mlflow_tracking_uri"] == "postgresql://ml:***@db/mlflow"
    assert settings["diagnostics_base_url"] == "http://127.0.0.1:11434/v1"
    assert "pa55word" not in shown.stdout


def test_the_api_is_safe_to_call_and_logs_who_asked(demo, caplog):
    _, lake, _ = demo
    config, settings = load_config(), Settings(_env_file=None)
    key = "0123456789abcdef0123"
    api = TestClient(
        create_app(open_engine("polars", lake, config, settings), config, settings,
                   principals={key: ("ana", "engineer")})
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="altaviz.api.access"):
        long = api.get("/compressors/COMP-" + "9" * 5000, headers={"X-API-Key": key})
        alerts = api.get("/alerts", headers={"X-API-Key": key}).json()["alerts"]
        unit = api.get("/compressors/COMP-0003", headers={"X-API-Key": key}).json()
    assert long.status_code == 404 and len(long.json()["detail"]) < 80
    lines = [json.loads(r.message) for r in caplog.records if r.name == "altaviz.api.access"]
    assert {"method": "GET", "route": "/alerts", "status": 200, "who": "ana"}.items() <= lines[
        1
    ].items()
    assert all(key not in r.message for r in caplog.records)
    stamps = [a["opened_at"] for a in alerts] + [unit["latest_readings"]["hour"]]
    assert stamps and all(s.endswith("Z") for s in stamps)  # one format, RFC 3339 with Z
    for route in ("/docs", "/redoc"):
        page = api.get(route).text
        assert "/docs-static/" in page and "cdn" not in page and "googleapis" not in page
