"""The packing records an operator keeps: each unit's rod-packing vent-flow measurements
(one row per cylinder) and packing replacements, as landed beside the maintenance log.

Before the run, every unit has its last measurement (and its last replacement) somewhere in
its recent operating hours, a few of them overdue; in the run, every packing-leak repair
replaces the packing and measures it again when the unit returns to service.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from altaviz.config.schema import FleetConfig
from altaviz.core.sensors import compression_ratio
from altaviz.fleet.emission_truth import leak_coefficients
from altaviz.fleet.episodes import US_PER_HOUR, Episodes
from altaviz.fleet.failure_modes import DISCHARGE, MODES, SUCTION
from altaviz.fleet.layout import FleetLayout

INSTRUMENT = "high-volume sampler"
TECHNICIAN = "field technician"
MINUTE_US = 60_000_000
RUNNING_SHARE = 0.92  # calendar hours a unit runs, to date its records
LATE_SHARE = 0.03  # units whose operator lets the rules' intervals run out


def packing_records(
    layout: FleetLayout,
    episodes: Episodes,
    packing_scfm: np.ndarray,
    config: FleetConfig,
    start: datetime,
    end_us: int,
    seed: int,
) -> pl.DataFrame:
    """``packing_measurements`` landing rows: measurements and replacements, per cylinder.

    Before the run: each unit's last measurement and replacement. In the run: each unit is
    measured again when the operating hours since its last reach a target a little under
    8,760 (a late operator's, over it); a packing leak found by its trip is measured as
    found, and the packing replaced when the unit returns to service. Each measurement
    reads the packing's true vent flow then (the simulator's truth), within 15 %.
    """
    rng = np.random.default_rng([seed, 0x9AC4_4EC0])
    n = layout.size
    run_hours = layout.units["operating_hours"].to_numpy()
    cylinders = layout.units["cylinders"].to_numpy()
    start_us = int(start.timestamp() * 1_000_000)
    ratio = compression_ratio(layout.baseline[DISCHARGE], layout.baseline[SUCTION])
    healthy = packing_scfm * ratio / config.packing.reference_compression_ratio

    def when(hours_ago: np.ndarray) -> np.ndarray:
        at = start_us - np.round(hours_ago / RUNNING_SHARE * US_PER_HOUR).astype(np.int64)
        return at - at % MINUTE_US  # records are kept to the minute

    # Hours run since each record, never before the unit was installed: most operators keep
    # ahead of the rules (OOOOb: 8,760 h; OOOOa: 36 months, about 24,000 h), a few do not.
    late = rng.random(n) < LATE_SHARE
    measured_ago = np.where(late, rng.uniform(8_400, 9_300, n), rng.uniform(0, 8_400, n))
    replaced_ago = np.where(late, rng.uniform(22_000, 25_000, n), rng.uniform(0, 22_000, n))
    measured_ago, replaced_ago = (
        np.minimum(measured_ago, run_hours),
        np.minimum(replaced_ago, run_hours),
    )
    leaks = episodes.mode == MODES.index("packing_leak")
    repaired = np.flatnonzero(leaks & (episodes.back_online_us < end_us))
    tripped = np.flatnonzero(
        leaks & (episodes.failure_us >= start_us) & (episodes.failure_us < end_us)
    )
    target_lo, target_hi = (8_800, 9_400), (7_800, 8_700)
    target = np.where(late, rng.uniform(*target_lo, n), rng.uniform(*target_hi, n))
    routine_units, routine_at = [], []
    last_at = start_us + ((target - measured_ago) / RUNNING_SHARE * US_PER_HOUR).astype(np.int64)
    last_at = np.maximum(last_at, start_us + int(US_PER_HOUR))
    while (due := np.flatnonzero(last_at < end_us)).size:
        routine_units.append(due)
        routine_at.append(last_at[due])
        gap = np.where(
            late[due], rng.uniform(*target_lo, len(due)), rng.uniform(*target_hi, len(due))
        )
        last_at[due] += (gap / RUNNING_SHARE * US_PER_HOUR).astype(np.int64)
    none = np.empty(0, np.int64)
    routine_u = np.concatenate(routine_units) if routine_units else none
    routine_t = np.concatenate(routine_at) if routine_at else none
    parts = [
        ("measurement", np.arange(n), when(measured_ago), run_hours - measured_ago),
        ("replacement", np.arange(n), when(replaced_ago), run_hours - replaced_ago),
        # In the run, hour meters are left to the telemetry's own count.
        ("measurement", routine_u, _minute(routine_t), np.full(len(routine_u), np.nan)),
        (
            "measurement",
            episodes.unit[tripped],
            _minute(episodes.failure_us[tripped]),
            np.full(len(tripped), np.nan),
        ),
        (
            "replacement",
            episodes.unit[repaired],
            _minute(episodes.back_online_us[repaired]),
            np.full(len(repaired), np.nan),
        ),
    ]
    frames = []
    for kind, units, at_us, hours in parts:
        per_cyl = cylinders[units]
        unit_rows = np.repeat(units, per_cyl)
        cylinder = np.concatenate([np.arange(1, c + 1) for c in per_cyl]) if len(units) else []
        worn = _leak_scfm(config, layout, episodes, units, at_us) if kind == "measurement" else 0
        true = healthy[units] + worn
        value = np.repeat(true, per_cyl) * rng.lognormal(0.0, 0.15, len(unit_rows))
        frames.append(
            pl.DataFrame(
                {
                    "compressor_id": [layout.compressor_ids[u] for u in unit_rows],
                    "measured_at": np.repeat(at_us, per_cyl).astype("datetime64[us]"),
                    "cylinder": pl.Series(cylinder, dtype=pl.Int32),
                    "vent_scfm": np.round(value, 3),
                    "kind": [kind] * len(unit_rows),
                    "unit_operating_hours": np.round(np.repeat(hours, per_cyl), 1),
                }
            )
        )
    records = (
        pl.concat(frames)
        .with_columns(
            pl.col("measured_at").dt.replace_time_zone("UTC"),
            pl.col("unit_operating_hours").fill_nan(None),
        )
        .sort("measured_at", "compressor_id", "cylinder")
    )
    return (
        records.unique(["compressor_id", "measured_at", "kind", "cylinder"], keep="first")
        .sort("measured_at", "compressor_id", "cylinder")
        .select(
            pl.format(
                "PK-{}-{}-{}",
                "compressor_id",
                pl.col("measured_at").dt.strftime("%Y%m%d%H%M"),
                pl.col("kind").str.slice(0, 1).str.to_uppercase(),
            ).alias("measurement_id"),
            pl.all(),
            pl.lit(INSTRUMENT).alias("instrument"),
            pl.lit(TECHNICIAN).alias("measured_by"),
        )
    )


def _minute(at_us: np.ndarray) -> np.ndarray:
    return at_us - at_us % MINUTE_US


def _leak_scfm(
    config: FleetConfig,
    layout: FleetLayout,
    episodes: Episodes,
    units: np.ndarray,
    at_us: np.ndarray,
) -> np.ndarray:
    """The vent flow a packing leak adds per cylinder to each (unit, moment): its coefficient
    times the discharge pressure lost by then (at the trip, all of it)."""
    if not len(units):
        return np.zeros(0)
    leaks = np.flatnonzero(episodes.mode == MODES.index("packing_leak"))
    found = (
        pl.DataFrame({"row": np.arange(len(units)), "unit": units, "at": at_us})
        .join(
            pl.DataFrame(
                {
                    "unit": episodes.unit[leaks],
                    "onset": episodes.onset_us[leaks],
                    "failure": episodes.failure_us[leaks],
                    "lost": layout.baseline[DISCHARGE, episodes.unit[leaks]]
                    - episodes.failure_level[leaks],
                    "coefficient": leak_coefficients(config, episodes, leaks),
                }
            ),
            on="unit",
        )
        .filter((pl.col("at") >= pl.col("onset")) & (pl.col("at") <= pl.col("failure")))
        .select(
            "row",
            (
                pl.col("coefficient")
                * pl.col("lost")
                * ((pl.col("at") - pl.col("onset")) / (pl.col("failure") - pl.col("onset")))
            ).alias("scfm"),
        )
    )
    worn = np.zeros(len(units))
    worn[found["row"].to_numpy()] = found["scfm"].to_numpy()
    return worn
