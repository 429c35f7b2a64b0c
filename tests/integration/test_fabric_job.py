"""What the Fabric deployment guide asks of the build, run here: the wheel builds and installs
into a fresh environment, and the job entry point runs the pipeline on local Spark."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from altaviz import __version__
from altaviz.fleet import SimulationRequest, simulate
from tests.conftest import START, read_table

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "infrastructure" / "fabric" / "altaviz_job.py"


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build the wheel"
    return uv


def test_the_wheel_builds_and_installs_into_a_fresh_environment(tmp_path):
    uv = _uv()
    dist = tmp_path / "dist"
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)], check=True, capture_output=True
    )
    (wheel,) = dist.glob("altaviz-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
    )
    shown = subprocess.run(
        [venv / "bin" / "altaviz", "--version"], check=True, capture_output=True, text=True
    )
    assert __version__ in shown.stdout
    # The packaged configuration travels inside the wheel.
    checked = subprocess.run(
        [venv / "bin" / "altaviz", "config", "validate"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "configuration valid" in checked.stdout


def test_the_job_entry_point_runs_the_pipeline_on_local_spark(tmp_path):
    pytest.importorskip("pyspark", reason="the Spark engine is an optional extra")
    source, lake = tmp_path / "landing", tmp_path / "lake"
    simulate(SimulationRequest(output=source, days=1, seed=3, start=START, demo=True))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_")}
    result = subprocess.run(
        [
            sys.executable,
            str(JOB),
            "--env",
            f"ALTAVIZ_LAKEHOUSE_ROOT={lake}",
            "--",
            "pipeline",
            "--engine",
            "spark",
            "--source",
            str(source),
            "--skip-ml",
            "--skip-quality",
            "--skip-db",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["engine"] == "spark" and summary["status"] == "success"
    bronze = read_table(lake, "sensor_readings")
    assert bronze.height == summary["rows"]["bronze"] > 0
    assert read_table(lake, "hourly_aggregates").height == summary["rows"]["gold_hourly"] > 0
