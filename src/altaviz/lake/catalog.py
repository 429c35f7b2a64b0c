"""The table catalogue: every Delta table of the lakehouse, its schema, layout and keys.

Transforms never build paths; they name a table from this catalogue and the engine resolves
it to a location (local folder or OneLake).
"""

from __future__ import annotations

from typing import Final

from altaviz.core.errors import NotFoundError
from altaviz.core.features import FEATURES
from altaviz.core.sensors import SENSORS
from altaviz.lake.schema import Column, TableSpec, columns
from altaviz.lake.worklist import CASE_EVENTS, CASES, NOTIFICATIONS

_SENSOR_COLUMNS = tuple(Column(s, "float64") for s in SENSORS)
_STAT_COLUMNS = tuple(
    Column(f"{s}_{stat}", "float64") for s in SENSORS for stat in ("mean", "min", "max", "std")
)
_STATUS_COLUMNS = tuple(Column(f"{s}_status", "string") for s in SENSORS)
# Where a station (and so each of its compressors) is.
_PLACE_COLUMNS = tuple(
    Column(name, kind)  # type: ignore[arg-type]
    for name, kind in (
        ("basin", "string"),
        ("basin_code", "string"),
        ("region", "string"),
        ("state", "string"),
        ("latitude", "float64"),
        ("longitude", "float64"),
        ("elevation_ft", "int64"),
    )
)

SENSOR_READINGS = TableSpec(
    "sensor_readings",
    "bronze",
    columns(
        Column("timestamp", "timestamp", False),
        Column("compressor_id", "string", False),
        *_SENSOR_COLUMNS,
        ("received_at", "timestamp"),
        Column("ingested_at", "timestamp", False),
        Column("source", "string", False, "landing file or topic/partition the row came from"),
        Column("batch_id", "string", False),
        Column("ingestion_date", "date", False),
    ),
    partition_by=("ingestion_date",),
    stats_on=("compressor_id", "timestamp"),
    description="Raw telemetry exactly as received, plus ingestion metadata. Append-only.",
)

COMPRESSOR_METADATA = TableSpec(
    "compressor_metadata",
    "bronze",
    columns(
        Column("compressor_id", "string", False),
        ("model", "string"),
        ("manufacturer", "string"),
        ("compressor_type", "string"),
        ("rated_hp", "float64"),
        ("cylinders", "int32"),
        ("install_date", "date"),
        ("operating_hours", "float64"),
        ("station_id", "string"),
        *_PLACE_COLUMNS,
    ),
    keys=("compressor_id",),
    description="The registered fleet: one row per compressor.",
)

COMPRESSOR_METADATA_HISTORY = TableSpec(
    "compressor_metadata_history",
    "bronze",
    columns(
        *COMPRESSOR_METADATA.schema.columns,
        Column("valid_from", "timestamp", False),
        ("valid_to", "timestamp"),
        ("change", "string"),
    ),
    keys=("compressor_id", "valid_from"),
    description="Every version of each unit's identity (model, station, ...): registered, then "
    "each accepted fleet change, with the moments it held; never overwritten.",
)

STATIONS = TableSpec(
    "stations",
    "bronze",
    columns(
        Column("station_id", "string", False),
        ("station_name", "string"),
        *_PLACE_COLUMNS,
        ("timezone", "string"),
        ("compressor_count", "int32"),
    ),
    keys=("station_id",),
    description="Compressor stations.",
)

MAINTENANCE_EVENTS = TableSpec(
    "maintenance_events",
    "bronze",
    columns(
        Column("event_id", "string", False),
        Column("compressor_id", "string", False),
        ("event_type", "string"),
        ("failure_mode", "string"),
        ("started_at", "timestamp"),
        ("completed_at", "timestamp"),
        ("downtime_hours", "float64"),
        ("description", "string"),
    ),
    keys=("event_id",),
    description="Maintenance log: routine services and repairs.",
)

DEAD_LETTER = TableSpec(
    "dead_letter",
    "bronze",
    columns(
        Column("source", "string", False),
        ("source_partition", "int32"),
        ("source_offset", "int64"),
        Column("raw_record", "string", False, "the rejected record, as JSON"),
        Column("reason", "string", False),
        Column("batch_id", "string", False),
        Column("ingested_at", "timestamp", False),
        Column("ingestion_date", "date", False),
    ),
    partition_by=("ingestion_date",),
    description="Every rejected record with its reason; in = accepted + rejected.",
)

SENSOR_CLEANED = TableSpec(
    "sensor_cleaned",
    "silver",
    columns(
        Column("timestamp", "timestamp", False),
        Column("compressor_id", "string", False),
        *_SENSOR_COLUMNS,
        ("received_at", "timestamp"),
        Column("spike_mask", "int32", False, "bit i set: sensor i was an isolated spike, nulled"),
        Column("bounds_mask", "int32", False, "bit i set: sensor i was outside physical bounds"),
        Column("date", "date", False),
    ),
    partition_by=("date",),
    keys=("compressor_id", "timestamp"),
    zorder_by=("compressor_id",),
    stats_on=("compressor_id", "timestamp"),
    description="Deduplicated, validated readings; spikes and impossible values nulled.",
)

QUALITY_METRICS = TableSpec(
    "quality_metrics",
    "silver",
    columns(
        Column("date", "date", False),
        Column("check", "string", False),
        ("value", "float64"),
        ("threshold", "float64"),
        Column("severity", "string", False, "pass, warning or critical"),
        Column("passed", "bool", False),
        ("detail", "string"),
    ),
    keys=("date", "check"),
    description="Data-quality checks per date, and the counts of what cleaning changed.",
)

HOURLY_AGGREGATES = TableSpec(
    "hourly_aggregates",
    "gold",
    columns(
        Column("compressor_id", "string", False),
        Column("hour", "timestamp", False),
        ("station_id", "string"),
        ("model", "string"),
        *_STAT_COLUMNS,
        Column("reading_count", "int32", False),
        ("pressure_differential_psi", "float64"),
        ("temp_rate_of_change_f_per_h", "float64"),
        *(
            Column(f"{s}_mean_{w}", "float64")
            for s in ("vibration_mms", "discharge_temp_f", "discharge_pressure_psi")
            for w in ("1h", "4h", "24h")
        ),
        *(
            Column(
                f"{s}_trend_per_day",
                "float64",
                description="fitted change per day, as a fraction of the level",
            )
            for s in SENSORS
        ),
        *_STATUS_COLUMNS,
        ("pressure_differential_status", "string"),
        ("temp_rate_status", "string"),
        Column("worst_status", "string", False),
        Column("date", "date", False),
        Column("region", "string", False),
    ),
    partition_by=("date", "region"),
    keys=("compressor_id", "hour"),
    zorder_by=("compressor_id",),
    stats_on=("compressor_id", "hour"),
    description="Hourly facts per unit with rolling windows and statuses.",
)

DAILY_AGGREGATES = TableSpec(
    "daily_aggregates",
    "gold",
    columns(
        Column("compressor_id", "string", False),
        ("station_id", "string"),
        ("model", "string"),
        *(Column(f"{s}_{stat}", "float64") for s in SENSORS for stat in ("mean", "min", "max")),
        Column("reading_count", "int32", False),
        Column("hours_reported", "int32", False),
        Column("hours_warning", "int32", False),
        Column("hours_critical", "int32", False),
        Column("worst_status", "string", False),
        Column("date", "date", False),
        Column("region", "string", False),
    ),
    partition_by=("date", "region"),
    keys=("compressor_id", "date"),
    zorder_by=("compressor_id",),
    description="Daily facts per unit.",
)

ALERT_HISTORY = TableSpec(
    "alert_history",
    "gold",
    columns(
        Column("alert_id", "string", False),
        Column("compressor_id", "string", False),
        ("station_id", "string"),
        ("region", "string"),
        Column("alert_type", "string", False, "threshold (absolute) or deviation (floating)"),
        Column("sensor", "string", False),
        Column("severity", "string", False, "warning or critical (the worst reached)"),
        Column("state", "string", False, "open, acknowledged, resolved or suppressed"),
        Column("opened_at", "timestamp", False),
        ("escalated_at", "timestamp"),
        ("resolved_at", "timestamp"),
        Column("last_abnormal_at", "timestamp", False),
        ("trigger_value", "float64"),
        ("peak_value", "float64"),
        ("limit_value", "float64"),
        Column("notify", "bool", False),
        ("message", "string"),
        Column("date", "date", False, "date the alert opened"),
    ),
    partition_by=("date",),
    keys=("alert_id",),
    description="Alerts with their life cycle: open, escalated, resolved.",
)

FLEET_HEALTH = TableSpec(
    "fleet_health",
    "gold",
    columns(
        Column("date", "date", False),
        Column("basin", "string", False),
        ("region", "string"),
        Column("units_registered", "int32", False),
        Column("units_reporting", "int32", False),
        Column("units_normal", "int32", False),
        Column("units_warning", "int32", False),
        Column("units_critical", "int32", False),
        Column("alerts_opened", "int32", False),
        Column("readings", "int64", False),
        ("availability", "float64"),
        ("health_score", "float64"),
    ),
    keys=("date", "basin"),
    description="Fleet health per basin and date.",
)

UNIT_BASELINES = TableSpec(
    "unit_baselines",
    "gold",
    columns(
        Column("compressor_id", "string", False),
        Column("sensor", "string", False),
        ("p05", "float64"),
        ("p50", "float64"),
        ("p95", "float64"),
        Column("hours", "int32", False),
        Column("established_from", "timestamp", False),
        Column("established_to", "timestamp", False),
        Column(
            "valid_from",
            "timestamp",
            False,
            "the repair this band was learned after (1970-01-01: the unit's first band)",
        ),
    ),
    keys=("compressor_id", "sensor", "valid_from"),
    description="Each unit's healthy operating band, learned from its first day of data and "
    "learned again after every repair.",
)

PIPELINE_STATE = TableSpec(
    "pipeline_state",
    "bronze",
    columns(
        Column("stage", "string", False),
        ("source_version", "int64"),
        Column("pending_dates", "string", False, "JSON list of dates still to promote"),
    ),
    keys=("stage",),
    description="Where each incremental stage stands: the source version it has consumed.",
)

LANDING_FILES = TableSpec(
    "landing_files",
    "bronze",
    columns(
        Column("file_id", "string", False, "the landing file's identity: path, size, mtime"),
        Column("group_id", "string", False, "the application transaction of its bronze commit"),
        Column("path", "string", False),
        Column("recorded_at", "timestamp", False),
    ),
    keys=("file_id",),
    description="Landing files committed to bronze together under one application "
    "transaction (an engine that records one per commit), recorded before that commit.",
)

FEATURE_STORE = TableSpec(
    "feature_store",
    "ml",
    columns(
        Column("compressor_id", "string", False),
        Column("hour", "timestamp", False),
        Column("feature_set", "string", False),
        ("model", "string"),
        ("worst_status", "string"),
        *(Column(f, "float64") for f in FEATURES),
        Column("date", "date", False),
    ),
    partition_by=("date",),
    keys=("compressor_id", "hour", "feature_set"),
    zorder_by=("compressor_id",),
    stats_on=("compressor_id", "hour"),
    description="Hourly features per unit: the spec's statistics and ratios to its baseline.",
)

ML_PREDICTIONS = TableSpec(
    "ml_predictions",
    "ml",
    columns(
        Column("compressor_id", "string", False),
        Column("hour", "timestamp", False, "the hour whose data the predictions use"),
        Column("run_id", "string", False),
        Column("status", "string", False, "ok, or insufficient_data (and why)"),
        ("anomaly_score", "float64"),
        ("anomaly_level", "int32"),
        ("anomaly_top_sensors", "string"),
        ("anomaly_model_version", "string"),
        ("drift_rate_f_per_h", "float64"),
        ("drift_temperature_f", "float64"),
        ("drift_hours_to_warning", "float64"),
        ("drift_hours_to_critical", "float64"),
        ("drift_confidence", "float64"),
        ("drift_level", "int32"),
        ("rul_hours", "float64"),
        ("rul_sensor", "string"),
        ("rul_failure_probability", "float64"),
        ("rul_confidence", "float64"),
        ("rul_level", "int32"),
        Column("date", "date", False),
    ),
    partition_by=("date",),
    keys=("compressor_id", "hour"),
    zorder_by=("compressor_id",),
    stats_on=("compressor_id", "hour"),
    description="Every model's output per unit and scored hour.",
)

MODEL_METRICS = TableSpec(
    "model_metrics",
    "ml",
    columns(
        Column("run_id", "string", False),
        Column("model", "string", False),
        Column("metric", "string", False),
        ("value", "float64"),
        Column("recorded_at", "timestamp", False),
    ),
    keys=("run_id", "model", "metric"),
    description="Metrics of each training and scoring run (also in MLflow).",
)

FEATURE_DRIFT = TableSpec(
    "feature_drift",
    "ml",
    columns(
        Column("date", "date", False),
        Column("feature", "string", False),
        Column("run_id", "string", False),
        Column("model_version", "string", False),
        ("psi", "float64"),
        ("ks", "float64"),
        Column("drifted", "bool", False, "PSI above 0.25"),
    ),
    keys=("date", "feature"),
    description="Each scored day's features against the champion model's training window.",
)

EMISSIONS_ESTIMATES = TableSpec(
    "emissions_estimates",
    "gold",
    columns(
        Column("compressor_id", "string", False),
        Column("hour", "timestamp", False),
        Column("date", "date", False),
        ("station_id", "string"),
        ("basin", "string"),
        Column("reading_count", "int32", False),
        ("compression_ratio", "float64"),
        ("fuel_mmbtu", "float64"),
        ("packing_leak_scf", "float64"),
        ("ch4_combustion_lb", "float64"),
        ("co2_combustion_lb", "float64"),
        ("ch4_packing_lb", "float64"),
        ("ch4_lb", "float64"),
        ("co2e_t", "float64"),
        ("packing_vent_scfm_per_cylinder", "float64"),
        ("hours_since_packing_check", "float64"),
        Column("packing_over_limit", "bool", False, "vent flow above the limit for a day"),
        Column("packing_check_due", "bool", False),
        # Added with the leak-aware estimate; older rows read them as null.
        ("operating_hours", "float64"),
        ("standby_hours", "float64"),
        Column(
            "packing_leak_scfm_per_cylinder",
            "float64",
            description="vent flow a worn packing adds, from the pressure it loses",
        ),
        Column("packing_vent_uncertainty_scfm", "float64", description="one standard deviation"),
    ),
    partition_by=("date",),
    keys=("compressor_id", "hour"),
    zorder_by=("compressor_id",),
    stats_on=("compressor_id", "hour"),
    description="Methane and CO2e per unit and hour (EPA Subpart W), OOOOb packing tracking.",
)

_MODE_HOURS = (
    Column("operating_hours", "float64", False),
    Column("standby_hours", "float64", False, "stopped, holding pressure"),
    Column("depressurised_hours", "float64", False, "stopped and blown down"),
    Column("not_reporting_hours", "float64", False, "no readings and no maintenance record"),
    Column("readings", "int32", False),
)

OPERATING_MODES = TableSpec(
    "operating_modes",
    "gold",
    columns(
        Column("compressor_id", "string", False),
        Column("hour", "timestamp", False),
        Column("date", "date", False),
        *_MODE_HOURS,
        ("standby_compression_ratio", "float64"),
    ),
    partition_by=("date",),
    keys=("compressor_id", "hour"),
    zorder_by=("compressor_id",),
    stats_on=("compressor_id", "hour"),
    description="Hours per unit and hour in each operating mode (40 CFR 98.233(p)).",
)

OPERATING_MODE_DAYS = TableSpec(
    "operating_mode_days",
    "gold",
    columns(
        Column("compressor_id", "string", False),
        Column("date", "date", False),
        *_MODE_HOURS,
    ),
    partition_by=("date",),
    keys=("compressor_id", "date"),
    description="Hours per unit and day in each operating mode, every registered unit.",
)

PACKING_MEASUREMENTS = TableSpec(
    "packing_measurements",
    "bronze",
    columns(
        Column("measurement_id", "string", False),
        Column("compressor_id", "string", False),
        Column("measured_at", "timestamp", False),
        Column("cylinder", "int32", False),
        Column("vent_scfm", "float64", description="rod-packing vent flow, scf/min"),
        Column("kind", "string", False, "measurement or replacement"),
        ("instrument", "string"),
        ("measured_by", "string"),
        Column("unit_operating_hours", "float64", description="the unit's hour meter then"),
        Column("recorded_by", "string", False),
        Column("recorded_at", "timestamp", False),
        ("note", "string"),
    ),
    keys=("measurement_id", "cylinder"),
    description="Rod-packing vent-flow measurements and replacements (NSPS OOOOb), append-only.",
)

COMPLIANCE_REPORTS = TableSpec(
    "compliance_reports",
    "gold",
    columns(
        Column("report_id", "string", False, "facility, year and a hash of the inputs"),
        Column(
            "facility", "string", False, "the basin: Subpart W's gathering and boosting facility"
        ),
        Column("year", "int32", False),
        Column("generated_at", "timestamp", False),
        Column("generated_by", "string", False),
        Column("code_version", "string", False),
        ("data_from", "date"),
        ("data_to", "date"),
        Column("inputs", "string", False, "JSON: table versions read"),
        Column("files", "string", False, "JSON: file name to SHA-256"),
        ("co2e_t", "float64"),
        Column("over_threshold", "bool", False),
    ),
    keys=("report_id", "generated_at"),
    description="Every generation of an annual report pack: who, when, from which inputs.",
)

PIPELINE_RUNS = TableSpec(
    "pipeline_runs",
    "gold",
    columns(
        Column("run_id", "string", False),
        Column("status", "string", False, "success, quality_failed or failed"),
        Column("engine", "string", False),
        Column("started_at", "timestamp", False),
        Column("ended_at", "timestamp", False),
        Column("duration_s", "float64", False),
        Column("stage_durations", "string", False, "JSON: seconds per stage"),
        Column("rows_bronze", "int64", False),
        Column("rows_dead_letter", "int64", False),
        Column("rows_silver", "int64", False),
        Column("rows_gold_hourly", "int64", False),
        Column("rows_gold_daily", "int64", False),
        Column("rejected", "int64", False),
        ("rejection_rate", "float64"),
        ("quality_passed", "bool"),
        Column("blocked_dates", "string", False, "JSON list"),
        Column("alerts_opened", "int64", False),
        Column("alerts_resolved", "int64", False),
        Column("models_run", "string", False, "JSON list"),
        ("model_version", "string"),
        Column("predictions", "int64", False),
        Column("anomalies", "int64", False),
        Column("units_at_risk", "int64", False),
        ("data_freshness_minutes", "float64"),
        ("error", "string"),
        Column("warnings", "string", False, "JSON list"),
    ),
    keys=("run_id",),
    description="One record per pipeline run: what it did, how long each stage took, how it ended.",
)

RAW_TELEMETRY: Final[dict[str, str]] = {
    "timestamp": "timestamp",
    "compressor_id": "string",
    **dict.fromkeys(SENSORS, "float64"),
    "received_at": "timestamp",
}
"""The columns a landing file of telemetry is read as."""

TABLES: Final[dict[str, TableSpec]] = {
    t.name: t
    for t in (
        SENSOR_READINGS,
        COMPRESSOR_METADATA,
        COMPRESSOR_METADATA_HISTORY,
        STATIONS,
        MAINTENANCE_EVENTS,
        DEAD_LETTER,
        SENSOR_CLEANED,
        QUALITY_METRICS,
        HOURLY_AGGREGATES,
        DAILY_AGGREGATES,
        ALERT_HISTORY,
        FLEET_HEALTH,
        UNIT_BASELINES,
        EMISSIONS_ESTIMATES,
        OPERATING_MODES,
        OPERATING_MODE_DAYS,
        PACKING_MEASUREMENTS,
        COMPLIANCE_REPORTS,
        FEATURE_STORE,
        ML_PREDICTIONS,
        MODEL_METRICS,
        FEATURE_DRIFT,
        PIPELINE_RUNS,
        PIPELINE_STATE,
        LANDING_FILES,
        CASES,
        CASE_EVENTS,
        NOTIFICATIONS,
    )
}


def table(name: str) -> TableSpec:
    """A table of the catalogue by name; a clear error for an unknown one."""
    try:
        return TABLES[name]
    except KeyError:
        raise NotFoundError(f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}") from None
