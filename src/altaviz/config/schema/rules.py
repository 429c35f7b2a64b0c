"""How the data is processed, one section per file: ``thresholds.yaml`` (absolute and
floating limits, cleaning, baseline, trend, alert, quality and monitoring rules),
``lakehouse.yaml`` (names, root, retention), ``models.yaml`` (features, the predictive
models, emission factors, diagnostic rules) and ``platform.yaml`` (the cloud resources the
product expects and the stream's rules)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from altaviz.config.schema.base import Range, Share, _Strict
from altaviz.core.sensors import SENSORS, DerivedName, SensorName

# ----------------------------------------------------------------------- thresholds.yaml

LimitKind = Literal["warning_high", "critical_high", "warning_low", "critical_low"]


class LimitOverride(_Strict):
    """Alarm levels of one signal; a model's entry overrides only the levels it names."""

    warning_high: float | None = None
    critical_high: float | None = None
    warning_low: float | None = None
    critical_low: float | None = None


class Limits(LimitOverride):
    """Fleet-wide limits of one signal, with its unit, normal band and physical bounds."""

    unit: str | None = None
    normal: Range | None = None
    bounds: Range | None = None

    @model_validator(mode="after")
    def _ordered_levels(self) -> Limits:
        if None not in (self.warning_high, self.critical_high) and not (
            self.warning_high <= self.critical_high  # type: ignore[operator]
        ):
            raise ValueError("warning_high must not exceed critical_high")
        if None not in (self.warning_low, self.critical_low) and not (
            self.critical_low <= self.warning_low  # type: ignore[operator]
        ):
            raise ValueError("critical_low must not exceed warning_low")
        return self


class Deviation(_Strict):
    fraction: Annotated[float, Field(gt=0.0)]
    max_delta: Annotated[float, Field(gt=0.0)] | None = None

    def delta(self, baseline: float) -> float:
        """The allowed deviation, in the sensor's unit, for a unit with this baseline."""
        d = abs(baseline) * self.fraction
        return min(d, self.max_delta) if self.max_delta is not None else d


class Floating(_Strict):
    warning_high: Deviation | None = None
    critical_high: Deviation | None = None
    warning_low: Deviation | None = None
    critical_low: Deviation | None = None


class CleaningRules(_Strict):
    critical_sensors: Annotated[list[SensorName], Field(min_length=1)]
    earliest_timestamp: datetime
    future_tolerance_minutes: Annotated[float, Field(ge=0)]
    spike_neighbors: Annotated[int, Field(ge=2, le=24)]
    spike_min_neighbors: Annotated[int, Field(ge=2)]
    spike_window_minutes: Annotated[float, Field(gt=0)]
    spike_sigma: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _neighbors(self) -> CleaningRules:
        if self.spike_min_neighbors > self.spike_neighbors:
            raise ValueError("spike_min_neighbors must not exceed spike_neighbors")
        return self


class BaselineRules(_Strict):
    hours: Annotated[int, Field(ge=1)]
    min_readings_per_hour: Annotated[int, Field(ge=1)]


class TrendLimit(_Strict):
    warning_below_per_day: Annotated[float, Field(lt=0)]


class TrendRules(_Strict):
    window_hours: Annotated[int, Field(ge=2)]
    min_hours: Annotated[int, Field(ge=2)]
    sensors: dict[SensorName, TrendLimit]

    @model_validator(mode="after")
    def _enough(self) -> TrendRules:
        if self.min_hours > self.window_hours:
            raise ValueError("min_hours must not exceed window_hours")
        return self


class AlertRules(_Strict):
    evaluation_window_minutes: Annotated[float, Field(gt=0)]
    min_readings: Annotated[int, Field(ge=1)]
    lookback_hours: Annotated[float, Field(gt=0)]
    resolve_margin: Annotated[float, Field(ge=0, lt=1)]
    escalate_after_minutes: dict[Literal["critical", "warning"], Annotated[int, Field(gt=0)]]
    notify: dict[Literal["critical", "warning", "info"], bool]
    aggregation_window_minutes: Annotated[int, Field(gt=0)]
    max_alerts_per_compressor_per_window: Annotated[int, Field(gt=0)]
    auto_resolve_consecutive_normal: Annotated[int, Field(gt=0)]
    offline_after_minutes: Annotated[float, Field(gt=0)]


class BelowLimits(_Strict):
    warning_below: Share
    critical_below: Share | None = None


class FreshnessLimits(_Strict):
    warning_above: Annotated[float, Field(gt=0)]
    critical_above: Annotated[float, Field(gt=0)]


class LateArrivalLimits(_Strict):
    late_after_minutes: Annotated[float, Field(gt=0)]
    warning_above: Share
    critical_above: Share


class QualityRules(_Strict):
    fleet_completeness: BelowLimits
    freshness_minutes: FreshnessLimits
    sensor_completeness: BelowLimits
    volume_consistency: BelowLimits
    pressure_consistency: BelowLimits
    late_arrivals: LateArrivalLimits


class MonitoringRules(_Strict):
    slow_stage_multiple: Annotated[float, Field(gt=1.0)]
    slow_stage_min_runs: Annotated[int, Field(ge=1)]
    slow_stage_history: Annotated[int, Field(ge=1)]
    slow_stage_min_seconds: Annotated[float, Field(ge=0)]


class OperatingModeRules(_Strict):
    """How a reading tells what the unit was doing (Subpart W's compressor modes)."""

    running_above_hp: Annotated[float, Field(gt=0)]
    running_above_flow_mcf: Annotated[float, Field(gt=0)]  # used when horsepower is missing
    # A stopped unit holding at least this discharge pressure is in pressurised standby.
    pressurised_above_psi: Annotated[float, Field(gt=0)]


class ThresholdsConfig(_Strict):
    version: Literal[1]
    sensors: dict[SensorName, Limits]
    derived: dict[DerivedName, Limits]
    models: dict[str, dict[SensorName | DerivedName, LimitOverride]]
    floating: dict[SensorName, Floating]
    cleaning: CleaningRules
    operating_modes: OperatingModeRules
    baseline: BaselineRules
    trends: TrendRules
    alerts: AlertRules
    quality: QualityRules
    monitoring: MonitoringRules

    @model_validator(mode="after")
    def _every_sensor(self) -> ThresholdsConfig:
        missing = [s for s in SENSORS if s not in self.sensors]
        if missing:
            raise ValueError(f"sensors lacks {', '.join(missing)}")
        return self

    def limit(self, model: str | None, signal: str, kind: LimitKind) -> float | None:
        """The absolute limit for ``signal`` on a compressor ``model``, fleet default as fallback.

        >>> from altaviz.config import load_config
        >>> cfg = load_config().thresholds
        >>> cfg.limit("Caterpillar G3606", "discharge_pressure_psi", "critical_high")
        1640.0
        """
        override = self.models.get(model or "", {}).get(signal)  # type: ignore[call-overload]
        if override is not None and getattr(override, kind) is not None:
            return getattr(override, kind)
        fleet = self.sensors.get(signal) or self.derived.get(signal)  # type: ignore[call-overload]
        return getattr(fleet, kind) if fleet is not None else None


# ------------------------------------------------------------------------ lakehouse.yaml


class LakehouseNames(_Strict):
    bronze: str
    silver: str
    gold: str
    ml: str


class Retention(_Strict):
    bronze: Annotated[int, Field(gt=0)]
    silver: Annotated[int, Field(gt=0)]
    gold: Annotated[int, Field(gt=0)]
    ml: Annotated[int, Field(gt=0)]


class LakehouseConfig(_Strict):
    version: Literal[1]
    root: str
    lakehouses: LakehouseNames
    vacuum_retain_hours: Annotated[int, Field(ge=0)]
    retention_days: Retention


# --------------------------------------------------------------------------- models.yaml

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class FeatureRules(_Strict):
    feature_set: str
    history_hours: PositiveInt
    score_every_hours: Annotated[int, Field(ge=1, le=24)]

    @model_validator(mode="after")
    def _divides_day(self) -> FeatureRules:
        if 24 % self.score_every_hours:
            raise ValueError("score_every_hours must divide 24")
        return self


class AnomalyRules(_Strict):
    training_days: PositiveInt
    min_training_hours: PositiveInt
    confident_training_hours: PositiveInt
    healthy_max_robust_z: PositiveFloat
    n_estimators: PositiveInt
    max_samples: PositiveInt
    random_state: int
    warning_score: Annotated[float, Field(gt=0, lt=1)]
    critical_score: Annotated[float, Field(gt=0, lt=1)]
    persist_hours: PositiveInt
    top_sensors: PositiveInt

    @model_validator(mode="after")
    def _ordered_scores(self) -> AnomalyRules:
        if self.critical_score < self.warning_score:
            raise ValueError("critical_score must be at least warning_score")
        return self


class TrendFitRules(_Strict):
    """A robust trend over a trailing window of hourly means."""

    window_hours: PositiveInt
    min_hours: Annotated[int, Field(ge=3)]
    min_t_stat: PositiveFloat


class DriftRules(TrendFitRules):
    min_trend_hours: Annotated[int, Field(ge=3)]
    min_rate_f_per_h: PositiveFloat
    warning_within_hours: PositiveFloat
    critical_within_hours: PositiveFloat


class RulRules(TrendFitRules):
    min_rate_per_day: PositiveFloat
    max_hours: PositiveFloat
    horizon_hours: PositiveFloat
    warning_below_hours: PositiveFloat
    critical_below_hours: PositiveFloat
    sensors: dict[SensorName, Literal["critical_high", "critical_low"]]


class EmissionFactors(_Strict):
    fuel_mmbtu_per_hp_hour: PositiveFloat
    combustion_ch4_lb_per_mmbtu: PositiveFloat
    combustion_co2_lb_per_mmbtu: PositiveFloat
    packing_leak_scf_per_hour: PositiveFloat
    reference_compression_ratio: PositiveFloat
    gas_density_lb_per_scf: PositiveFloat
    methane_fraction: Share
    gwp_ch4: PositiveFloat
    reporting_threshold_t_co2e: PositiveFloat
    packing_vent_limit_scfm_per_cylinder: PositiveFloat
    packing_measurement_interval_hours: PositiveFloat
    packing_leak_scfm_per_psi: PositiveFloat
    packing_leak_relative_sd: Annotated[float, Field(ge=0)]
    packing_leak_window_hours: Annotated[int, Field(ge=1, le=48)]
    packing_over_limit_hours: Annotated[int, Field(ge=1, le=168)]
    restate_days: Annotated[int, Field(ge=0, le=90)]


PackingRule = Literal["oooob", "ooooa"]


class InstallWindow(_Strict):
    rule: PackingRule
    installed_from: date
    installed_until: date | None = None


class PackingProgramme(_Strict):
    """Which NSPS rule each unit's rod packing is under, and the rules' intervals."""

    default_rule: PackingRule
    repair_days: Annotated[int, Field(ge=1)]  # after an exceedance, to repair or replace
    replacement_hours: PositiveFloat  # OOOO/OOOOa: replace every this many operating hours
    by_install_date: list[InstallWindow] = Field(default_factory=list)
    units: dict[str, PackingRule] = Field(default_factory=dict)


class DiagnosticRules(_Strict):
    window_hours: Annotated[int, Field(ge=2)]
    recent_hours: Annotated[int, Field(ge=1)]
    valve_oscillation_above: PositiveFloat
    packing_suction_rise_above: PositiveFloat
    packing_discharge_fall_below: Annotated[float, Field(lt=0)]
    ring_flow_fall_below: Annotated[float, Field(lt=0)]
    ring_discharge_fall_below: Annotated[float, Field(lt=0)]
    temperature_rise_above: PositiveFloat
    fouling_vibration_rise_above: PositiveFloat
    bearing_vibration_rise_above: PositiveFloat
    emergency_within_hours: PositiveFloat


class ModelsConfig(_Strict):
    version: Literal[1]
    features: FeatureRules
    anomaly: AnomalyRules
    drift: DriftRules
    rul: RulRules
    emissions: EmissionFactors
    packing: PackingProgramme
    diagnostics: DiagnosticRules


# ------------------------------------------------------------------------- platform.yaml

AzureName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$")]


class EventHubSpec(_Strict):
    name: AzureName
    partitions: Annotated[int, Field(ge=1, le=32)]  # Event Hubs Standard allows 1-32
    retention_days: Annotated[int, Field(ge=1, le=7)]
    consumer_groups: dict[Literal["etl", "ml"], AzureName]
    dead_letter: AzureName
    schemas: AzureName

    @model_validator(mode="after")
    def _distinct(self) -> EventHubSpec:
        if len({self.name, self.dead_letter, self.schemas}) != 3:
            raise ValueError("name, dead_letter and schemas must be three different hubs")
        if len(set(self.consumer_groups.values())) != len(self.consumer_groups):
            raise ValueError("consumer_groups must be distinct")
        return self


class MonitoringTable(_Strict):
    table: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,40}_CL$")]

    @property
    def stream(self) -> str:
        """The data-collection rule stream that feeds the table."""
        return f"Custom-{self.table}"


class ScheduledJob(_Strict):
    every_minutes: Annotated[int, Field(ge=1, le=1440)]
    args: Annotated[list[str], Field(min_length=1)]


class StreamRules(_Strict):
    trigger_seconds: Annotated[float, Field(gt=0)]
    watermark_minutes: Annotated[int, Field(ge=0)]
    max_batch_events: Annotated[int, Field(ge=1)]
    max_batch_seconds: Annotated[float, Field(gt=0)]
    max_message_bytes: Annotated[int, Field(ge=64)]
    value_ranges: dict[SensorName, Range]

    @model_validator(mode="after")
    def _every_sensor(self) -> StreamRules:
        missing = set(SENSORS) - set(self.value_ranges)
        if missing:
            raise ValueError(f"value_ranges lacks {sorted(missing)}")
        return self


class PlatformConfig(_Strict):
    version: Literal[1]
    eventhub: EventHubSpec
    stream: StreamRules
    monitoring: MonitoringTable
    schedule: dict[Literal["batch", "ml"], ScheduledJob]
