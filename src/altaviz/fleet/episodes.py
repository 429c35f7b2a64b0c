"""Degradation episodes: which unit degrades, how, from when, until it trips and is repaired.

The fleet follows a stationary renewal process per unit (healthy spell, degrading episode,
repair downtime, healthy again), started in its steady state, so about ``degrading_share`` of
the fleet is degrading at every moment of a run, from the first hour. The episode table is
the ground truth every alert and model is scored against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from altaviz.config.schema import FleetConfig, ThresholdsConfig
from altaviz.core.errors import ConfigurationError
from altaviz.core.sensors import SENSOR_INDEX
from altaviz.fleet.failure_modes import DIRECTION, MODES, progression
from altaviz.fleet.layout import FleetLayout

US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
NOT_CROSSED = np.iinfo(np.int64).min


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    return int(moment.timestamp() * 1_000_000)


@dataclass(frozen=True)
class Episodes:
    """One row per degradation episode; times in epoch microseconds (UTC)."""

    unit: np.ndarray
    mode: np.ndarray
    onset_us: np.ndarray
    failure_us: np.ndarray
    back_online_us: np.ndarray
    phase: np.ndarray
    failure_level: np.ndarray
    warning_level: np.ndarray
    critical_level: np.ndarray
    warning_crossed_us: np.ndarray

    def __len__(self) -> int:
        return len(self.unit)

    def overlapping(self, start_us: int, end_us: int) -> np.ndarray:
        """Indices of episodes that affect readings in ``[start_us, end_us)``."""
        return np.flatnonzero((self.onset_us < end_us) & (self.back_online_us > start_us))

    def to_frame(self, layout: FleetLayout, spec: FleetConfig) -> pl.DataFrame:
        """The ground-truth table of failures, one row per episode."""
        modes = [MODES[m] for m in self.mode]
        primary = [spec.failures.modes[m].primary_sensor for m in modes]  # type: ignore[index]
        bands = spec.failures.severity_bands
        span = self.failure_us - self.onset_us

        def at(fraction: float) -> pl.Series:
            return _ts(self.onset_us + np.round(span * fraction).astype(np.int64))

        base = layout.baseline[[SENSOR_INDEX[s] for s in primary], self.unit]
        return pl.DataFrame(
            {
                "compressor_id": [layout.compressor_ids[u] for u in self.unit],
                "failure_mode": modes,
                "primary_sensor": primary,
                "direction": [DIRECTION[m] for m in modes],
                "onset_time": _ts(self.onset_us),
                "warning_time": at(bands.warning),
                "critical_time": at(bands.critical),
                "failed_time": at(bands.failed),
                "failure_time": _ts(self.failure_us),
                "back_online_time": _ts(self.back_online_us),
                "primary_baseline": base,
                "warning_level": self.warning_level,
                "critical_level": self.critical_level,
                "failure_level": self.failure_level,
                "warning_crossed_time": _ts(
                    self.warning_crossed_us, missing=self.warning_crossed_us == NOT_CROSSED
                ),
            }
        ).sort("onset_time", "compressor_id")


def _ts(us: np.ndarray, missing: np.ndarray | None = None) -> pl.Series:
    """Epoch microseconds as a UTC datetime series; ``missing`` marks nulls."""
    series = pl.Series(us, dtype=pl.Int64)
    if missing is not None:
        series = series.set(pl.Series(missing), None)
    return series.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def segment_rng(
    seed: int, tag: int, segment: int, first: np.random.Generator
) -> np.random.Generator:
    """The generator of a run's ``segment``: the run's own for the first, then one per later
    segment (a continued simulation), so continuing never changes what was drawn before."""
    return first if segment == 0 else np.random.default_rng([seed, tag, segment])


def schedule_episodes(
    config: FleetConfig,
    thresholds: ThresholdsConfig,
    layout: FleetLayout,
    start_us: int,
    end_us: int | list[int],
    seed: int,
) -> Episodes:
    """Draw every episode that touches ``[start_us, end_us)`` for a randomly degrading fleet.

    ``end_us`` may be the ends of a run's segments (a simulation, then its continuations):
    the episodes of the first segment are then exactly those of a run that ended there."""
    ends = end_us if isinstance(end_us, list) else [end_us]
    first = rng = np.random.default_rng([seed, 0xE915_0DE5])
    spec = config.failures
    n = layout.size
    weights = np.array([spec.modes[m].monthly_incidence for m in MODES])  # type: ignore[index]
    weights = weights / weights.sum()
    typical = np.array([spec.modes[m].typical_days for m in MODES]) * US_PER_DAY  # type: ignore[index]
    mean_episode = float(weights @ typical)
    mean_repair = float(np.mean(spec.repair_hours)) * US_PER_HOUR
    # Stationary share degrading = E[episode] / (E[healthy] + E[episode] + E[repair]).
    mean_healthy = (
        mean_episode / spec.degrading_share - mean_episode - mean_repair
        if spec.degrading_share > 0
        else np.inf
    )
    cycle = mean_healthy + mean_episode + mean_repair

    def durations(modes: np.ndarray) -> np.ndarray:
        jitter = rng.uniform(1 - spec.duration_jitter, 1 + spec.duration_jitter, len(modes))
        return np.round(typical[modes] * jitter).astype(np.int64)

    def repairs(k: int) -> np.ndarray:
        return np.round(rng.uniform(*spec.repair_hours, k) * US_PER_HOUR).astype(np.int64)

    def healthy(k: int) -> np.ndarray:
        if not np.isfinite(mean_healthy):
            return np.full(k, np.iinfo(np.int64).max // 2)
        return np.round(rng.exponential(mean_healthy, k)).astype(np.int64)

    parts: list[tuple[np.ndarray, ...]] = []
    # Steady state at the start: degrading (length-biased mode), down for repair, or healthy.
    state = rng.random(n)
    p_degrading = spec.degrading_share
    p_down = mean_repair / cycle if np.isfinite(cycle) else 0.0
    degrading = np.flatnonzero(state < p_degrading)
    if len(degrading):
        lw = weights * typical / (weights @ typical)
        modes = rng.choice(len(MODES), len(degrading), p=lw)
        dur = durations(modes)
        onset = start_us - np.round(rng.random(len(degrading)) * dur).astype(np.int64)
        parts.append((degrading, modes, onset, dur, repairs(len(degrading))))
    down = np.flatnonzero((state >= p_degrading) & (state < p_degrading + p_down))
    if len(down):
        modes = rng.choice(len(MODES), len(down), p=weights)
        dur = durations(modes)
        rep = repairs(len(down))
        failure = start_us - np.round(rng.random(len(down)) * rep).astype(np.int64)
        parts.append((down, modes, failure - dur, dur, rep))
    next_onset = np.full(n, np.iinfo(np.int64).max)
    fresh = np.flatnonzero(state >= p_degrading + p_down)
    next_onset[fresh] = start_us + healthy(len(fresh))
    for units, _, onset, dur, rep in parts:
        next_onset[units] = onset + dur + rep + healthy(len(units))
    # Later episodes, round by round (a unit rarely has more than one in a run), segment by
    # segment: each continuation draws its own, after every episode drawn before it.
    for segment, end in enumerate(ends):
        rng = segment_rng(seed, 0xE915_0DE5, segment, first)
        while (due := np.flatnonzero(next_onset < end)).size:
            modes = rng.choice(len(MODES), len(due), p=weights)
            dur = durations(modes)
            rep = repairs(len(due))
            onset = next_onset[due]
            parts.append((due, modes, onset, dur, rep))
            next_onset[due] = onset + dur + rep + healthy(len(due))
    return _calibrate(config, thresholds, layout, parts, first)


def demo_episodes(
    config: FleetConfig, thresholds: ThresholdsConfig, layout: FleetLayout, end_us: int, seed: int
) -> Episodes:
    """The demo fleet's configured failures, placed so they are at a given progress at the end."""
    rng = np.random.default_rng([seed, 0xDE30_E915])
    spec = config.failures
    parts: list[tuple[np.ndarray, ...]] = []
    for f in config.demo.failures:
        m = MODES.index(f.mode)
        dur = round(spec.modes[f.mode].typical_days * US_PER_DAY)
        onset = end_us - round(f.progress_at_end * dur)
        rep = round(np.mean(spec.repair_hours) * US_PER_HOUR)
        parts.append(tuple(np.array([v]) for v in (f.unit - 1, m, onset, dur, rep)))
    return _calibrate(config, thresholds, layout, parts, rng)


def _calibrate(
    config: FleetConfig,
    thresholds: ThresholdsConfig,
    layout: FleetLayout,
    parts: list[tuple[np.ndarray, ...]],
    rng: np.random.Generator,
) -> Episodes:
    """Give each episode its unit-specific warning, critical and trip levels."""
    if parts:
        unit, mode, onset, dur, rep = (np.concatenate(c) for c in zip(*parts, strict=True))
    else:
        unit, mode, onset, dur, rep = (np.empty(0, np.int64) for _ in range(5))
    unit = unit.astype(np.int64)
    mode = mode.astype(np.int8)
    # Whole seconds keep the truth table readable; degradation still advances per reading.
    onset, dur, rep = (np.round(a / 1e6).astype(np.int64) * 1_000_000 for a in (onset, dur, rep))
    order = np.lexsort((unit, onset))
    unit, mode, onset, dur, rep = unit[order], mode[order], onset[order], dur[order], rep[order]
    spec = config.failures
    warning = np.empty(len(unit))
    critical = np.empty(len(unit))
    failure = np.empty(len(unit))
    for i, (u, m) in enumerate(zip(unit, mode, strict=True)):
        name = MODES[m]
        sensor = spec.modes[name].primary_sensor  # type: ignore[index]
        model = layout.model_names[layout.model_of_unit[u]]
        b = float(layout.baseline[SENSOR_INDEX[sensor], u])
        floating = thresholds.floating.get(sensor)
        if DIRECTION[name] == "rising":
            warn = thresholds.limit(model, sensor, "warning_high")
            crit = thresholds.limit(model, sensor, "critical_high")
            float_crit = floating.critical_high if floating else None
            trip = max(
                v for v in (crit, b + float_crit.delta(b) if float_crit else None) if v is not None
            )
            warning[i], critical[i] = warn if warn is not None else trip, crit or trip
            failure[i] = trip * (1 + spec.trip_margin)
        else:
            if floating is None or floating.warning_low is None or floating.critical_low is None:
                raise ConfigurationError(
                    f"thresholds.yaml: floating.{sensor} needs warning_low and critical_low"
                )
            warning[i] = b - floating.warning_low.delta(b)
            critical[i] = b - floating.critical_low.delta(b)
            failure[i] = critical[i] - spec.trip_margin * b
    phase = rng.uniform(0, 2 * np.pi, len(unit))
    episodes = Episodes(
        unit=unit,
        mode=mode,
        onset_us=onset,
        failure_us=onset + dur,
        back_online_us=onset + dur + rep,
        phase=phase,
        failure_level=failure,
        warning_level=warning,
        critical_level=critical,
        warning_crossed_us=np.full(len(unit), NOT_CROSSED),
    )
    _find_warning_crossings(config, layout, episodes)
    return episodes


def _find_warning_crossings(config: FleetConfig, layout: FleetLayout, ep: Episodes) -> None:
    """First reading slot at which the noise-free primary sensor passes its warning level."""
    step = config.telemetry.interval_minutes * 60_000_000
    for m, name in enumerate(MODES):
        idx = np.flatnonzero(ep.mode == m)
        if not idx.size:
            continue
        sensor = SENSOR_INDEX[config.failures.modes[name].primary_sensor]  # type: ignore[index]
        for batch in np.array_split(idx, max(1, len(idx) // 256)):
            bspan = ep.failure_us[batch] - ep.onset_us[batch]
            k = int(bspan.max() // step) + 1
            offsets = np.arange(k, dtype=np.int64) * step
            p = offsets[None, :] / bspan[:, None]
            values = progression(
                name,
                config.failures,
                np.minimum(p, 1.0),
                offsets[None, :] / US_PER_HOUR,
                layout.baseline[:, ep.unit[batch]],
                ep.failure_level[batch],
                ep.phase[batch],
            )[sensor]
            level = ep.warning_level[batch][:, None]
            passed = (values >= level) if DIRECTION[name] == "rising" else (values <= level)
            passed &= p < 1.0
            first = passed.argmax(axis=1)
            hit = passed[np.arange(len(batch)), first]
            ep.warning_crossed_us[batch[hit]] = ep.onset_us[batch[hit]] + offsets[first[hit]]
