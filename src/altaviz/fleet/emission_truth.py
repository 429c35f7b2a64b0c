"""Ground truth for emissions and operating modes, per unit and hour.

The truth is computed from the noise-free state of every reading slot, before the collector
adds noise, drops or delays anything:

- mode: ``depressurised`` while a unit is down for a repair or a service visit (blown down,
  not reporting), ``standby`` in a pressurised standby spell, ``operating`` otherwise;
- rod-packing vent flow per cylinder (scf/min) while the unit holds pressure: its own healthy
  flow scaled by the compression ratio, plus, during a packing leak, ``vent_scfm_per_psi``
  (drawn per episode) for every psi of discharge pressure the worn packing has lost;
- methane: the packing's vented gas, plus the engine's combustion slip from the fuel its
  true horsepower burns (the factor method, which is the accepted truth for combustion).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from altaviz.config.schema import EmissionFactors, FleetConfig
from altaviz.core.sensors import compression_ratio
from altaviz.fleet.episodes import US_PER_HOUR, Episodes
from altaviz.fleet.failure_modes import DISCHARGE, HP, MODES, SUCTION

PACKING_LEAK = MODES.index("packing_leak")
MODE_NAMES = ("operating", "standby", "depressurised")

TRUTH_SCHEMA = pa.schema(
    [
        pa.field("compressor_id", pa.string(), nullable=False),
        pa.field("hour", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("operating_hours", pa.float64(), nullable=False),
        pa.field("standby_hours", pa.float64(), nullable=False),
        pa.field("depressurised_hours", pa.float64(), nullable=False),
        pa.field("vent_scfm_per_cylinder", pa.float64()),  # mean while pressurised
        pa.field("packing_scf", pa.float64(), nullable=False),
        pa.field("ch4_packing_lb", pa.float64(), nullable=False),
        pa.field("ch4_combustion_lb", pa.float64(), nullable=False),
        pa.field("co2_combustion_lb", pa.float64(), nullable=False),
        pa.field("ch4_lb", pa.float64(), nullable=False),
    ]
)


def unit_packing_scfm(config: FleetConfig, cylinders: np.ndarray, seed: int) -> np.ndarray:
    """Each unit's healthy packing vent flow per cylinder at the reference ratio (scf/min),
    spread around the spec's factor with mean one (its own stream: other draws stay put)."""
    spec = config.packing
    rng = np.random.default_rng([seed, 0x9AC4_1E55])
    sigma = spec.unit_spread
    spread = rng.lognormal(-(sigma**2) / 2, sigma, len(cylinders)) if sigma else 1.0
    return spec.healthy_scf_per_hour / 60.0 / cylinders * spread


def leak_coefficients(config: FleetConfig, episodes: Episodes, idx: np.ndarray) -> np.ndarray:
    """The vent flow per cylinder per psi lost of packing-leak episodes ``idx``: inside the
    configured range, from each episode's phase (uniform on [0, 2 pi)), so nothing new is
    drawn and the value is the same wherever it is asked for."""
    lo, hi = config.failures.params("packing_leak").vent_scfm_per_psi
    return lo + (hi - lo) * episodes.phase[idx] / (2 * np.pi)


def leak_scfm(
    config: FleetConfig, episodes: Episodes, baseline: np.ndarray, units: np.ndarray, ts: np.ndarray
) -> np.ndarray:
    """(slot, unit) array of the vent flow a packing leak adds per cylinder (scf/min): the
    episode's coefficient times the discharge pressure lost by then (noise-free)."""
    u0, n = int(units[0]), len(units)
    added = np.zeros((len(ts), n))
    idx = episodes.overlapping(int(ts[0]), int(ts[-1]) + 1)
    leaks = (episodes.mode[idx] == PACKING_LEAK) & (episodes.unit[idx] >= u0)
    idx = idx[leaks & (episodes.unit[idx] < u0 + n)]
    if not idx.size:
        return added
    elapsed = ts[None, :] - episodes.onset_us[idx, None]
    p = elapsed / (episodes.failure_us[idx] - episodes.onset_us[idx])[:, None]
    e_i, t_i = np.nonzero((p >= 0.0) & (p < 1.0))
    lost = (baseline[DISCHARGE, episodes.unit[idx]] - episodes.failure_level[idx])[e_i]
    added[t_i, episodes.unit[idx][e_i] - u0] = (
        leak_coefficients(config, episodes, idx)[e_i] * lost * p[e_i, t_i]
    )
    return added


def hourly_truth(
    config: FleetConfig,
    factors: EmissionFactors,
    ids: pa.Array,
    units: np.ndarray,
    ts: np.ndarray,
    step_us: int,
    values: np.ndarray,
    mode: np.ndarray,
    packing_scfm: np.ndarray,
    cylinders: np.ndarray,
    leak_scfm: np.ndarray,
) -> pa.Table:
    """Per unit and hour truth from the noise-free (sensor, slot, unit) ``values`` and the
    (slot, unit) ``mode`` (an index into :data:`MODE_NAMES`); ``packing_scfm`` and
    ``cylinders`` are the whole fleet's, ``leak_scfm`` the chunk's (slot, unit) leak flow."""
    slot_hours = step_us / US_PER_HOUR
    pressurised = mode < 2
    ratio = compression_ratio(values[DISCHARGE], values[SUCTION])
    reference = config.packing.reference_compression_ratio
    vent = np.where(pressurised, packing_scfm[None, units] * ratio / reference + leak_scfm, 0.0)
    cylinders_scf = vent * 60.0 * slot_hours  # per cylinder, per slot
    fuel = np.where(mode == 0, values[HP], 0.0) * factors.fuel_mmbtu_per_hp_hour * slot_hours

    hour_us = (ts // US_PER_HOUR) * US_PER_HOUR
    hours, slot_hour = np.unique(hour_us, return_inverse=True)
    n = len(units)
    cell = (slot_hour[:, None] * n + np.arange(n)[None, :]).ravel()
    size = len(hours) * n

    def per_hour(x: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=np.broadcast_to(x, mode.shape).ravel(), minlength=size)

    mode_hours = [per_hour((mode == m) * slot_hours) for m in range(len(MODE_NAMES))]
    pressurised_slots = per_hour(pressurised.astype(float))
    vent_sum = per_hour(vent)
    with np.errstate(invalid="ignore", divide="ignore"):
        vent_mean = np.where(pressurised_slots > 0, vent_sum / pressurised_slots, np.nan)
    packing_scf = per_hour(cylinders_scf) * np.tile(cylinders[units], len(hours))
    ch4_packing = packing_scf * factors.gas_density_lb_per_scf * factors.methane_fraction
    fuel_h = per_hour(fuel)
    ch4_comb = fuel_h * factors.combustion_ch4_lb_per_mmbtu
    co2 = fuel_h * factors.combustion_co2_lb_per_mmbtu
    return pa.table(
        {
            "compressor_id": ids.take(pa.array(np.tile(units, len(hours)))),
            "hour": pa.array(np.repeat(hours, n), pa.timestamp("us", tz="UTC")),
            "operating_hours": mode_hours[0],
            "standby_hours": mode_hours[1],
            "depressurised_hours": mode_hours[2],
            "vent_scfm_per_cylinder": pa.array(vent_mean, from_pandas=True),
            "packing_scf": packing_scf,
            "ch4_packing_lb": ch4_packing,
            "ch4_combustion_lb": ch4_comb,
            "co2_combustion_lb": co2,
            "ch4_lb": ch4_packing + ch4_comb,
        },
        schema=TRUTH_SCHEMA,
    )
