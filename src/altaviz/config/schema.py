"""Typed schema of the packaged YAML configuration, validated on load.

Five files make up a configuration: ``fleet.yaml`` (models, basins, failure modes, dirt,
demo fleet), ``thresholds.yaml`` (absolute and floating limits, alert and quality rules),
``lakehouse.yaml`` (lakehouse names, root, retention), ``models.yaml`` (predictive
models and emissions factors) and ``platform.yaml`` (the cloud resources the product expects:
Event Hubs, the monitoring table, the Fabric job schedule).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from altaviz.sensors import SENSORS, DerivedName, SensorName


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in a YAML file must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if low > high:
        raise ValueError(f"range must be [low, high], got [{low}, {high}]")
    return value


Range = Annotated[tuple[float, float], AfterValidator(_ordered)]
IntRange = Annotated[tuple[int, int], AfterValidator(_ordered)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


# --------------------------------------------------------------------------- fleet.yaml


class TelemetrySpec(_Strict):
    interval_minutes: Annotated[int, Field(gt=0, le=60)]
    id_prefix: str
    id_min_digits: Annotated[int, Field(ge=1, le=9)]
    noise_fraction: Annotated[float, Field(ge=0.0, le=0.5)]
    power_draw_fraction: Range
    diurnal_temp_amplitude_f: Range
    install_years_ago: Range
    availability: Range

    @model_validator(mode="after")
    def _interval_divides_day(self) -> TelemetrySpec:
        if 1440 % self.interval_minutes:
            raise ValueError("interval_minutes must divide a day (1440 minutes)")
        return self


_BASELINE_SENSORS = tuple(s for s in SENSORS if s != "horsepower")


class CompressorModel(_Strict):
    name: str
    manufacturer: str
    type: str
    rated_hp: Range
    cylinders: Annotated[int, Field(gt=0)]
    weight: Annotated[float, Field(gt=0.0, le=1.0)]
    baseline: dict[SensorName, Range]

    @model_validator(mode="after")
    def _all_sensors(self) -> CompressorModel:
        missing = [s for s in _BASELINE_SENSORS if s not in self.baseline]
        if missing:
            raise ValueError(
                f"baseline lacks {', '.join(missing)} (horsepower comes from rated_hp)"
            )
        if "horsepower" in self.baseline:
            raise ValueError("baseline.horsepower is derived from rated_hp; remove it")
        return self


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


class Basin(_Strict):
    name: str
    code: Annotated[str, Field(pattern=r"^[A-Z]{4}$")]
    region: str
    states: Annotated[list[str], Field(min_length=1)]
    lat: Range
    lon: Range
    stations: Annotated[int, Field(gt=0)]
    units_per_station: IntRange
    elevation_ft: float
    timezone: Annotated[str, AfterValidator(_timezone)]


class BearingWearParams(_Strict):
    exponent: Annotated[float, Field(gt=0)]
    temp_rise_f_per_day: float


class CoolingDegradationParams(_Strict):
    pass


class ValveFailureParams(_Strict):
    pulsation_period_hours: Annotated[float, Field(gt=0)]
    amplitude_exponent: Annotated[float, Field(gt=0)]
    suction_ratio: float
    vibration_gain: float
    vibration_swing: float
    vibration_period_hours: Annotated[float, Field(gt=0)]
    flow_swing: Annotated[float, Field(ge=0, lt=0.5)]
    flow_period_hours: Annotated[float, Field(gt=0)]


class RingWearParams(_Strict):
    discharge_psi_per_day: float
    temp_f_per_day: float
    vibration_per_day: float


class PackingLeakParams(_Strict):
    suction_psi_per_day: float
    flow_loss_per_day: Annotated[float, Field(ge=0)]
    flow_floor: Annotated[float, Field(gt=0, le=1)]


class FoulingParams(_Strict):
    vibration_per_day: float
    spike_probability: Share
    spike_f: Range


MODE_PARAMS: dict[str, type[_Strict]] = {
    "bearing_wear": BearingWearParams,
    "cooling_degradation": CoolingDegradationParams,
    "valve_failure": ValveFailureParams,
    "ring_wear": RingWearParams,
    "packing_leak": PackingLeakParams,
    "fouling": FoulingParams,
}
FailureModeName = Literal[
    "bearing_wear", "cooling_degradation", "valve_failure", "ring_wear", "packing_leak", "fouling"
]


class FailureModeSpec(_Strict):
    primary_sensor: SensorName
    monthly_incidence: Annotated[float, Field(gt=0, le=1)]
    typical_days: Annotated[float, Field(gt=0)]
    repair: str
    params: dict[str, Any]


class SeverityBands(_Strict):
    early_warning: Share
    warning: Share
    critical: Share
    failed: Share

    @model_validator(mode="after")
    def _increasing(self) -> SeverityBands:
        if not self.early_warning <= self.warning <= self.critical <= self.failed:
            raise ValueError("bands must increase: early_warning <= warning <= critical <= failed")
        return self


class FailureSpec(_Strict):
    degrading_share: Annotated[float, Field(ge=0.0, lt=0.5)]
    duration_jitter: Annotated[float, Field(ge=0.0, lt=1.0)]
    repair_hours: Range
    trip_margin: Annotated[float, Field(ge=0.0, le=0.5)]
    severity_bands: SeverityBands
    modes: dict[FailureModeName, FailureModeSpec]

    @model_validator(mode="after")
    def _params_per_mode(self) -> FailureSpec:
        missing = [m for m in MODE_PARAMS if m not in self.modes]
        if missing:
            raise ValueError(f"modes lacks {', '.join(missing)}")
        for name, spec in self.modes.items():
            MODE_PARAMS[name].model_validate(spec.params)  # raises with the bad key
        return self

    def params(self, mode: str) -> Any:
        """The typed parameters of one failure mode."""
        return MODE_PARAMS[mode].model_validate(self.modes[mode].params)


class MaintenanceSpec(_Strict):
    service_interval_hours: Annotated[float, Field(gt=0)]
    service_downtime_hours: Range


class DirtSpec(_Strict):
    glitch_share: Share
    glitch_size: Range
    sensor_dropout_share: Share
    reading_dropout_share: Share
    duplicate_share: Share
    duplicate_delay_seconds: Range
    late_share: Share
    late_delay_minutes: Range
    latency_seconds: Range


class DemoStation(_Strict):
    id: str
    name: str
    basin: str
    state: str
    lat: float
    lon: float
    elevation_ft: float


class DemoUnit(_Strict):
    station: str
    model: str


class DemoFailure(_Strict):
    unit: Annotated[int, Field(ge=1)]
    mode: FailureModeName
    # Below 1 the unit is still degrading at the run's end; above 1 it tripped during the run.
    progress_at_end: Annotated[float, Field(ge=0.0, le=3.0)]


class DemoSpec(_Strict):
    stations: Annotated[list[DemoStation], Field(min_length=1)]
    units: Annotated[list[DemoUnit], Field(min_length=1)]
    failures: list[DemoFailure]


class FleetConfig(_Strict):
    version: Literal[1]
    telemetry: TelemetrySpec
    models: Annotated[list[CompressorModel], Field(min_length=1)]
    basins: Annotated[list[Basin], Field(min_length=1)]
    failures: FailureSpec
    maintenance: MaintenanceSpec
    dirt: DirtSpec
    demo: DemoSpec

    @model_validator(mode="after")
    def _consistent(self) -> FleetConfig:
        total = sum(m.weight for m in self.models)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"models: weights must sum to 1.00, got {total:.4f}")
        _unique("models", [m.name for m in self.models])
        _unique("basins", [b.code for b in self.basins])
        model_names = {m.name for m in self.models}
        basin_codes = {b.code for b in self.basins}
        stations = {s.id for s in self.demo.stations}
        _unique("demo.stations", [s.id for s in self.demo.stations])
        for s in self.demo.stations:
            if s.basin not in basin_codes:
                raise ValueError(f"demo.stations: {s.id} names unknown basin {s.basin!r}")
        for u in self.demo.units:
            if u.station not in stations:
                raise ValueError(f"demo.units: unknown station {u.station!r}")
            if u.model not in model_names:
                raise ValueError(f"demo.units: unknown model {u.model!r}")
        for f in self.demo.failures:
            if f.unit > len(self.demo.units):
                raise ValueError(f"demo.failures: unit {f.unit} is not in demo.units")
        return self

    def basin(self, code: str) -> Basin:
        return next(b for b in self.basins if b.code == code)


def _unique(where: str, names: list[str]) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ValueError(f"{where}: duplicate {', '.join(sorted(seen))}")


# ------------------------------------------------------------------------ thresholds.yaml

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


class ThresholdsConfig(_Strict):
    version: Literal[1]
    sensors: dict[SensorName, Limits]
    derived: dict[DerivedName, Limits]
    models: dict[str, dict[SensorName | DerivedName, LimitOverride]]
    floating: dict[SensorName, Floating]
    cleaning: CleaningRules
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

        >>> cfg = load_config().thresholds  # doctest: +SKIP
        >>> cfg.limit("Caterpillar G3606", "discharge_pressure_psi", "critical_high")
        1640.0
        """
        override = self.models.get(model or "", {}).get(signal)  # type: ignore[call-overload]
        if override is not None and getattr(override, kind) is not None:
            return getattr(override, kind)
        fleet = self.sensors.get(signal) or self.derived.get(signal)  # type: ignore[call-overload]
        return getattr(fleet, kind) if fleet is not None else None


# ------------------------------------------------------------------------- lakehouse.yaml


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


# ---------------------------------------------------------------------------- models.yaml

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
    diagnostics: DiagnosticRules


# -------------------------------------------------------------------------- platform.yaml

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
