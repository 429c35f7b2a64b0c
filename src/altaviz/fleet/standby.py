"""Pressurised standby: operations stop a unit for hours (low demand, a downstream outage)
and leave it full of gas at its settle-out pressure. It keeps reporting: no power, no flow,
little vibration, a cooling discharge, and a discharge pressure that falls towards suction.

Standby never overlaps a degradation episode, its repair or a service visit of the same
unit (with a day's margin), so a failure's signature is never interrupted by a stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from altaviz.config.schema import FleetConfig
from altaviz.fleet.episodes import US_PER_DAY, US_PER_HOUR, Episodes, segment_rng
from altaviz.fleet.maintenance import ServiceWindows

STANDBY_TAG = 0x57A2_DB15


@dataclass(frozen=True)
class StandbyWindows:
    """Standby spells; the unit reports in standby between ``start_us`` and ``end_us``."""

    unit: np.ndarray
    start_us: np.ndarray
    end_us: np.ndarray

    def overlapping(self, start_us: int, end_us: int) -> np.ndarray:
        return np.flatnonzero((self.start_us < end_us) & (self.end_us > start_us))


def schedule_standby(
    config: FleetConfig,
    units: int,
    start_us: int,
    ends: list[int],
    seed: int,
    episodes: Episodes,
    service: ServiceWindows,
    enabled: bool = True,
) -> StandbyWindows:
    """Standby spells of every unit over the run's segments (see ``schedule_episodes``):
    a renewal process with exponential gaps of ``mean_days_between`` and uniform lengths."""
    empty = np.empty(0, np.int64)
    spec = config.standby
    if not enabled or spec.mean_days_between <= 0 or not units:
        return StandbyWindows(empty, empty, empty)
    first = rng = np.random.default_rng([seed, STANDBY_TAG])
    mean_gap = spec.mean_days_between * US_PER_DAY
    next_start = start_us + np.round(rng.exponential(mean_gap, units)).astype(np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for segment, end in enumerate(ends):
        rng = segment_rng(seed, STANDBY_TAG, segment, first)
        while (due := np.flatnonzero(next_start < end)).size:
            length = np.round(rng.uniform(*spec.hours, len(due)) * US_PER_HOUR).astype(np.int64)
            parts.append((due, next_start[due], next_start[due] + length))
            gaps = np.round(rng.exponential(mean_gap, len(due))).astype(np.int64)
            next_start[due] += length + gaps
    if not parts:
        return StandbyWindows(empty, empty, empty)
    spells = pl.DataFrame(
        {
            "unit": np.concatenate([p[0] for p in parts]),
            "start": np.concatenate([p[1] for p in parts]),
            "end": np.concatenate([p[2] for p in parts]),
        }
    ).with_row_index("spell")
    margin = US_PER_DAY
    busy = pl.DataFrame(
        {
            "unit": np.concatenate([episodes.unit, service.unit]).astype(np.int64),
            "busy_from": np.concatenate([episodes.onset_us, service.start_us]) - margin,
            "busy_to": np.concatenate([episodes.back_online_us, service.end_us]) + margin,
        }
    )
    clashing = (
        spells.join(busy, on="unit")
        .filter((pl.col("start") < pl.col("busy_to")) & (pl.col("end") > pl.col("busy_from")))
        .get_column("spell")
    )
    kept = spells.filter(~pl.col("spell").is_in(clashing.implode())).sort("unit", "start")
    return StandbyWindows(kept["unit"].to_numpy(), kept["start"].to_numpy(), kept["end"].to_numpy())
