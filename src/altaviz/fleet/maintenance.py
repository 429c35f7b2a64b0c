"""Routine service windows and the maintenance log (service visits and the repairs that end
simulated failures)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from altaviz.config.schema import FleetConfig
from altaviz.fleet.episodes import US_PER_HOUR, Episodes, segment_rng
from altaviz.fleet.failure_modes import MODES
from altaviz.fleet.layout import FleetLayout


@dataclass(frozen=True)
class ServiceWindows:
    """Planned service visits; the unit is offline between ``start_us`` and ``end_us``."""

    unit: np.ndarray
    start_us: np.ndarray
    end_us: np.ndarray
    last_before_run_us: np.ndarray  # per unit: the visit before the run began

    def overlapping(self, start_us: int, end_us: int) -> np.ndarray:
        return np.flatnonzero((self.start_us < end_us) & (self.end_us > start_us))


def schedule_service(
    config: FleetConfig, layout: FleetLayout, start_us: int, end_us: int | list[int], seed: int
) -> ServiceWindows:
    """Service every ``service_interval_hours`` of running, each unit at its own phase;
    ``end_us`` may be the ends of a run's segments (see ``schedule_episodes``)."""
    ends = end_us if isinstance(end_us, list) else [end_us]
    first = np.random.default_rng([seed, 0x5E41_11CE])
    rng = first
    spec = config.maintenance
    interval = int(spec.service_interval_hours * US_PER_HOUR)
    # The previous visit had finished before the run began.
    longest = int(spec.service_downtime_hours[1] * US_PER_HOUR)
    since = np.round(rng.uniform(longest, interval, layout.size)).astype(np.int64)
    last = start_us - since
    due = last + interval
    unit_parts, start_parts, hour_parts = [], [], []
    for segment, end in enumerate(ends):
        rng = segment_rng(seed, 0x5E41_11CE, segment, first)
        units, starts = [], []
        while (sel := np.flatnonzero(due < end)).size:
            units.append(sel)
            starts.append(due[sel])
            due[sel] += interval
        unit_parts += units
        start_parts += starts
        count = sum(len(u) for u in units)
        hour_parts.append(rng.uniform(*spec.service_downtime_hours, count))
    unit = np.concatenate(unit_parts) if unit_parts else np.empty(0, np.int64)
    start = np.concatenate(start_parts) if start_parts else np.empty(0, np.int64)
    hours = np.concatenate(hour_parts)
    return ServiceWindows(unit, start, start + np.round(hours * US_PER_HOUR).astype(np.int64), last)


def maintenance_log(
    config: FleetConfig,
    layout: FleetLayout,
    episodes: Episodes,
    service: ServiceWindows,
    end_us: int,
) -> pl.DataFrame:
    """One row per maintenance event: the last service before the run, services in the run,
    and a repair for every failure that happened before the run's end."""
    n = layout.size
    mean_service = float(np.mean(config.maintenance.service_downtime_hours)) * US_PER_HOUR
    history_end = service.last_before_run_us + int(mean_service)
    repaired = np.flatnonzero(episodes.failure_us < end_us)
    frames = [
        _events(
            layout,
            np.arange(n),
            service.last_before_run_us,
            history_end,
            "routine_service",
            [None] * n,
            ["Scheduled service: oil and filters, valves and packing inspected"] * n,
        ),
        _events(
            layout,
            service.unit,
            service.start_us,
            service.end_us,
            "routine_service",
            [None] * len(service.unit),
            ["Scheduled service: oil and filters, valves and packing inspected"]
            * len(service.unit),
        ),
        _events(
            layout,
            episodes.unit[repaired],
            episodes.failure_us[repaired],
            episodes.back_online_us[repaired],
            "repair",
            [MODES[m] for m in episodes.mode[repaired]],
            [config.failures.modes[MODES[m]].repair for m in episodes.mode[repaired]],  # type: ignore[index]
        ),
    ]
    log = pl.concat(frames).sort("started_at", "compressor_id")
    width = max(7, len(str(log.height)))
    return log.select(
        pl.format("MX-{}", pl.int_range(1, log.height + 1).cast(pl.String).str.zfill(width)).alias(
            "event_id"
        ),
        pl.all(),
    )


def _events(
    layout: FleetLayout,
    unit: np.ndarray,
    start_us: np.ndarray,
    end_us: np.ndarray,
    kind: str,
    modes: list[str | None],
    descriptions: list[str],
) -> pl.DataFrame:
    started = pl.Series(start_us.astype("datetime64[us]")).dt.replace_time_zone("UTC")
    completed = pl.Series(end_us.astype("datetime64[us]")).dt.replace_time_zone("UTC")
    return pl.DataFrame(
        {
            "compressor_id": [layout.compressor_ids[u] for u in unit],
            "event_type": [kind] * len(unit),
            "failure_mode": pl.Series(modes, dtype=pl.String),
            "started_at": started,
            "completed_at": completed,
            "downtime_hours": np.round((end_us - start_us) / US_PER_HOUR, 2),
            "description": pl.Series(descriptions, dtype=pl.String),
        }
    )
