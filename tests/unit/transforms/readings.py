"""Hand-made bronze readings: one unit at steady, healthy values every five minutes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from altaviz.core.sensors import SENSORS

DAY = date(2026, 3, 1)
START = datetime(2026, 3, 1, tzinfo=UTC)
STEADY = {
    "vibration_mms": 3.0,
    "discharge_temp_f": 200.0,
    "suction_pressure_psi": 60.0,
    "discharge_pressure_psi": 1050.0,
    "horsepower": 1400.0,
    "gas_flow_mcf": 10000.0,
}


def steady_day(unit: str = "C1", readings: int = 288, wobble: float = 0.03) -> dict[str, list[Any]]:
    """``readings`` five-minute readings from midnight, each sensor within ``wobble`` of its
    steady value (3 %, the fleet's noise; a fixed saw-tooth, so tests are exact), received a
    minute after each."""
    times = [START + timedelta(minutes=5 * i) for i in range(readings)]
    data: dict[str, list[Any]] = {
        "timestamp": times,
        "compressor_id": [unit] * readings,
    }
    for s in SENSORS:
        data[s] = [STEADY[s] * (1 + wobble * ((i % 5) - 2) / 2) for i in range(readings)]
    data["received_at"] = [t + timedelta(minutes=1) for t in times]
    data["ingested_at"] = [START + timedelta(days=1)] * readings
    return data


def concat(*parts: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {k: [v for p in parts for v in p[k]] for k in parts[0]}
