"""The PostgreSQL serving schema, generated from the lakehouse catalogue so the two never
disagree: one table per exported Delta table (same columns, same natural key), the indexes the
API's queries need, and views for latest readings, active alerts and fleet health.

``infrastructure/sql/schema.sql`` is this module's output (``altaviz db schema``); a test
keeps the committed file equal to it. Every statement is idempotent, so applying it again
(``altaviz db migrate``) changes nothing.
"""

from __future__ import annotations

from typing import Final

from altaviz.lake import catalog as lake
from altaviz.lake.catalog import TableSpec

EXPORTED: Final = (
    lake.STATIONS,
    lake.COMPRESSOR_METADATA,
    lake.MAINTENANCE_EVENTS,
    lake.QUALITY_METRICS,
    lake.HOURLY_AGGREGATES,
    lake.DAILY_AGGREGATES,
    lake.ALERT_HISTORY,
    lake.FLEET_HEALTH,
    lake.EMISSIONS_ESTIMATES,
    lake.OPERATING_MODE_DAYS,
    lake.PACKING_MEASUREMENTS,
    lake.ML_PREDICTIONS,
    lake.UNIT_BASELINES,
    lake.PIPELINE_RUNS,
    lake.CASES,
    lake.CASE_EVENTS,
)
"""Tables the pipeline exports, in the order they are created and filled."""

SQL_TYPES: Final = {
    "string": "TEXT",
    "float64": "DOUBLE PRECISION",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
}

INDEXES: Final = (
    ("hourly_aggregates", ("compressor_id", "hour DESC")),
    ("daily_aggregates", ("compressor_id", "date DESC")),
    ("alert_history", ("compressor_id", "opened_at DESC")),
    ("alert_history", ("state", "severity")),
    ("ml_predictions", ("compressor_id", "hour DESC")),
    ("emissions_estimates", ("station_id", "date")),
    ("maintenance_events", ("compressor_id", "started_at DESC")),
    ("compressor_metadata", ("station_id",)),
    ("pipeline_runs", ("started_at DESC",)),
)

VIEWS: Final = {
    "latest_readings": """
SELECT DISTINCT ON (h.compressor_id) h.*
FROM hourly_aggregates h
ORDER BY h.compressor_id, h.hour DESC""",
    "active_alerts": """
SELECT a.*
FROM alert_history a
WHERE a.state IN ('open', 'acknowledged')""",
    "latest_fleet_health": """
SELECT f.*
FROM fleet_health f
WHERE f.date = (SELECT max(date) FROM fleet_health)""",
}

ADDED_COLUMNS: Final = {
    "emissions_estimates": (
        "operating_hours",
        "standby_hours",
        "packing_leak_scfm_per_cylinder",
        "packing_vent_uncertainty_scfm",
    ),
}
"""Columns added to a table after its first version: a database made before gets them."""

SCHEMA_VERSION: Final = 2


def quote(name: str) -> str:
    """A column name as a quoted identifier (``check`` is a reserved word, for one).

    >>> quote("check")
    '"check"'
    """
    return '"' + name.replace('"', '""') + '"'


def table_ddl(spec: TableSpec) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one catalogue table.

    >>> print(table_ddl(lake.STATIONS).splitlines()[0])
    CREATE TABLE IF NOT EXISTS stations (
    """
    lines = [
        f"    {quote(c.name)} {SQL_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}"
        for c in spec.schema.columns
    ]
    if spec.keys:
        lines.append(f"    PRIMARY KEY ({', '.join(map(quote, spec.keys))})")
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {spec.name} (\n{body}\n);"


def added_ddl(spec: TableSpec) -> list[str]:
    """``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` for the table's later columns."""
    types = {c.name: SQL_TYPES[c.type] for c in spec.schema.columns}
    return [
        f"ALTER TABLE {spec.name} ADD COLUMN IF NOT EXISTS {quote(name)} {types[name]};"
        for name in ADDED_COLUMNS.get(spec.name, ())
    ]


def schema_sql() -> str:
    """The whole serving schema as one SQL script."""
    parts = [
        "-- Altaviz serving database (PostgreSQL). Generated from the lakehouse catalogue by",
        "-- `altaviz db schema`; apply with `altaviz db migrate`. Every statement is idempotent.",
        "",
        "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
        "    version INTEGER PRIMARY KEY,\n"
        "    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()\n);",
        "",
    ]
    for spec in EXPORTED:
        parts += [f"-- {spec.description}", table_ddl(spec), *added_ddl(spec), ""]
    for table, columns in INDEXES:
        name = f"{table}_{'_'.join(c.split()[0] for c in columns)}_idx"
        cols = ", ".join(quote(c.split()[0]) + c[len(c.split()[0]) :] for c in columns)
        parts.append(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols});")
    parts.append("")
    for name, query in VIEWS.items():
        parts += [f"CREATE OR REPLACE VIEW {name} AS{query};", ""]
    parts.append(
        f"INSERT INTO schema_migrations (version) VALUES ({SCHEMA_VERSION}) "
        "ON CONFLICT (version) DO NOTHING;"
    )
    return "\n".join(parts) + "\n"
