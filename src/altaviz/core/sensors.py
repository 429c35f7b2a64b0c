"""The six telemetry sensors every compressor reports, in their canonical order."""

from typing import Final, Literal, get_args

SensorName = Literal[
    "vibration_mms",
    "discharge_temp_f",
    "suction_pressure_psi",
    "discharge_pressure_psi",
    "horsepower",
    "gas_flow_mcf",
]

SENSORS: Final[tuple[SensorName, ...]] = get_args(SensorName)

# Position of each sensor in the (sensor, reading) arrays the simulator works on.
SENSOR_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(SENSORS)}

# Derived gold-layer signals that also carry limits in thresholds.yaml.
DerivedName = Literal["pressure_differential_psi", "temp_rate_of_change_f_per_h"]
