"""Feature names: the columns of the feature store, declared where the catalogue sees them.

The features themselves are computed in :mod:`altaviz.ml.features`.
"""

from __future__ import annotations

from typing import Final

RAW_FEATURES: Final = (
    "vibration_mean",
    "vibration_std",
    "vibration_max",
    "discharge_temp_mean",
    "temp_rate_f_per_h",
    "pressure_differential_mean",
    "horsepower_mean",
)
"""The spec's anomaly features, in their own units."""

MODEL_FEATURES: Final = (
    "vibration_ratio",
    "vibration_max_ratio",
    "vibration_std_ratio",
    "discharge_temp_ratio",
    "suction_pressure_ratio",
    "discharge_pressure_ratio",
    "pressure_differential_ratio",
    "horsepower_ratio",
    "gas_flow_ratio",
    "temp_rate_f_per_h",
)
"""Features relative to the unit's healthy median: the anomaly model's inputs."""

FEATURES: Final = tuple(dict.fromkeys((*RAW_FEATURES, *MODEL_FEATURES)))

FEATURE_SENSOR: Final = {
    "vibration_ratio": "vibration_mms",
    "vibration_max_ratio": "vibration_mms",
    "vibration_std_ratio": "vibration_mms",
    "discharge_temp_ratio": "discharge_temp_f",
    "temp_rate_f_per_h": "discharge_temp_f",
    "suction_pressure_ratio": "suction_pressure_psi",
    "discharge_pressure_ratio": "discharge_pressure_psi",
    "pressure_differential_ratio": "discharge_pressure_psi",
    "horsepower_ratio": "horsepower",
    "gas_flow_ratio": "gas_flow_mcf",
}
"""The sensor each model feature speaks for (to name the sensors behind an anomaly)."""
