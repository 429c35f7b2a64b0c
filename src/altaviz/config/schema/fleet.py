"""``fleet.yaml``: telemetry, compressor models, basins, failure modes, dirt, demo fleet."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from altaviz.config.schema.base import IntRange, Range, Share, _Strict
from altaviz.core.sensors import SENSORS, SensorName


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
    # Vent flow added per cylinder for each psi of discharge pressure the packing loses,
    # drawn per episode inside this range.
    vent_scfm_per_psi: Range


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


class StandbySpec(_Strict):
    mean_days_between: Annotated[float, Field(ge=0)]  # 0: never
    hours: Range
    settle_out_fraction: Share  # discharge settles this far from suction towards discharge
    vibration_fraction: Share
    discharge_temp_f: Range
    demo: bool = False  # the demo fleet stands by too


class PackingSpec(_Strict):
    healthy_scf_per_hour: Annotated[float, Field(gt=0)]
    reference_compression_ratio: Annotated[float, Field(gt=1)]
    unit_spread: Annotated[float, Field(ge=0, le=1)]


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
    standby: StandbySpec
    packing: PackingSpec
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
