"""The compliance pack end to end on a copy of the small fleet's lakehouse: the packing
programme, recording measurements (API and CLI), the exceedance case in the worklist, and
the Subpart W report pack - byte-identical from the same inputs, equal to the API's totals,
recorded with who made it, and equal to the golden files kept in ``tests/golden``."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from altaviz.api.app import create_app
from altaviz.cli import app as cli
from altaviz.config import load_config
from altaviz.engines import open_engine
from altaviz.fleet import SimulationRequest, simulate
from altaviz.lake import catalog as lake
from altaviz.settings import Settings
from tests.conftest import START, run_lake
from tests.lake_parity import LAYERS, read_table

ENGINEER = {"X-API-Key": "engineer-key-0123"}
VIEWER = {"X-API-Key": "viewer-key-01234"}
GOLDEN = Path(__file__).parent.parent / "golden"
GOLDEN_FILES = (
    "summary.csv",
    "emissions-by-source.csv",
    "emissions-by-unit.csv",
    "factors.csv",
    "operating-modes.csv",
    "packing-records.csv",
)
GOLDEN_FACILITY = "PERM"


@pytest.fixture(scope="module")
def lakehouse(small_lake, tmp_path_factory) -> Path:
    """A copy of the small fleet's lakehouse, for this module to change."""
    _, original = small_lake
    copy = tmp_path_factory.mktemp("compliance") / "lake"
    shutil.copytree(original, copy)
    return copy


@pytest.fixture(scope="module")
def client(lakehouse) -> TestClient:
    config = load_config()
    settings = Settings(_env_file=None)
    engine = open_engine("polars", lakehouse, config, settings)
    principals = {
        ENGINEER["X-API-Key"]: ("erin", "engineer"),
        VIEWER["X-API-Key"]: ("vic", "viewer"),
    }
    return TestClient(create_app(engine, config, settings, principals=principals))


def test_the_programme_lists_every_unit_with_its_rule_and_due_date(client):
    body = client.get("/compliance/packing?limit=1000", headers=VIEWER).json()
    assert body["count"] == 300
    units = pl.DataFrame(body["units"], infer_schema_length=None)
    assert set(units["rule"]) == {"OOOOa", "OOOOb"}
    assert units["next_due"].null_count() == 0
    assert body["overdue"] == units["overdue"].sum()
    soon = client.get("/compliance/packing?due_within_days=30", headers=VIEWER).json()
    assert 0 < soon["count"] < body["count"]


def test_a_measurement_needs_an_engineer_and_one_flow_per_cylinder(client):
    base = {"compressor_id": "COMP-0001", "measured_at": "2026-03-03T10:00:00Z"}
    refused = client.post(
        "/compliance/packing/measurements", json={**base, "vent_scfm": [0.5] * 4}, headers=VIEWER
    )
    assert refused.status_code == 403
    wrong = client.post(
        "/compliance/packing/measurements", json={**base, "vent_scfm": [0.5]}, headers=ENGINEER
    )
    assert wrong.status_code == 400 and "cylinders" in wrong.json()["detail"]
    unknown = client.post(
        "/compliance/packing/measurements",
        json={**base, "compressor_id": "COMP-9999", "vent_scfm": [0.5]},
        headers=ENGINEER,
    )
    assert unknown.status_code == 404


def test_an_exceedance_opens_a_critical_case_with_its_repair_deadline(
    client, lakehouse, small_fleet
):
    programme = client.get("/compliance/packing?limit=1000", headers=VIEWER).json()["units"]
    unit_id = min(u["compressor_id"] for u in programme if u["rule"] == "OOOOb")
    units = read_table(lakehouse, lake.COMPRESSOR_METADATA)
    cylinders = units.filter(pl.col("compressor_id") == unit_id)["cylinders"].item()
    flows = [0.4] * (cylinders - 1) + [3.2]
    response = client.post(
        "/compliance/packing/measurements",
        json={
            "compressor_id": unit_id,
            "measured_at": "2026-03-03T09:30:00Z",
            "vent_scfm": flows,
            "instrument": "Hi-Flow sampler",
        },
        headers=ENGINEER,
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "measurement_id": f"PK-{unit_id}-202603030930-M",
        "recorded_by": "erin",
    }
    again = client.post(
        "/compliance/packing/measurements",
        json={"compressor_id": unit_id, "measured_at": "2026-03-03T09:30:00Z", "vent_scfm": flows},
        headers=ENGINEER,
    )
    assert again.status_code == 400  # records are never changed
    programme = client.get("/compliance/packing?limit=1000", headers=VIEWER).json()
    unit = next(u for u in programme["units"] if u["compressor_id"] == unit_id)
    assert unit["exceedance_open"] and unit["repair_due"] == "2026-04-02"

    assert run_lake(small_fleet, lakehouse).status == "success"
    cases = client.get("/cases?limit=500", headers=VIEWER).json()["cases"]
    case = next(c for c in cases if c["compressor_id"] == unit_id)
    assert "packing_exceedance" in case["alert_types"] and case["severity"] == "critical"
    detail = client.get(f"/cases/{case['case_id']}", headers=VIEWER).json()
    message = next(
        a["message"] for a in detail["alerts"] if a["alert_type"] == "packing_exceedance"
    )
    assert "3.2 scf/min on 1 cylinder(s)" in message and "by 2026-04-02" in message

    versions = {spec.name: _version(lakehouse, spec) for spec in lake.TABLES.values()}
    run_lake(small_fleet, lakehouse)
    after = {spec.name: _version(lakehouse, spec) for spec in lake.TABLES.values()}
    changed = {k for k in versions if versions[k] != after[k]} - {"pipeline_runs"}
    assert changed == set()  # a rerun writes no compliance alert, case or record again


def test_the_cli_records_and_lists_what_is_due(lakehouse):
    runner = CliRunner()
    done = runner.invoke(
        cli,
        [
            "compliance",
            "record",
            "COMP-0003",
            "--replacement",
            "--at",
            "2026-03-03T12:00Z",
            "--lakehouse",
            str(lakehouse),
            "--by",
            "pat",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "PK-COMP-0003-202603031200-R" in done.output
    listed = runner.invoke(
        cli,
        ["compliance", "due", "--all", "--json", "--limit", "1000", "--lakehouse", str(lakehouse)],
    )
    assert listed.exit_code == 0, listed.output
    rows = {r["compressor_id"]: r for r in __import__("json").loads(listed.output)}
    assert rows["COMP-0003"]["last_replacement_at"].startswith("2026-03-03 12:00")
    bad = runner.invoke(cli, ["compliance", "record", "COMP-0003", "--lakehouse", str(lakehouse)])
    assert bad.exit_code == 2 and "--vent" in bad.output


def test_the_report_pack_is_byte_identical_recorded_and_equal_to_the_api(client, lakehouse):
    first = client.post(
        "/compliance/reports", json={"facility": "PERM", "year": 2026}, headers=ENGINEER
    )
    second = client.post(
        "/compliance/reports", json={"facility": "Permian Basin", "year": 2026}, headers=ENGINEER
    )
    assert first.status_code == second.status_code == 201, first.text
    a, b = first.json(), second.json()
    assert a["report_id"] == b["report_id"] and a["files"] == b["files"]
    assert len(a["files"]) == 7
    generations = client.get("/compliance/reports", headers=VIEWER).json()["generations"]
    mine = [g for g in generations if g["report_id"] == a["report_id"]]
    assert len(mine) == 2 and {g["generated_by"] for g in mine} == {"erin"}
    for name, digest in a["files"].items():
        data = client.get(f"/compliance/reports/{a['report_id']}/{name}", headers=VIEWER)
        assert data.status_code == 200 and hashlib.sha256(data.content).hexdigest() == digest
    assert (
        client.get(f"/compliance/reports/{a['report_id']}/..%2Fx", headers=VIEWER).status_code
        == 404
    )
    assert (
        client.post(
            "/compliance/reports", json={"facility": "PERM", "year": 2026}, headers=VIEWER
        ).status_code
        == 403
    )

    folder = lakehouse / "_reports" / a["report_id"]
    summary = pl.read_csv(folder / "subpart-w-PERM-2026-summary.csv").row(0, named=True)
    api = client.get("/emissions?by=basin&since=2026-01-01&until=2026-12-31", headers=VIEWER)
    basin = next(r for r in api.json()["totals"] if r["basin"] == "Permian Basin")
    assert summary["co2e_t"] == pytest.approx(basin["co2e_t"], rel=1e-6)
    assert summary["ch4_t"] == pytest.approx(basin["ch4_t"], rel=1e-6)
    by_unit = pl.read_csv(folder / "subpart-w-PERM-2026-emissions-by-unit.csv")
    assert by_unit["co2e_t"].sum() == pytest.approx(basin["co2e_t"], rel=1e-6)
    pdf = (folder / "subpart-w-PERM-2026-summary.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and a["report_id"].encode() in pdf


@pytest.fixture(scope="module")
def golden_lake(tmp_path_factory) -> Path:
    """A fleet of its own for the golden files: 40 units, 2 days, through the pipeline."""
    out = tmp_path_factory.mktemp("golden") / "fleet"
    simulate(SimulationRequest(output=out, compressors=40, days=2, seed=8, start=START))
    lakehouse = out.parent / "lake"
    assert run_lake(out, lakehouse, mlflow=out.parent / "mlruns").status == "success"
    return lakehouse


def test_the_report_of_a_fixed_fleet_equals_the_golden_files(golden_lake):
    """A change to any figure, factor or column of the pack shows here; regenerate with
    ALTAVIZ_UPDATE_GOLDEN=1 when the change is meant."""
    from altaviz.pipeline.subpart_w import build_report

    config = load_config()
    engine = open_engine("polars", golden_lake, config, Settings(_env_file=None))
    pack = build_report(engine, config, GOLDEN_FACILITY, 2026)
    assert pack.data_from == START.date()
    for suffix in GOLDEN_FILES:
        name = f"subpart-w-{GOLDEN_FACILITY}-2026-{suffix}"
        golden = GOLDEN / name
        if os.environ.get("ALTAVIZ_UPDATE_GOLDEN"):
            GOLDEN.mkdir(exist_ok=True)
            golden.write_bytes(pack.files[name])
        assert pack.files[name] == golden.read_bytes(), f"{name} differs from {golden}"
    assert build_report(engine, config, GOLDEN_FACILITY, 2026).files == pack.files


def _version(root: Path, spec) -> int | None:
    from deltalake import DeltaTable

    path = root / LAYERS[spec.layer] / "Tables" / spec.name
    return DeltaTable(str(path)).version() if (path / "_delta_log").is_dir() else None
