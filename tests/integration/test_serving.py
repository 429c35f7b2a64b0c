"""The PostgreSQL serving database, against a real server the tests start themselves."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from altaviz.cli import app
from altaviz.lake.catalog import PIPELINE_RUNS
from altaviz.pipeline import PipelineError, PipelineRequest, run_pipeline
from altaviz.serving.database import checksums, connect, migrate
from altaviz.serving.schema import EXPORTED, schema_sql
from altaviz.settings import Settings
from tests.conftest import read_table

runner = CliRunner()
CONTENT = [t for t in EXPORTED if t is not PIPELINE_RUNS]  # the run log grows by design


def cli(args: list[str], url: str):
    """`altaviz ARGS` with DATABASE_URL set (settings are read once per process: re-read)."""
    import os

    from altaviz.settings import get_settings

    before = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        return runner.invoke(app, args)
    finally:
        if before is None:
            os.environ.pop("DATABASE_URL")
        else:
            os.environ["DATABASE_URL"] = before
        get_settings.cache_clear()


def test_the_committed_schema_is_the_generated_one():
    committed = Path("infrastructure/sql/schema.sql").read_text(encoding="utf-8")
    assert committed == schema_sql(), "run: altaviz db schema > infrastructure/sql/schema.sql"


@pytest.fixture(scope="module")
def exported(small_fleet, tmp_path_factory, postgres_url):
    """The small fleet through the pipeline with DATABASE_URL set, in a database of its own."""
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS serving_test")
        admin.execute("CREATE DATABASE serving_test")
    url = postgres_url.rsplit("/", 1)[0] + "/serving_test"
    lake = tmp_path_factory.mktemp("served") / "lake"
    settings = Settings(_env_file=None, database_url=url)
    summary = run_pipeline(PipelineRequest(source=small_fleet, lakehouse=lake), settings=settings)
    return summary, lake, url, settings


def test_a_run_exports_every_gold_and_ml_table(exported):
    summary, lake, url, _ = exported
    assert summary.exported.keys() >= {t.name for t in CONTENT}
    with connect(url) as conn:
        for spec in CONTENT:
            rows = conn.execute(f"SELECT count(*) FROM {spec.name}").fetchone()[0]
            assert rows == read_table(lake, spec.name).height, spec.name
            # Every table holds rows after a run, but people's actions on cases: none yet.
            assert rows > 0 or spec.name == "case_events", spec.name
        runs = conn.execute("SELECT run_id, status FROM pipeline_runs").fetchall()
        assert (summary.run_id, "success") in runs
        latest = conn.execute("SELECT count(*) FROM latest_readings").fetchone()[0]
        assert latest == read_table(lake, "hourly_aggregates")["compressor_id"].n_unique()
        active = conn.execute("SELECT count(*) FROM active_alerts").fetchone()[0]
        assert active == read_table(lake, "alert_history").filter(state="open").height


def test_a_rerun_and_a_re_export_change_nothing(exported):
    _, lake, url, settings = exported
    with connect(url) as conn:
        before = checksums(conn, CONTENT)
        runs_before = conn.execute("SELECT count(*) FROM pipeline_runs").fetchone()[0]
    again = run_pipeline(PipelineRequest(source=None, lakehouse=lake), settings=settings)
    assert again.status == "success"
    result = cli(["db", "export", "--lakehouse", str(lake)], url)
    assert result.exit_code == 0, result.output
    with connect(url) as conn:
        assert checksums(conn, CONTENT) == before
        assert conn.execute("SELECT count(*) FROM pipeline_runs").fetchone()[0] == runs_before + 1
        migrate(conn)  # the schema applies again without change
        assert checksums(conn, CONTENT) == before


def test_a_failed_export_leaves_the_previous_state(exported):
    _, lake, url, _ = exported
    with connect(url) as conn:
        before = checksums(conn, CONTENT)
        conn.execute(
            "ALTER TABLE hourly_aggregates ADD CONSTRAINT no_writes CHECK (reading_count < 0) "
            "NOT VALID"
        )
        conn.commit()
    try:
        result = cli(["db", "export", "--lakehouse", str(lake)], url)
        assert result.exit_code == 3  # the database refused
        assert "export of hourly_aggregates failed" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        with connect(url) as conn:
            assert checksums(conn, CONTENT) == before
    finally:
        with connect(url) as conn:
            conn.execute("ALTER TABLE hourly_aggregates DROP CONSTRAINT no_writes")
            conn.commit()


def test_an_unreachable_database_is_one_clear_line(small_fleet, tmp_path):
    url = "postgresql://nobody@127.0.0.1:9/none"
    migrate_cmd = cli(["db", "migrate"], url)
    assert migrate_cmd.exit_code == 3  # a service is unreachable
    assert migrate_cmd.stderr.startswith("error: DATABASE_URL: cannot connect")
    settings = Settings(_env_file=None, database_url=url)
    with pytest.raises(PipelineError, match="DATABASE_URL: cannot connect"):
        run_pipeline(
            PipelineRequest(source=small_fleet, lakehouse=tmp_path / "lake", skip_ml=True),
            settings=settings,
        )
    skipped = run_pipeline(
        PipelineRequest(
            source=small_fleet, lakehouse=tmp_path / "lake", skip_ml=True, skip_db=True
        ),
        settings=settings,
    )
    assert skipped.exported == {}


def normalised(value):
    """Tool output with floats rounded (the two stores may sum in another order)."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


def test_the_database_backend_answers_as_the_lakehouse_does(exported, small_fleet):
    from altaviz.agent.data import LakehouseData
    from altaviz.agent.diagnostics import diagnose
    from altaviz.agent.postgres import PostgresData
    from altaviz.config import load_config
    from altaviz.engines import get_engine
    from altaviz.fleet.truth import read_failures
    from altaviz.lake.location import lake_location

    _, lake, url, _ = exported
    cfg = load_config()
    offline = Settings(_env_file=None)
    lakehouse = LakehouseData(
        get_engine("polars", lake_location(cfg.lakehouse, offline, root=lake)), cfg
    )
    database = PostgresData(url, cfg)
    failing = read_failures(small_fleet)["compressor_id"].to_list()[:3]
    try:
        for unit in [*failing, "COMP-0001", "COMP-0002"]:
            for tool in (
                "compressor",
                "latest_readings",
                "alert_history",
                "predictions",
                "maintenance_history",
            ):
                here = normalised(getattr(lakehouse, tool)(unit))
                there = normalised(getattr(database, tool)(unit))
                assert here == there, (unit, tool)
            assert (
                diagnose(unit, lakehouse, cfg, offline)[0]
                == diagnose(unit, database, cfg, offline)[0]
            )
    finally:
        database.close()


def test_the_api_serves_the_database_as_it_serves_the_lakehouse(exported):
    from fastapi.testclient import TestClient

    from altaviz.api.app import create_app
    from altaviz.config import load_config
    from altaviz.engines import get_engine
    from altaviz.lake.location import lake_location

    _, lake, url, _ = exported
    cfg = load_config()
    engine = get_engine("polars", lake_location(cfg.lakehouse, Settings(_env_file=None), lake))
    key = {"X-API-Key": "serving-key-0123456789"}
    from_lake = TestClient(
        create_app(engine, cfg, Settings(_env_file=None), api_keys=["serving-key-0123456789"])
    )
    from_db = TestClient(
        create_app(
            engine,
            cfg,
            Settings(_env_file=None, database_url=url),
            api_keys=["serving-key-0123456789"],
        )
    )
    for path in (
        "/fleet",
        "/compressors/COMP-0001",
        "/compressors/COMP-0150",
        "/alerts?state=open&limit=1000",
        "/predictions?at_risk=true&limit=1000",
    ):
        here, there = from_lake.get(path, headers=key), from_db.get(path, headers=key)
        assert here.status_code == there.status_code == 200, path
        assert normalised(here.json()) == normalised(there.json()), path
    assert from_db.get("/health").json()["units"] == 300
