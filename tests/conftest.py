"""Shared fixtures: simulations run once per session and read by many tests."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from altaviz.config import AppConfig, load_config
from altaviz.config.schema import DemoFailure
from altaviz.fleet import SimulationRequest, SimulationSummary, simulate
from altaviz.fleet.failure_modes import MODES

START = datetime(2026, 3, 1, tzinfo=UTC)

# One MLflow store for the session, outside the working tree (subprocesses inherit it).
MLFLOW_DIR = Path(tempfile.mkdtemp(prefix="altaviz-tests-mlflow-"))
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{MLFLOW_DIR}/mlflow.db"


def read_telemetry(output: Path) -> pl.DataFrame:
    return pl.read_parquet(output / "telemetry" / "**" / "*.parquet", hive_partitioning=True)


@pytest.fixture(scope="session")
def config() -> AppConfig:
    return load_config()


@pytest.fixture(scope="session")
def full_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationSummary, Path]:
    """The default 4,700-unit fleet for one day: fleet shape, dirt shares, degrading share."""
    out = tmp_path_factory.mktemp("full_day") / "fleet"
    return simulate(SimulationRequest(output=out, days=1, seed=11, start=START)), out


def planted_config(config: AppConfig, failed_days_before_end: float) -> AppConfig:
    """``config`` with one planted failure of every mode on the demo fleet (unit i+1 gets
    mode i), each failing ``failed_days_before_end`` days before the run ends."""
    demo = config.fleet.demo.model_copy(
        update={
            "failures": [
                DemoFailure(
                    unit=i + 1,
                    mode=mode,
                    progress_at_end=1.0
                    + failed_days_before_end / config.fleet.failures.modes[mode].typical_days,
                )  # type: ignore[arg-type]
                for i, mode in enumerate(MODES)
            ]
        }
    )
    return dataclasses.replace(config, fleet=config.fleet.model_copy(update={"demo": demo}))


@pytest.fixture(scope="session")
def planted(
    tmp_path_factory: pytest.TempPathFactory, config: AppConfig
) -> tuple[SimulationSummary, Path, AppConfig]:
    """The demo fleet with one planted failure of every mode, each tripping inside the run."""
    cfg = planted_config(config, failed_days_before_end=3.0)
    out = tmp_path_factory.mktemp("planted") / "fleet"
    summary = simulate(
        SimulationRequest(output=out, days=20, seed=5, start=START, demo=True), config=cfg
    )
    return summary, out, cfg


# ------------------------------------------------------------------------ pipeline fixtures


def run_lake(source: Path, lakehouse: Path, mlflow: Path | None = None, monitor=None, **options):
    """The pipeline over ``source``; ``mlflow``: a folder for an MLflow store of its own
    (default: the session's); ``monitor``: a PipelineMonitor of the test's own."""
    from altaviz.pipeline import PipelineRequest, run_pipeline
    from altaviz.settings import Settings

    settings = None
    if mlflow is not None:
        settings = Settings(_env_file=None, mlflow_tracking_uri=f"sqlite:///{mlflow}/mlflow.db")
    request = PipelineRequest(source=source, lakehouse=lakehouse, **options)
    return run_pipeline(request, settings=settings, monitor=monitor)


def read_table(lakehouse: Path, name: str) -> pl.DataFrame:
    """A lakehouse table by catalogue name, as Polars (empty with its schema if absent)."""
    from altaviz.lake.catalog import table
    from altaviz.lake.location import lake_location
    from altaviz.settings import Settings

    spec = table(name)
    location = lake_location(load_config().lakehouse, Settings(_env_file=None), root=lakehouse)
    uri = location.table_uri(spec.layer, spec.name)
    if not (Path(uri) / "_delta_log").exists():
        return pl.from_arrow(spec.schema.arrow().empty_table())
    return pl.read_delta(uri)


def write_bad_batch(source: Path) -> Path:
    """Add a landing file of eight bad records (one per rejection reason) to ``source``'s first
    landing date; returns its path."""
    import pyarrow.parquet as pq

    good = pl.read_parquet(next((source / "telemetry").glob("date=*/*.parquet"))).head(6)
    ts = good["timestamp"]
    bad = pl.DataFrame(
        {
            "timestamp": [
                str(ts[0]),
                str(ts[1]),
                None,
                "1969-07-20 20:17:00+00:00",
                "2100-01-01 00:00:00+00:00",
                str(ts[2]),
                str(ts[3]),
                "not a time",
            ],
            "compressor_id": [
                "COMP-9999",
                "PUMP-12",
                "COMP-0001",
                "COMP-0001",
                "COMP-0001",
                "COMP-0001",
                None,
                "COMP-0002",
            ],
            "vibration_mms": ["3.1", "3.2", "3.3", "3.4", "3.5", "abc", "3.6", "3.7"],
            "received_at": [good["received_at"][0]] * 8,
        }
    )
    folder = source / "telemetry" / f"date={good['received_at'][0].date()}"
    path = folder / "late-batch.parquet"
    pq.write_table(bad.to_arrow(), path)
    return path


@pytest.fixture(scope="session")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 units x 3 days of simulated landing files."""
    out = tmp_path_factory.mktemp("small") / "fleet"
    simulate(SimulationRequest(output=out, compressors=300, days=3, seed=21, start=START))
    return out


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory: pytest.TempPathFactory, small_fleet: Path):
    """The small fleet through the whole pipeline once: (summary, lakehouse)."""
    lakehouse = tmp_path_factory.mktemp("small_lake") / "lake"
    return run_lake(small_fleet, lakehouse), lakehouse


@pytest.fixture(scope="session")
def planted_lake(tmp_path_factory: pytest.TempPathFactory, planted):
    """The planted-failure fleet through the pipeline: (summary, lakehouse, fleet folder)."""
    _, out, _ = planted
    lakehouse = tmp_path_factory.mktemp("planted_lake") / "lake"
    # An MLflow store of its own: what its models do must not depend on test order.
    return run_lake(out, lakehouse, mlflow=lakehouse.parent / "mlruns"), lakehouse, out


# ------------------------------------------------------------------------ PostgreSQL


def _postgres_bin(name: str) -> str:
    import glob
    import shutil

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        pytest.fail(f"PostgreSQL's {name} is not installed (make test installs postgresql)")
    return found[-1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server of the session's own, on a free loopback port."""
    import pwd
    import shutil
    import socket
    import subprocess

    folder = Path(tempfile.mkdtemp(prefix="altaviz-pg-"))
    data = folder / "data"
    folder.chmod(0o755)
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = {"check": True, "capture_output": True}
    subprocess.run(
        [*prefix, _postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "altaviz"], **run
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [*prefix, _postgres_bin("pg_ctl"), "-D", str(data)]
    subprocess.run([*ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"], **run)
    try:
        yield f"postgresql://altaviz@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real single-node Kafka broker (KRaft) for the session, installed from Maven Central
    the first time and stopped at the end."""
    from altaviz.stream.broker import LocalBroker, free_port_pair

    broker = LocalBroker(tmp_path_factory.mktemp("kafka"), port=free_port_pair(), partitions=16)
    broker.start()
    yield broker
    broker.stop()
