-- Altaviz serving database (PostgreSQL). Generated from the lakehouse catalogue by
-- `altaviz db schema`; apply with `altaviz db migrate`. Every statement is idempotent.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Compressor stations.
CREATE TABLE IF NOT EXISTS stations (
    "station_id" TEXT NOT NULL,
    "station_name" TEXT,
    "basin" TEXT,
    "basin_code" TEXT,
    "region" TEXT,
    "state" TEXT,
    "latitude" DOUBLE PRECISION,
    "longitude" DOUBLE PRECISION,
    "elevation_ft" BIGINT,
    "timezone" TEXT,
    "compressor_count" INTEGER,
    PRIMARY KEY ("station_id")
);

-- The registered fleet: one row per compressor.
CREATE TABLE IF NOT EXISTS compressor_metadata (
    "compressor_id" TEXT NOT NULL,
    "model" TEXT,
    "manufacturer" TEXT,
    "compressor_type" TEXT,
    "rated_hp" DOUBLE PRECISION,
    "cylinders" INTEGER,
    "install_date" DATE,
    "operating_hours" DOUBLE PRECISION,
    "station_id" TEXT,
    "basin" TEXT,
    "basin_code" TEXT,
    "region" TEXT,
    "state" TEXT,
    "latitude" DOUBLE PRECISION,
    "longitude" DOUBLE PRECISION,
    "elevation_ft" BIGINT,
    PRIMARY KEY ("compressor_id")
);

-- Maintenance log: routine services and repairs.
CREATE TABLE IF NOT EXISTS maintenance_events (
    "event_id" TEXT NOT NULL,
    "compressor_id" TEXT NOT NULL,
    "event_type" TEXT,
    "failure_mode" TEXT,
    "started_at" TIMESTAMPTZ,
    "completed_at" TIMESTAMPTZ,
    "downtime_hours" DOUBLE PRECISION,
    "description" TEXT,
    PRIMARY KEY ("event_id")
);

-- Data-quality checks per date, and the counts of what cleaning changed.
CREATE TABLE IF NOT EXISTS quality_metrics (
    "date" DATE NOT NULL,
    "check" TEXT NOT NULL,
    "value" DOUBLE PRECISION,
    "threshold" DOUBLE PRECISION,
    "severity" TEXT NOT NULL,
    "passed" BOOLEAN NOT NULL,
    "detail" TEXT,
    PRIMARY KEY ("date", "check")
);

-- Hourly facts per unit with rolling windows and statuses.
CREATE TABLE IF NOT EXISTS hourly_aggregates (
    "compressor_id" TEXT NOT NULL,
    "hour" TIMESTAMPTZ NOT NULL,
    "station_id" TEXT,
    "model" TEXT,
    "vibration_mms_mean" DOUBLE PRECISION,
    "vibration_mms_min" DOUBLE PRECISION,
    "vibration_mms_max" DOUBLE PRECISION,
    "vibration_mms_std" DOUBLE PRECISION,
    "discharge_temp_f_mean" DOUBLE PRECISION,
    "discharge_temp_f_min" DOUBLE PRECISION,
    "discharge_temp_f_max" DOUBLE PRECISION,
    "discharge_temp_f_std" DOUBLE PRECISION,
    "suction_pressure_psi_mean" DOUBLE PRECISION,
    "suction_pressure_psi_min" DOUBLE PRECISION,
    "suction_pressure_psi_max" DOUBLE PRECISION,
    "suction_pressure_psi_std" DOUBLE PRECISION,
    "discharge_pressure_psi_mean" DOUBLE PRECISION,
    "discharge_pressure_psi_min" DOUBLE PRECISION,
    "discharge_pressure_psi_max" DOUBLE PRECISION,
    "discharge_pressure_psi_std" DOUBLE PRECISION,
    "horsepower_mean" DOUBLE PRECISION,
    "horsepower_min" DOUBLE PRECISION,
    "horsepower_max" DOUBLE PRECISION,
    "horsepower_std" DOUBLE PRECISION,
    "gas_flow_mcf_mean" DOUBLE PRECISION,
    "gas_flow_mcf_min" DOUBLE PRECISION,
    "gas_flow_mcf_max" DOUBLE PRECISION,
    "gas_flow_mcf_std" DOUBLE PRECISION,
    "reading_count" INTEGER NOT NULL,
    "pressure_differential_psi" DOUBLE PRECISION,
    "temp_rate_of_change_f_per_h" DOUBLE PRECISION,
    "vibration_mms_mean_1h" DOUBLE PRECISION,
    "vibration_mms_mean_4h" DOUBLE PRECISION,
    "vibration_mms_mean_24h" DOUBLE PRECISION,
    "discharge_temp_f_mean_1h" DOUBLE PRECISION,
    "discharge_temp_f_mean_4h" DOUBLE PRECISION,
    "discharge_temp_f_mean_24h" DOUBLE PRECISION,
    "discharge_pressure_psi_mean_1h" DOUBLE PRECISION,
    "discharge_pressure_psi_mean_4h" DOUBLE PRECISION,
    "discharge_pressure_psi_mean_24h" DOUBLE PRECISION,
    "vibration_mms_trend_per_day" DOUBLE PRECISION,
    "discharge_temp_f_trend_per_day" DOUBLE PRECISION,
    "suction_pressure_psi_trend_per_day" DOUBLE PRECISION,
    "discharge_pressure_psi_trend_per_day" DOUBLE PRECISION,
    "horsepower_trend_per_day" DOUBLE PRECISION,
    "gas_flow_mcf_trend_per_day" DOUBLE PRECISION,
    "vibration_mms_status" TEXT,
    "discharge_temp_f_status" TEXT,
    "suction_pressure_psi_status" TEXT,
    "discharge_pressure_psi_status" TEXT,
    "horsepower_status" TEXT,
    "gas_flow_mcf_status" TEXT,
    "pressure_differential_status" TEXT,
    "temp_rate_status" TEXT,
    "worst_status" TEXT NOT NULL,
    "date" DATE NOT NULL,
    "region" TEXT NOT NULL,
    PRIMARY KEY ("compressor_id", "hour")
);

-- Daily facts per unit.
CREATE TABLE IF NOT EXISTS daily_aggregates (
    "compressor_id" TEXT NOT NULL,
    "station_id" TEXT,
    "model" TEXT,
    "vibration_mms_mean" DOUBLE PRECISION,
    "vibration_mms_min" DOUBLE PRECISION,
    "vibration_mms_max" DOUBLE PRECISION,
    "discharge_temp_f_mean" DOUBLE PRECISION,
    "discharge_temp_f_min" DOUBLE PRECISION,
    "discharge_temp_f_max" DOUBLE PRECISION,
    "suction_pressure_psi_mean" DOUBLE PRECISION,
    "suction_pressure_psi_min" DOUBLE PRECISION,
    "suction_pressure_psi_max" DOUBLE PRECISION,
    "discharge_pressure_psi_mean" DOUBLE PRECISION,
    "discharge_pressure_psi_min" DOUBLE PRECISION,
    "discharge_pressure_psi_max" DOUBLE PRECISION,
    "horsepower_mean" DOUBLE PRECISION,
    "horsepower_min" DOUBLE PRECISION,
    "horsepower_max" DOUBLE PRECISION,
    "gas_flow_mcf_mean" DOUBLE PRECISION,
    "gas_flow_mcf_min" DOUBLE PRECISION,
    "gas_flow_mcf_max" DOUBLE PRECISION,
    "reading_count" INTEGER NOT NULL,
    "hours_reported" INTEGER NOT NULL,
    "hours_warning" INTEGER NOT NULL,
    "hours_critical" INTEGER NOT NULL,
    "worst_status" TEXT NOT NULL,
    "date" DATE NOT NULL,
    "region" TEXT NOT NULL,
    PRIMARY KEY ("compressor_id", "date")
);

-- Alerts with their life cycle: open, escalated, resolved.
CREATE TABLE IF NOT EXISTS alert_history (
    "alert_id" TEXT NOT NULL,
    "compressor_id" TEXT NOT NULL,
    "station_id" TEXT,
    "region" TEXT,
    "alert_type" TEXT NOT NULL,
    "sensor" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "opened_at" TIMESTAMPTZ NOT NULL,
    "escalated_at" TIMESTAMPTZ,
    "resolved_at" TIMESTAMPTZ,
    "last_abnormal_at" TIMESTAMPTZ NOT NULL,
    "trigger_value" DOUBLE PRECISION,
    "peak_value" DOUBLE PRECISION,
    "limit_value" DOUBLE PRECISION,
    "notify" BOOLEAN NOT NULL,
    "message" TEXT,
    "date" DATE NOT NULL,
    PRIMARY KEY ("alert_id")
);

-- Fleet health per basin and date.
CREATE TABLE IF NOT EXISTS fleet_health (
    "date" DATE NOT NULL,
    "basin" TEXT NOT NULL,
    "region" TEXT,
    "units_registered" INTEGER NOT NULL,
    "units_reporting" INTEGER NOT NULL,
    "units_normal" INTEGER NOT NULL,
    "units_warning" INTEGER NOT NULL,
    "units_critical" INTEGER NOT NULL,
    "alerts_opened" INTEGER NOT NULL,
    "readings" BIGINT NOT NULL,
    "availability" DOUBLE PRECISION,
    "health_score" DOUBLE PRECISION,
    PRIMARY KEY ("date", "basin")
);

-- Methane and CO2e per unit and hour (EPA Subpart W), OOOOb packing tracking.
CREATE TABLE IF NOT EXISTS emissions_estimates (
    "compressor_id" TEXT NOT NULL,
    "hour" TIMESTAMPTZ NOT NULL,
    "date" DATE NOT NULL,
    "station_id" TEXT,
    "basin" TEXT,
    "reading_count" INTEGER NOT NULL,
    "compression_ratio" DOUBLE PRECISION,
    "fuel_mmbtu" DOUBLE PRECISION,
    "packing_leak_scf" DOUBLE PRECISION,
    "ch4_combustion_lb" DOUBLE PRECISION,
    "co2_combustion_lb" DOUBLE PRECISION,
    "ch4_packing_lb" DOUBLE PRECISION,
    "ch4_lb" DOUBLE PRECISION,
    "co2e_t" DOUBLE PRECISION,
    "packing_vent_scfm_per_cylinder" DOUBLE PRECISION,
    "hours_since_packing_check" DOUBLE PRECISION,
    "packing_over_limit" BOOLEAN NOT NULL,
    "packing_check_due" BOOLEAN NOT NULL,
    "operating_hours" DOUBLE PRECISION,
    "standby_hours" DOUBLE PRECISION,
    "packing_leak_scfm_per_cylinder" DOUBLE PRECISION,
    "packing_vent_uncertainty_scfm" DOUBLE PRECISION,
    PRIMARY KEY ("compressor_id", "hour")
);
ALTER TABLE emissions_estimates ADD COLUMN IF NOT EXISTS "operating_hours" DOUBLE PRECISION;
ALTER TABLE emissions_estimates ADD COLUMN IF NOT EXISTS "standby_hours" DOUBLE PRECISION;
ALTER TABLE emissions_estimates ADD COLUMN IF NOT EXISTS "packing_leak_scfm_per_cylinder" DOUBLE PRECISION;
ALTER TABLE emissions_estimates ADD COLUMN IF NOT EXISTS "packing_vent_uncertainty_scfm" DOUBLE PRECISION;

-- Hours per unit and day in each operating mode, every registered unit.
CREATE TABLE IF NOT EXISTS operating_mode_days (
    "compressor_id" TEXT NOT NULL,
    "date" DATE NOT NULL,
    "operating_hours" DOUBLE PRECISION NOT NULL,
    "standby_hours" DOUBLE PRECISION NOT NULL,
    "depressurised_hours" DOUBLE PRECISION NOT NULL,
    "not_reporting_hours" DOUBLE PRECISION NOT NULL,
    "readings" INTEGER NOT NULL,
    PRIMARY KEY ("compressor_id", "date")
);

-- Rod-packing vent-flow measurements and replacements (NSPS OOOOb), append-only.
CREATE TABLE IF NOT EXISTS packing_measurements (
    "measurement_id" TEXT NOT NULL,
    "compressor_id" TEXT NOT NULL,
    "measured_at" TIMESTAMPTZ NOT NULL,
    "cylinder" INTEGER NOT NULL,
    "vent_scfm" DOUBLE PRECISION,
    "kind" TEXT NOT NULL,
    "instrument" TEXT,
    "measured_by" TEXT,
    "unit_operating_hours" DOUBLE PRECISION,
    "recorded_by" TEXT NOT NULL,
    "recorded_at" TIMESTAMPTZ NOT NULL,
    "note" TEXT,
    PRIMARY KEY ("measurement_id", "cylinder")
);

-- Every model's output per unit and scored hour.
CREATE TABLE IF NOT EXISTS ml_predictions (
    "compressor_id" TEXT NOT NULL,
    "hour" TIMESTAMPTZ NOT NULL,
    "run_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "anomaly_score" DOUBLE PRECISION,
    "anomaly_level" INTEGER,
    "anomaly_top_sensors" TEXT,
    "anomaly_model_version" TEXT,
    "drift_rate_f_per_h" DOUBLE PRECISION,
    "drift_temperature_f" DOUBLE PRECISION,
    "drift_hours_to_warning" DOUBLE PRECISION,
    "drift_hours_to_critical" DOUBLE PRECISION,
    "drift_confidence" DOUBLE PRECISION,
    "drift_level" INTEGER,
    "rul_hours" DOUBLE PRECISION,
    "rul_sensor" TEXT,
    "rul_failure_probability" DOUBLE PRECISION,
    "rul_confidence" DOUBLE PRECISION,
    "rul_level" INTEGER,
    "date" DATE NOT NULL,
    PRIMARY KEY ("compressor_id", "hour")
);

-- Each unit's healthy operating band, learned from its first day of data and learned again after every repair.
CREATE TABLE IF NOT EXISTS unit_baselines (
    "compressor_id" TEXT NOT NULL,
    "sensor" TEXT NOT NULL,
    "p05" DOUBLE PRECISION,
    "p50" DOUBLE PRECISION,
    "p95" DOUBLE PRECISION,
    "hours" INTEGER NOT NULL,
    "established_from" TIMESTAMPTZ NOT NULL,
    "established_to" TIMESTAMPTZ NOT NULL,
    "valid_from" TIMESTAMPTZ NOT NULL,
    PRIMARY KEY ("compressor_id", "sensor", "valid_from")
);

-- One record per pipeline run: what it did, how long each stage took, how it ended.
CREATE TABLE IF NOT EXISTS pipeline_runs (
    "run_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "engine" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL,
    "ended_at" TIMESTAMPTZ NOT NULL,
    "duration_s" DOUBLE PRECISION NOT NULL,
    "stage_durations" TEXT NOT NULL,
    "rows_bronze" BIGINT NOT NULL,
    "rows_dead_letter" BIGINT NOT NULL,
    "rows_silver" BIGINT NOT NULL,
    "rows_gold_hourly" BIGINT NOT NULL,
    "rows_gold_daily" BIGINT NOT NULL,
    "rejected" BIGINT NOT NULL,
    "rejection_rate" DOUBLE PRECISION,
    "quality_passed" BOOLEAN,
    "blocked_dates" TEXT NOT NULL,
    "alerts_opened" BIGINT NOT NULL,
    "alerts_resolved" BIGINT NOT NULL,
    "models_run" TEXT NOT NULL,
    "model_version" TEXT,
    "predictions" BIGINT NOT NULL,
    "anomalies" BIGINT NOT NULL,
    "units_at_risk" BIGINT NOT NULL,
    "data_freshness_minutes" DOUBLE PRECISION,
    "error" TEXT,
    "warnings" TEXT NOT NULL,
    PRIMARY KEY ("run_id")
);

-- Cases: one per sick unit's episode, its alerts of every kind grouped under it.
CREATE TABLE IF NOT EXISTS cases (
    "case_id" TEXT NOT NULL,
    "compressor_id" TEXT NOT NULL,
    "station_id" TEXT,
    "basin" TEXT,
    "state" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "opened_at" TIMESTAMPTZ NOT NULL,
    "last_alert_at" TIMESTAMPTZ NOT NULL,
    "resolved_at" TIMESTAMPTZ,
    "resolution" TEXT,
    "alerts_open" INTEGER NOT NULL,
    "alert_count" INTEGER NOT NULL,
    "alert_ids" TEXT NOT NULL,
    "alert_types" TEXT,
    "sensors" TEXT,
    "suspected_failure_mode" TEXT,
    "time_to_failure_hours" DOUBLE PRECISION,
    "evidence" TEXT,
    "offline_since" TIMESTAMPTZ,
    "acknowledged_at" TIMESTAMPTZ,
    "acknowledged_by" TEXT,
    "assignee" TEXT,
    "snoozed_until" TIMESTAMPTZ,
    "closed_at" TIMESTAMPTZ,
    "closed_by" TEXT,
    "closed_reason" TEXT,
    "confirmed_failure_mode" TEXT,
    "notes" INTEGER NOT NULL,
    "last_action_at" TIMESTAMPTZ,
    PRIMARY KEY ("case_id")
);

-- What people did to cases: append-only, never rewritten by the pipeline.
CREATE TABLE IF NOT EXISTS case_events (
    "event_id" TEXT NOT NULL,
    "case_id" TEXT NOT NULL,
    "compressor_id" TEXT NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "from_state" TEXT,
    "to_state" TEXT,
    "assignee" TEXT,
    "snoozed_until" TIMESTAMPTZ,
    "reason" TEXT,
    "failure_mode" TEXT,
    "note" TEXT,
    PRIMARY KEY ("event_id")
);

CREATE INDEX IF NOT EXISTS hourly_aggregates_compressor_id_hour_idx ON hourly_aggregates ("compressor_id", "hour" DESC);
CREATE INDEX IF NOT EXISTS daily_aggregates_compressor_id_date_idx ON daily_aggregates ("compressor_id", "date" DESC);
CREATE INDEX IF NOT EXISTS alert_history_compressor_id_opened_at_idx ON alert_history ("compressor_id", "opened_at" DESC);
CREATE INDEX IF NOT EXISTS alert_history_state_severity_idx ON alert_history ("state", "severity");
CREATE INDEX IF NOT EXISTS ml_predictions_compressor_id_hour_idx ON ml_predictions ("compressor_id", "hour" DESC);
CREATE INDEX IF NOT EXISTS emissions_estimates_station_id_date_idx ON emissions_estimates ("station_id", "date");
CREATE INDEX IF NOT EXISTS maintenance_events_compressor_id_started_at_idx ON maintenance_events ("compressor_id", "started_at" DESC);
CREATE INDEX IF NOT EXISTS compressor_metadata_station_id_idx ON compressor_metadata ("station_id");
CREATE INDEX IF NOT EXISTS pipeline_runs_started_at_idx ON pipeline_runs ("started_at" DESC);

CREATE OR REPLACE VIEW latest_readings AS
SELECT DISTINCT ON (h.compressor_id) h.*
FROM hourly_aggregates h
ORDER BY h.compressor_id, h.hour DESC;

CREATE OR REPLACE VIEW active_alerts AS
SELECT a.*
FROM alert_history a
WHERE a.state IN ('open', 'acknowledged');

CREATE OR REPLACE VIEW latest_fleet_health AS
SELECT f.*
FROM fleet_health f
WHERE f.date = (SELECT max(date) FROM fleet_health);

INSERT INTO schema_migrations (version) VALUES (2) ON CONFLICT (version) DO NOTHING;
