"""The six failure modes: how each one moves the sensors of a degrading unit.

Every progression is a pure function of the episode's progress ``p`` (0 at onset, 1 at the
trip), the days and hours since onset, and the unit's own healthy baseline, so degradation
advances with every reading. The primary sensor is calibrated per unit: it reaches
``failure_level`` (just beyond its critical limit) at ``p = 1``. Secondary effects keep the
specification's per-day rates.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np

from altaviz.config.schema import MODE_PARAMS, FailureSpec
from altaviz.core.sensors import SENSOR_INDEX, SENSORS

MODES: Final[tuple[str, ...]] = tuple(MODE_PARAMS)
"""Failure mode names; an episode stores its mode as an index into this tuple."""

Direction = Literal["rising", "falling"]
DIRECTION: Final[dict[str, Direction]] = {
    "bearing_wear": "rising",
    "cooling_degradation": "rising",
    "valve_failure": "rising",
    "ring_wear": "falling",
    "packing_leak": "falling",
    "fouling": "rising",
}

# Row of each sensor in the (sensor, ...) arrays, in the canonical order of SENSORS.
VIB, TEMP, SUCTION, DISCHARGE, HP, FLOW = (SENSOR_INDEX[s] for s in SENSORS)

Arrays = dict[int, np.ndarray]


def progression(
    mode: str,
    spec: FailureSpec,
    p: np.ndarray,
    hours: np.ndarray,
    base: np.ndarray,
    level: np.ndarray,
    phase: np.ndarray,
) -> Arrays:
    """Noise-free values of the sensors ``mode`` affects, for a batch of episodes.

    ``p`` and ``hours`` are (episode, time) arrays; ``base`` is (sensor, episode); ``level``
    and ``phase`` are per episode. Returns ``{sensor index: (episode, time) values}``.

    >>> from altaviz.config import load_config
    >>> spec = load_config().fleet.failures
    >>> base = np.array([[3.0], [200.0], [60.0], [1000.0], [1500.0], [9000.0]])
    >>> out = progression("cooling_degradation", spec, np.array([[0.0, 0.5, 1.0]]),
    ...                   np.array([[0.0, 72.0, 144.0]]), base, np.array([268.0]), np.zeros(1))
    >>> out[TEMP].round(1).tolist()
    [[200.0, 234.0, 268.0]]
    """
    if mode not in DIRECTION:
        raise ValueError(f"unknown failure mode {mode!r}")
    days = hours / 24.0
    b = {s: base[s][:, None] for s in range(base.shape[0])}
    lvl = level[:, None]
    ph = phase[:, None]
    prm = spec.params(mode)
    if mode == "bearing_wear":
        growth = lvl / b[VIB] - 1.0
        return {
            VIB: b[VIB] * (1.0 + growth * p**prm.exponent),
            TEMP: b[TEMP] + prm.temp_rise_f_per_day * days,
        }
    if mode == "cooling_degradation":
        return {TEMP: b[TEMP] + (lvl - b[TEMP]) * p}
    if mode == "valve_failure":
        amplitude = (lvl - b[DISCHARGE]) * p**prm.amplitude_exponent
        pulse = np.sin(2 * np.pi * hours / prm.pulsation_period_hours + ph)
        vib_wave = np.sin(2 * np.pi * hours / prm.vibration_period_hours + ph)
        flow_wave = np.sin(2 * np.pi * hours / prm.flow_period_hours + ph)
        return {
            DISCHARGE: b[DISCHARGE] + amplitude * pulse,
            # Suction swings against discharge by the same *relative* amount, scaled by the
            # ratio; an absolute -0.3x of a 400 psi discharge swing would pull suction below 0.
            SUCTION: b[SUCTION] * (1.0 + prm.suction_ratio * amplitude * pulse / b[DISCHARGE]),
            VIB: b[VIB] * (1.0 + p * (prm.vibration_gain + prm.vibration_swing * vib_wave)),
            FLOW: b[FLOW] * (1.0 - p * prm.flow_swing * (1.0 - flow_wave)),
        }
    if mode == "ring_wear":
        return {
            FLOW: b[FLOW] + (lvl - b[FLOW]) * p,
            DISCHARGE: b[DISCHARGE] + prm.discharge_psi_per_day * days,
            TEMP: b[TEMP] + prm.temp_f_per_day * days,
            VIB: b[VIB] * (1.0 + prm.vibration_per_day * days),
        }
    if mode == "packing_leak":
        return {
            DISCHARGE: b[DISCHARGE] + (lvl - b[DISCHARGE]) * p,
            SUCTION: b[SUCTION] + prm.suction_psi_per_day * days,
            FLOW: b[FLOW] * np.maximum(prm.flow_floor, 1.0 - prm.flow_loss_per_day * days),
        }
    # fouling
    return {
        TEMP: b[TEMP] + (lvl - b[TEMP]) * p,
        VIB: b[VIB] * (1.0 + prm.vibration_per_day * days),
    }
