"""The six telemetry sensors every compressor reports, in their canonical order."""

from typing import Any, Final, Literal, get_args

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

ATMOSPHERE_PSI: Final = 14.7


def compression_ratio(discharge: Any, suction: Any) -> Any:
    """Absolute discharge over absolute suction pressure, from gauge readings (psig): numbers,
    NumPy arrays and Narwhals expressions alike.

    >>> round(compression_ratio(135.3, 35.3), 3)
    3.0
    """
    return (discharge + ATMOSPHERE_PSI) / (suction + ATMOSPHERE_PSI)
