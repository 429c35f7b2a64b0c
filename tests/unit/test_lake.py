"""Catalogue, schemas, locations (local and OneLake), and the Polars engine's Delta operations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import narwhals as nw
import polars as pl
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from altaviz.config import load_config
from altaviz.core.errors import NotFoundError
from altaviz.engines import Txn, get_engine
from altaviz.engines.delta_log import sql_in
from altaviz.lake.catalog import (
    ALERT_HISTORY,
    OPERATING_MODES,
    QUALITY_METRICS,
    SENSOR_CLEANED,
    TABLES,
    table,
)
from altaviz.lake.location import lake_location, onelake_storage_options
from altaviz.settings import Settings

WORKSPACE = "11111111-2222-3333-4444-555555555555"
GOLD_ID = "99999999-8888-7777-6666-555555555555"


def test_catalogue_covers_the_issue_tables_with_keys_and_layout():
    required = {
        "sensor_readings",
        "compressor_metadata",
        "maintenance_events",
        "dead_letter",
        "sensor_cleaned",
        "quality_metrics",
        "hourly_aggregates",
        "daily_aggregates",
        "alert_history",
        "fleet_health",
    }
    assert required <= set(TABLES)
    assert table("hourly_aggregates").partition_by == ("date", "region")
    assert table("hourly_aggregates").zorder_by == ("compressor_id",)
    assert table("sensor_readings").partition_by == ("ingestion_date",)
    for spec in TABLES.values():
        arrow = spec.schema.arrow()
        assert set(spec.partition_by) <= set(arrow.names), spec.name
        assert set(spec.keys) <= set(arrow.names), spec.name
        assert len(set(arrow.names)) == len(arrow.names), spec.name
    with pytest.raises(NotFoundError, match="unknown table 'nope'"):
        table("nope")


def test_one_schema_definition_gives_arrow_types():
    arrow = SENSOR_CLEANED.schema.arrow()
    assert arrow.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert not arrow.field("timestamp").nullable
    assert arrow.field("date").type == pa.date32()
    assert arrow.field("spike_mask").type == pa.int32()


def test_local_layout_mirrors_onelake(tmp_path):
    loc = lake_location(load_config().lakehouse, Settings(_env_file=None), root=tmp_path)
    assert loc.table_uri("bronze", "sensor_readings") == str(
        tmp_path / "lh_bronze_raw" / "Tables" / "sensor_readings"
    )
    assert not loc.onelake and not loc.storage_options


def test_fabric_settings_put_tables_in_onelake():
    settings = Settings(
        _env_file=None, fabric_workspace_id=WORKSPACE, fabric_gold_lakehouse_id=GOLD_ID
    )
    env = {"AZURE_CLIENT_ID": "app", "AZURE_CLIENT_SECRET": "s3cret", "AZURE_TENANT_ID": "tenant"}
    loc = lake_location(load_config().lakehouse, settings, environ=env)
    host = f"abfss://{WORKSPACE}@onelake.dfs.fabric.microsoft.com"
    assert (
        loc.table_uri("gold", "hourly_aggregates") == f"{host}/{GOLD_ID}/Tables/hourly_aggregates"
    )
    # Without a lakehouse GUID the item is addressed by name and type.
    assert (
        loc.table_uri("bronze", "sensor_readings")
        == f"{host}/lh_bronze_raw.Lakehouse/Tables/sensor_readings"
    )
    assert loc.storage_options == {
        "use_fabric_endpoint": "true",
        "azure_client_id": "app",
        "azure_client_secret": "s3cret",
        "azure_tenant_id": "tenant",
    }


def test_onelake_falls_back_to_the_azure_cli_login_without_credentials():
    try:
        import azure.identity  # noqa: F401
    except ImportError:
        assert onelake_storage_options({}) == {
            "use_fabric_endpoint": "true",
            "use_azure_cli": "true",
        }
    else:  # pragma: no cover - the azure extra is not installed in CI
        pytest.skip("azure-identity installed: the default credential chain is used instead")


def test_an_explicit_local_root_wins_over_fabric(tmp_path):
    settings = Settings(_env_file=None, fabric_workspace_id=WORKSPACE)
    loc = lake_location(load_config().lakehouse, settings, root=tmp_path)
    assert not loc.onelake


def test_sql_partition_predicate():
    assert sql_in({"date": [date(2026, 3, 1)]}) == "date IN ('2026-03-01')"
    assert sql_in({"region": ["Gulf Coast", "O'Hare"]}) == "region IN ('Gulf Coast', 'O''Hare')"
    with pytest.raises(ValueError, match="no values"):
        sql_in({"date": []})


def _quality(day: date, value: float) -> nw.DataFrame:
    return nw.from_native(
        pl.DataFrame(
            {
                "date": [day, day],
                "check": ["fleet_completeness", "freshness_minutes"],
                "value": [value, value],
                "threshold": [0.85, 15.0],
                "severity": ["pass", "pass"],
                "passed": [True, True],
                "detail": [None, None],
            }
        )
    )


def test_engine_merge_replace_transactions_and_history(tmp_path):
    engine = get_engine(
        "polars", lake_location(load_config().lakehouse, Settings(_env_file=None), root=tmp_path)
    )
    assert not engine.exists(QUALITY_METRICS) and engine.version(QUALITY_METRICS) is None
    assert engine.read(QUALITY_METRICS).collect().shape == (0, 7)
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    engine.merge(QUALITY_METRICS, _quality(d1, 1.0), [Txn("job", 7)])
    engine.merge(QUALITY_METRICS, _quality(d1, 0.5))  # upsert on (date, check)
    engine.merge(QUALITY_METRICS, _quality(d2, 0.9))
    rows = engine.read(QUALITY_METRICS).collect().to_native()
    assert rows.height == 4
    assert rows.filter(date=d1)["value"].to_list() == [0.5, 0.5]
    assert engine.txn_version(QUALITY_METRICS, "job") == 7
    assert engine.txn_version(QUALITY_METRICS, "other") is None
    # Replacing one date leaves the other untouched.
    engine.replace(QUALITY_METRICS, _quality(d1, 0.1).head(1), {"date": [d1]})
    rows = engine.read(QUALITY_METRICS).collect().to_native()
    assert rows.filter(date=d1).height == 1 and rows.filter(date=d2).height == 2
    assert [h["version"] for h in engine.history(QUALITY_METRICS)] == [3, 2, 1, 0]


def test_engine_tracks_partitions_and_files_added_since_a_version(tmp_path):
    engine = get_engine(
        "polars", lake_location(load_config().lakehouse, Settings(_env_file=None), root=tmp_path)
    )
    alert = {
        "alert_id": ["a"],
        "compressor_id": ["COMP-0001"],
        "station_id": ["S"],
        "region": ["R"],
        "alert_type": ["threshold"],
        "sensor": ["vibration_mms"],
        "severity": ["warning"],
        "state": ["open"],
        "opened_at": [datetime(2026, 3, 1, tzinfo=UTC)],
        "escalated_at": [None],
        "resolved_at": [None],
        "last_abnormal_at": [datetime(2026, 3, 1, tzinfo=UTC)],
        "trigger_value": [6.1],
        "peak_value": [6.5],
        "limit_value": [6.0],
        "notify": [True],
        "message": ["m"],
        "date": [date(2026, 3, 1)],
    }
    engine.append(ALERT_HISTORY, nw.from_native(pl.DataFrame(alert)))
    first = engine.version(ALERT_HISTORY)
    second = {**alert, "alert_id": ["b"], "date": [date(2026, 3, 2)]}
    engine.append(ALERT_HISTORY, nw.from_native(pl.DataFrame(second)))
    assert engine.added_partitions(ALERT_HISTORY, first) == {date(2026, 3, 2)}
    assert engine.partition_values(ALERT_HISTORY) == {date(2026, 3, 1), date(2026, 3, 2)}
    added = engine.read_added(ALERT_HISTORY, first).collect()
    assert added.get_column("alert_id").to_list() == ["b"]
    # A file whose bounds lie on one date gives that date from the log, no data read...
    read = []
    engine.read_files = lambda spec, files: read.append(files)
    assert engine.added_dates(ALERT_HISTORY, first, "opened_at") == {date(2026, 3, 1)}
    assert read == []
    del engine.read_files
    # ...one whose bounds span dates is read: which dates between them hold rows.
    second_version = engine.version(ALERT_HISTORY)
    spanning = [datetime(2026, 3, 2, 23, 59, tzinfo=UTC), datetime(2026, 3, 4, 0, 10, tzinfo=UTC)]
    both = {k: v * 2 for k, v in alert.items()}
    third = {**both, "alert_id": ["c", "d"], "opened_at": spanning, "date": [date(2026, 3, 3)] * 2}
    engine.append(ALERT_HISTORY, nw.from_native(pl.DataFrame(third)))
    assert engine.added_dates(ALERT_HISTORY, second_version, "opened_at") == {
        date(2026, 3, 2),
        date(2026, 3, 4),
    }
    assert engine.optimize(ALERT_HISTORY) is not None
    assert engine.vacuum(ALERT_HISTORY, 0, dry_run=True) == []


def _statistics(engine, spec) -> set[str]:
    """The columns whose minimum the table's files record."""
    actions = pl.DataFrame(engine._table(spec).get_add_actions(flatten=True))
    return {c.removeprefix("min.") for c in actions.columns if c.startswith("min.")}


def test_telemetry_tables_keep_file_statistics_on_their_keys_only(tmp_path):
    engine = get_engine(
        "polars", lake_location(load_config().lakehouse, Settings(_env_file=None), root=tmp_path)
    )
    hour = datetime(2026, 3, 1, tzinfo=UTC)
    row = {c.name: [None if c.nullable else 0] for c in OPERATING_MODES.schema.columns}
    row |= {"compressor_id": ["COMP-0001"], "hour": [hour], "date": [date(2026, 3, 1)]}
    engine.append(OPERATING_MODES, engine.frame(OPERATING_MODES, row))
    assert _statistics(engine, OPERATING_MODES) == {"compressor_id", "hour"}
    # A table without the setting (Delta's default) records every column's.
    engine.merge(QUALITY_METRICS, _quality(date(2026, 3, 1), 1.0))
    assert _statistics(engine, QUALITY_METRICS) == set(QUALITY_METRICS.schema.names)


def test_a_table_of_an_earlier_version_is_brought_up_to_the_catalogue_once(tmp_path):
    location = lake_location(load_config().lakehouse, Settings(_env_file=None), root=tmp_path)
    engine = get_engine("polars", location)
    # As an earlier version wrote it: one column short, statistics on every column.
    added = "standby_compression_ratio"
    earlier = pa.schema([f for f in OPERATING_MODES.schema.arrow() if f.name != added])
    write_deltalake(engine.uri(OPERATING_MODES), earlier.empty_table(), partition_by=["date"])
    engine.evolve(OPERATING_MODES)
    table = engine._table(OPERATING_MODES)
    assert added in table.schema().to_arrow().names
    assert table.metadata().configuration == OPERATING_MODES.table_properties()
    get_engine("polars", location).evolve(OPERATING_MODES)  # a later run changes nothing
    assert engine.version(OPERATING_MODES) == table.version()
