"""The worklist against the simulator's truth: one case per sick unit, repaired units off
the list, people's actions kept through reruns, roles enforced by the API."""

from __future__ import annotations

import shutil
from datetime import timedelta

import polars as pl
import pytest
from fastapi.testclient import TestClient

from altaviz.api.app import create_app
from altaviz.config import load_config
from altaviz.engines import open_engine
from altaviz.fleet.truth import read_failures
from altaviz.lake.catalog import TABLES
from altaviz.settings import Settings
from altaviz.worklist import Actor, Role, triage
from tests.conftest import read_table, run_lake

ENGINEER = {"X-API-Key": "engineer-key-0123"}
VIEWER = {"X-API-Key": "viewer-key-01234"}


def test_at_most_one_open_alert_per_unit_type_and_sensor(small_lake, planted_lake):
    for lake in (small_lake[1], planted_lake[1]):
        open_ = read_table(lake, "alert_history").filter(pl.col("state") == "open")
        kind = pl.col("alert_type") == "trend"
        per_pair = open_.group_by("compressor_id", "sensor", kind.alias("trend")).len()
        assert per_pair["len"].max() in (None, 1)


def test_one_case_per_sick_unit_on_the_worklist(small_lake):
    cases = read_table(small_lake[1], "cases")
    listed = cases.filter(pl.col("state").is_in(["open", "acknowledged", "snoozed"]))
    assert listed.height > 0
    assert listed.group_by("compressor_id").len()["len"].max() == 1
    open_alerts = read_table(small_lake[1], "alert_history").filter(pl.col("state") == "open")
    assert set(listed["compressor_id"]) == set(open_alerts["compressor_id"])


def test_repaired_units_leave_the_worklist(planted_lake):
    _, lake, fleet = planted_lake
    failures = read_failures(fleet)
    end = read_table(lake, "hourly_aggregates")["hour"].max() + timedelta(hours=1)
    repaired = failures.filter(pl.col("back_online_time") <= end - timedelta(hours=2))
    assert repaired.height >= 5
    units = repaired["compressor_id"].to_list()
    open_alerts = read_table(lake, "alert_history").filter(
        pl.col("state") == "open", pl.col("compressor_id").is_in(units)
    )
    assert open_alerts.height == 0, open_alerts.select("alert_id", "opened_at")
    cases = read_table(lake, "cases").filter(pl.col("compressor_id").is_in(units))
    assert set(cases["state"]) == {"resolved"}
    # The case of each failure was resolved by its repair.
    assert set(cases.filter(pl.col("resolution") == "repaired")["compressor_id"]) == set(units)


@pytest.fixture
def triaged_lake(planted_lake, tmp_path):
    """A copy of the planted lakehouse, with an MLflow store of its own."""
    lake = tmp_path / "lake"
    shutil.copytree(planted_lake[1], lake)
    shutil.copytree(planted_lake[1].parent / "mlruns", tmp_path / "mlruns")
    return lake, planted_lake[2], tmp_path / "mlruns"


def engine_of(lake):
    return open_engine("polars", lake, load_config(), Settings())


def test_the_api_enforces_roles_and_keeps_the_audit_trail(triaged_lake):
    lake, _, _ = triaged_lake
    principals = {
        "engineer-key-0123": ("erin", "engineer"),
        "viewer-key-01234": ("vic", "viewer"),
    }
    app = create_app(engine_of(lake), load_config(), Settings(), principals=principals)
    client = TestClient(app)
    everything = client.get("/cases?state=all", headers=VIEWER).json()
    assert everything["count"] > 0
    case_id = everything["cases"][0]["case_id"]
    refused = client.post(f"/cases/{case_id}/acknowledge", headers=VIEWER, json={})
    assert refused.status_code == 403
    done = client.post(f"/cases/{case_id}/note", headers=ENGINEER, json={"note": "on site"})
    assert done.status_code == 200, done.text
    bad = client.post(f"/cases/{case_id}/close", headers=ENGINEER, json={"reason": "bored"})
    assert bad.status_code == 400 and "close needs a reason" in bad.json()["detail"]
    closed = client.post(
        f"/cases/{case_id}/close",
        headers=ENGINEER,
        json={"reason": "repaired", "failure_mode": "bearing_wear", "note": "bearings"},
    )
    assert closed.status_code == 200 and closed.json()["case"]["state"] == "closed"
    detail = client.get(f"/cases/{case_id}", headers=VIEWER).json()
    assert [(e["actor"], e["action"]) for e in detail["events"]] == [
        ("erin", "note"),
        ("erin", "close"),
    ]
    assert detail["events"][1]["reason"] == "repaired"
    assert client.get("/cases/CASE-NOPE", headers=VIEWER).status_code == 404


def test_a_rerun_with_human_actions_in_place_changes_no_table(triaged_lake):
    lake, fleet, mlruns = triaged_lake
    engine = engine_of(lake)
    case_id = read_table(lake, "cases")["case_id"][0]
    triage(engine, case_id, "acknowledge", Actor("alice", Role.ENGINEER))
    triage(engine, case_id, "close", Actor("alice", Role.ENGINEER), reason="false_alarm")
    run_lake(fleet, lake, mlflow=mlruns)  # takes the actions into the cases table
    versions = {name: engine.version(spec) for name, spec in TABLES.items()}
    events = read_table(lake, "case_events")
    again = run_lake(fleet, lake, mlflow=mlruns)
    assert again.rows.bronze == 0
    after = {name: engine.version(spec) for name, spec in TABLES.items()}
    moved = {n for n in versions if versions[n] != after[n] and n != "pipeline_runs"}
    assert moved == set()
    assert read_table(lake, "case_events").equals(events)
    case = read_table(lake, "cases").filter(pl.col("case_id") == case_id).row(0, named=True)
    assert case["state"] == "closed" and case["closed_reason"] == "false_alarm"
