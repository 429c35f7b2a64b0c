"""PipelineMonitor: run records, Teams cards and Azure Monitor uploads at local receivers."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from altaviz.cli import app
from altaviz.config import load_config
from altaviz.engines import get_engine
from altaviz.lake.location import lake_location
from altaviz.monitoring.monitor import PipelineMonitor, sinks_from
from altaviz.monitoring.record import RunRecord
from altaviz.monitoring.sinks import AzureMonitorSink, LogSink, TeamsSink
from altaviz.pipeline import PipelineError
from altaviz.settings import Settings
from tests.conftest import read_table, run_lake

runner = CliRunner()


class Receiver:
    """A local HTTP server that keeps every request it is sent."""

    def __init__(self, status: int = 200) -> None:
        received: list[dict] = []
        self.requests = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def engine_for(lake: Path):
    cfg = load_config()
    return get_engine("polars", lake_location(cfg.lakehouse, Settings(_env_file=None), lake))


def assert_adaptive_card(message: dict) -> dict:
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    kinds = {block["type"] for block in card["body"]}
    assert kinds <= {"TextBlock", "FactSet"} and "FactSet" in kinds
    for block in card["body"]:
        if block["type"] == "FactSet":
            assert all(set(f) == {"title", "value"} for f in block["facts"])
    return card


def test_every_run_leaves_a_record(small_lake, small_fleet):
    summary, lake = small_lake
    runs = read_table(lake, "pipeline_runs")
    first = runs.filter(runs["run_id"] == summary.run_id).row(0, named=True)
    assert first["status"] == "success"
    assert first["rows_bronze"] == summary.rows.bronze > 0
    assert first["rows_gold_hourly"] == summary.rows.gold_hourly
    stages = json.loads(first["stage_durations"])
    assert {"reference", "bronze", "silver", "gold", "ml"} <= stages.keys()
    assert first["predictions"] == summary.ml.predictions > 0
    assert first["data_freshness_minutes"] > 0
    assert first["error"] is None


def test_a_failing_run_is_recorded_and_posts_a_card(small_fleet, tmp_path, receiver):
    source = tmp_path / "landing"
    shutil.copytree(small_fleet, source, copy_function=shutil.copy2)
    first = next((source / "telemetry").glob("date=*/*.parquet"))
    broken = source / "telemetry" / "date=yesterday" / "part-0.parquet"
    broken.parent.mkdir()
    shutil.copy2(first, broken)
    lake = tmp_path / "lake"
    monitor = PipelineMonitor(
        engine_for(lake), load_config(), sinks=[LogSink(), TeamsSink(receiver.url)]
    )
    from altaviz.pipeline import PipelineRequest, run_pipeline

    with pytest.raises(PipelineError, match=r"date=yesterday: partition folder is not date="):
        run_pipeline(PipelineRequest(source=source, lakehouse=lake, skip_ml=True), monitor=monitor)
    record = read_table(lake, "pipeline_runs").row(0, named=True)
    assert record["status"] == "failed"
    assert "date=yesterday" in record["error"]
    (posted,) = receiver.requests
    card = assert_adaptive_card(posted["json"])
    text = json.dumps(card)
    assert "failed" in text and record["run_id"] in text and "date=yesterday" in text


def test_a_slow_stage_and_a_quality_breach_need_attention(tmp_path, receiver):
    lake = tmp_path / "lake"
    monitor = PipelineMonitor(engine_for(lake), load_config(), sinks=[TeamsSink(receiver.url)])
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def record(i: int, gold: float, **more) -> RunRecord:
        return RunRecord(
            run_id=f"run-{i}",
            status="success",
            engine="polars",
            started_at=start + timedelta(hours=i),
            ended_at=start + timedelta(hours=i, minutes=1),
            duration_s=gold + 1,
            stage_durations={"bronze": 1.0, "gold": gold},
            **more,
        )

    for i in range(3):
        assert monitor.finish(record(i, gold=10.0 + i)).warnings == []
    assert receiver.requests == []  # ordinary runs post nothing
    slow = monitor.finish(record(3, gold=50.0))
    assert monitor.reasons(slow) == [
        "stage gold took 50.0 s, 4.5x its median of 11.0 s over the last 3 runs"
    ]
    breach = monitor.finish(
        record(4, gold=11.0, quality_passed=False, blocked_dates=["2026-01-04"])
    )
    assert "critical data-quality check failed" in monitor.reasons(breach)[0]
    assert len(receiver.requests) == 2
    for posted in receiver.requests:
        assert_adaptive_card(posted["json"])


def test_azure_monitor_speaks_the_logs_ingestion_format(tmp_path, receiver):
    lake = tmp_path / "lake"
    sink = AzureMonitorSink(
        receiver.url, "dcr-0123abcd", "Custom-AltavizPipelineRuns_CL", lambda: "t0ken"
    )
    monitor = PipelineMonitor(engine_for(lake), load_config(), sinks=[sink])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    monitor.finish(
        RunRecord(
            run_id="r1",
            status="success",
            engine="polars",
            started_at=now,
            ended_at=now + timedelta(seconds=30),
            duration_s=30.0,
            stage_durations={"bronze": 3.0},
            rows_bronze=10,
        )
    )
    (posted,) = receiver.requests
    assert posted["path"] == (
        "/dataCollectionRules/dcr-0123abcd/streams/Custom-AltavizPipelineRuns_CL"
        "?api-version=2023-01-01"
    )
    assert posted["headers"]["Authorization"] == "Bearer t0ken"
    assert posted["headers"]["Content-Type"] == "application/json"
    (row,) = posted["json"]
    assert row["TimeGenerated"] == "2026-01-01T00:00:30+00:00"
    assert row["run_id"] == "r1" and row["rows_bronze"] == 10


def test_a_broken_sink_never_fails_the_run(small_fleet, tmp_path):
    settings = Settings(
        _env_file=None,
        teams_webhook_url="http://127.0.0.1:9/nowhere",  # the discard port: nothing listens
        log_analytics_workspace_id="00000000-0000-0000-0000-000000000000",
    )
    sinks, warnings = sinks_from(settings)
    assert [s.name for s in sinks] == ["log", "teams"]
    assert "AZURE_MONITOR_ENDPOINT" in warnings[0]
    lake = tmp_path / "lake"
    monitor = PipelineMonitor(engine_for(lake), load_config(), settings=settings)
    bad = PipelineMonitor(
        engine_for(lake), load_config(), sinks=[TeamsSink("http://127.0.0.1:9/x")]
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    failed = RunRecord(
        run_id="f",
        status="failed",
        engine="polars",
        started_at=now,
        ended_at=now,
        duration_s=0.0,
        stage_durations={},
        error="boom",
    )
    kept = bad.finish(failed)
    assert kept.warnings and kept.warnings[0].startswith("teams: 127.0.0.1:9 unreachable")
    assert read_table(lake, "pipeline_runs").row(0, named=True)["warnings"] == json.dumps(
        kept.warnings
    )
    summary = run_lake(small_fleet, lake, skip_ml=True, monitor=monitor)
    assert summary.status == "success"
    assert any("AZURE_MONITOR_ENDPOINT" in w for w in summary.warnings)


def test_runs_command_lists_recent_runs(small_lake):
    _, lake = small_lake
    listed = runner.invoke(app, ["runs", "--lakehouse", str(lake), "--json"])
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.stdout)
    assert records and records[0]["status"] == "success"
    text = runner.invoke(app, ["runs", "--lakehouse", str(lake)])
    assert "Recent pipeline runs" in text.stdout and "Slowest stages" in text.stdout
