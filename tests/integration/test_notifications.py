"""Notifications against real local receivers: an SMTP server (aiosmtpd) and an HTTP
receiver. Each escalation step goes out exactly once; an acknowledgement stops it; a
maintenance window silences a station; a rerun sends nothing."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import threading
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer

import polars as pl
import pytest
from aiosmtpd.controller import Controller

from altaviz.config import load_config
from altaviz.config.schema.notifications import NotificationsConfig
from altaviz.engines import open_engine
from altaviz.fleet import SimulationRequest, simulate
from altaviz.pipeline.cases import cases_stage
from altaviz.pipeline.context import PipelineRequest, RunContext
from altaviz.pipeline.notifications import notify_stage
from altaviz.settings import Settings
from altaviz.worklist import Actor, Role, triage
from tests.conftest import START, read_table, run_lake


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller cannot be given port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def webhook(monkeypatch):
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ALTAVIZ_TEST_HOOK", f"http://127.0.0.1:{server.server_port}/hook")
    yield received
    server.shutdown()


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory):
    """The demo fleet (two failing units) for five days, through the rules (no models)."""
    root = tmp_path_factory.mktemp("notify")
    simulate(SimulationRequest(output=root / "fleet", days=5, seed=3, start=START, demo=True))
    run_lake(root / "fleet", root / "lake", skip_ml=True)
    return root / "lake"


def rules_for(station: str, **more) -> NotificationsConfig:
    return NotificationsConfig.model_validate(
        {
            "version": 1,
            "routes": [
                {
                    "name": "critical",
                    "match": {"severity": ["critical"], "station": [station]},
                    "escalation": [
                        {"after_minutes": 0, "channel": "email", "to": "oncall@example.com"},
                        {"after_minutes": 30, "channel": "webhook", "to": "ALTAVIZ_TEST_HOOK"},
                    ],
                    "repeat_minutes": 60,
                }
            ],
            **more,
        }
    )


def test_each_step_goes_out_once_until_someone_acknowledges(demo_lake, tmp_path, smtp, webhook):
    port, inbox = smtp
    lake = tmp_path / "lake"
    shutil.copytree(demo_lake, lake)
    case = (
        read_table(lake, "cases")
        .filter(pl.col("state") == "open", pl.col("severity") == "critical")
        .sort("opened_at")
        .row(0, named=True)
    )
    config = dataclasses.replace(load_config(), notifications=rules_for(case["station_id"]))
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port)
    engine = open_engine("polars", lake, config, settings)
    run = RunContext(engine, config, PipelineRequest())
    opened = case["opened_at"]

    # Step 0 once due; a second run at the same moment sends nothing.
    assert notify_stage(run, settings, now=opened + timedelta(minutes=10)) == 1
    assert notify_stage(run, settings, now=opened + timedelta(minutes=10)) == 0
    assert [m["X-Altaviz-Notification"] for m in inbox.messages] == [
        f"{case['case_id']}/critical/0"
    ]
    assert inbox.messages[0]["To"] == "oncall@example.com" and webhook == []
    assert case["compressor_id"] in inbox.messages[0]["Subject"]

    # Step 1 at 30 minutes, once, to the webhook; then a repeat each hour, once each.
    assert notify_stage(run, settings, now=opened + timedelta(minutes=45)) == 1
    assert [(w["case_ids"], w["step"]) for w in webhook] == [([case["case_id"]], 1)]
    assert notify_stage(run, settings, now=opened + timedelta(minutes=95)) == 1
    assert notify_stage(run, settings, now=opened + timedelta(minutes=100)) == 0
    assert [w["step"] for w in webhook] == [1, 2]

    # Acknowledged (taken in by the pipeline's cases stage): no more escalation.
    triage(engine, case["case_id"], "acknowledge", Actor("alice", Role.ENGINEER))
    cases_stage(run)
    assert notify_stage(run, settings, now=opened + timedelta(hours=6)) == 0
    log = read_table(lake, "notifications")
    assert log.height == 3 and log["notification_id"].is_unique().all()
    assert set(log["status"]) == {"sent"}


def test_a_maintenance_window_silences_its_station(demo_lake, tmp_path, smtp):
    port, inbox = smtp
    lake = tmp_path / "lake"
    shutil.copytree(demo_lake, lake)
    case = read_table(lake, "cases").filter(pl.col("severity") == "critical").row(0, named=True)
    window = {
        "station": case["station_id"],
        "start": case["opened_at"] - timedelta(hours=1),
        "end": case["opened_at"] + timedelta(days=1),
        "reason": "overhaul",
    }
    rules = rules_for(case["station_id"], maintenance_windows=[window])
    config = dataclasses.replace(load_config(), notifications=rules)
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port)
    run = RunContext(open_engine("polars", lake, config, settings), config, PipelineRequest())
    assert notify_stage(run, settings, now=case["opened_at"] + timedelta(hours=2)) == 0
    assert inbox.messages == []


def test_an_unreachable_smtp_server_is_recorded_and_retried(demo_lake, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(demo_lake, lake)
    rules = NotificationsConfig.model_validate(
        {
            "version": 1,
            "routes": [
                {
                    "name": "all",
                    "escalation": [{"after_minutes": 0, "channel": "email", "to": "x@example.com"}],
                }
            ],
        }
    )
    config = dataclasses.replace(load_config(), notifications=rules)
    settings = Settings(smtp_host="127.0.0.1", smtp_port=1)  # nothing listens there
    run = RunContext(open_engine("polars", lake, config, settings), config, PipelineRequest())
    assert notify_stage(run, settings) == 0
    log = read_table(lake, "notifications")
    assert log.height > 0 and set(log["status"]) == {"failed"}
    assert log["error"].str.contains("Connection refused|ConnectionRefused").all()
