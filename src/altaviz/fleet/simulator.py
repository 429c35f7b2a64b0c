"""The fleet simulator: a whole run, from layout to files on disk and a summary.

>>> from datetime import datetime, UTC
>>> from altaviz.fleet import SimulationRequest, simulate
>>> summary = simulate(SimulationRequest(compressors=20, days=1, seed=7,
...     start=datetime(2026, 1, 1, tzinfo=UTC), output=tmp_path / "fleet"))  # doctest: +SKIP
>>> summary.rows  # doctest: +SKIP
5759
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from altaviz import __version__
from altaviz.config import AppConfig, load_config
from altaviz.core.errors import InputError
from altaviz.core.sensors import SENSORS
from altaviz.fleet.emission_truth import unit_packing_scfm
from altaviz.fleet.episodes import US_PER_DAY, demo_episodes, schedule_episodes, to_us
from altaviz.fleet.failure_modes import MODES
from altaviz.fleet.layout import FleetLayout, build_demo_layout, build_layout
from altaviz.fleet.maintenance import maintenance_log, schedule_service
from altaviz.fleet.output import MANIFEST, staged_output
from altaviz.fleet.packing import packing_records
from altaviz.fleet.standby import schedule_standby
from altaviz.fleet.telemetry import Chunk, RunContext, generate_chunk

MAX_ROWS_PER_CHUNK = 1_600_000  # bounds memory per worker, whatever the fleet size
DEFAULT_COMPRESSORS = 4_700
DEFAULT_DAYS = 10


class SimulationError(InputError):
    """The request cannot be simulated; the message says why in one line."""


@dataclass(frozen=True)
class SimulationRequest:
    """What to simulate. ``start`` defaults to ``days`` before now, floored to the interval."""

    output: Path
    compressors: int | None = None
    days: int = DEFAULT_DAYS
    seed: int = 42
    start: datetime | None = None
    demo: bool = False
    workers: int | None = None
    before: tuple[int, ...] = ()
    """Days of the segments simulated before this one (a continuation), from ``start`` on:
    this run then writes only its own ``days``, of the same fleet and episodes."""


class SimulationSummary(BaseModel):
    rows: int
    compressors: int
    stations: int
    basins: int
    degrading: int
    critical: int
    failures: int
    degrading_at_start: int
    critical_at_start: int
    scheduled_readings: int
    start: datetime
    end: datetime
    days: int
    seed: int
    demo: bool
    modes: dict[str, int]
    dirt: dict[str, int]
    paths: dict[str, str]
    duration_s: float
    rows_per_s: float


def resolve_start(start: datetime | None, days: int, interval_minutes: int) -> datetime:
    """The run's first reading slot in UTC; a given start must sit on the interval grid.

    >>> resolve_start(datetime(2026, 1, 1, 0, 5), 1, 5).isoformat()
    '2026-01-01T00:05:00+00:00'
    """
    step = timedelta(minutes=interval_minutes)
    if start is None:
        begin = datetime.now(UTC) - timedelta(days=days)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return epoch + ((begin - epoch) // step) * step
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    if start.second or start.microsecond or start.minute % interval_minutes:
        raise SimulationError(
            f"--start {start.isoformat()} is not on a {interval_minutes}-minute boundary"
        )
    return start


def simulate(
    request: SimulationRequest,
    config: AppConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Simulate a fleet and write telemetry, metadata, maintenance log and ground truth.

    ``on_progress(done, total)`` is called as chunks complete. Raises
    :class:`SimulationError` or :class:`~altaviz.fleet.output.OutputError` with a one-line
    message; nothing is left behind on failure.
    """
    began = time.perf_counter()
    cfg = config or load_config()
    fleet_cfg = cfg.fleet
    if request.demo and request.compressors is not None:
        raise SimulationError("--demo fixes the fleet at its 10 units; drop --compressors")
    compressors = len(fleet_cfg.demo.units) if request.demo else request.compressors
    compressors = DEFAULT_COMPRESSORS if compressors is None else compressors
    if compressors <= 0:
        raise SimulationError(f"--compressors must be at least 1, got {compressors}")
    if request.days <= 0:
        raise SimulationError(f"--days must be at least 1, got {request.days}")
    if request.seed < 0:
        raise SimulationError(f"--seed must be 0 or more, got {request.seed}")
    if request.workers is not None and request.workers < 1:
        raise SimulationError(f"--workers must be at least 1, got {request.workers}")
    interval = fleet_cfg.telemetry.interval_minutes
    segments = [*request.before, request.days]
    total_days = sum(segments)
    start = resolve_start(request.start, total_days, interval)
    step_us = interval * 60_000_000
    per_day = 1440 // interval
    slots = total_days * per_day
    start_us = to_us(start)
    end_us = start_us + slots * step_us
    ends = [start_us + d * per_day * step_us for d in np.cumsum(segments).tolist()]

    if request.demo:
        layout = build_demo_layout(fleet_cfg, start, request.seed)
        # The demo's failures are placed against the first segment's end, as first simulated.
        episodes = demo_episodes(fleet_cfg, cfg.thresholds, layout, ends[0], request.seed)
    else:
        layout = build_layout(fleet_cfg, compressors, start, request.seed)
        episodes = schedule_episodes(
            fleet_cfg, cfg.thresholds, layout, start_us, ends, request.seed
        )
    service = schedule_service(fleet_cfg, layout, start_us, ends, request.seed)
    standby = schedule_standby(
        fleet_cfg,
        layout.size,
        start_us,
        ends,
        request.seed,
        episodes,
        service,
        enabled=fleet_cfg.standby.demo or not request.demo,
    )
    cylinders = layout.units["cylinders"].to_numpy()
    packing_scfm = unit_packing_scfm(fleet_cfg, cylinders, request.seed)
    ctx = RunContext(
        config=fleet_cfg,
        layout=layout,
        episodes=episodes,
        service=service,
        standby=standby,
        factors=cfg.models.emissions,
        packing_scfm=packing_scfm,
        cylinders=cylinders,
        start_us=start_us,
        end_us=end_us,
        step_us=step_us,
        late_after_us=int(cfg.thresholds.quality.late_arrivals.late_after_minutes * 60e6),
        seed=request.seed,
        ids=pa.array(layout.compressor_ids, pa.string()),
    )
    earlier = sum(request.before) * per_day
    # A continuation also replays the last earlier day, for its readings that arrive after
    # that run's end: they land in the new days, as a live feed would deliver them.
    chunks = [
        c for c in plan_chunks(slots, layout.size, per_day) if c.first_slot >= earlier - per_day
    ]
    tail_until = start_us + earlier * step_us if request.before else None
    window_start = start + timedelta(days=sum(request.before))

    with staged_output(request.output) as out:
        paths = _paths(out)
        counts = _write_chunks(ctx, chunks, out, request.workers, on_progress, tail_until)
        _write_table(layout.units, out / "compressor_metadata.parquet")
        _write_table(layout.stations, out / "stations.parquet")
        _write_table(
            maintenance_log(fleet_cfg, layout, episodes, service, end_us),
            out / "maintenance_events.parquet",
        )
        _write_table(
            packing_records(
                layout,
                episodes,
                packing_scfm,
                fleet_cfg,
                start,
                end_us,
                request.seed,
            ),
            out / "packing_measurements.parquet",
        )
        truth = out / "truth"
        failures = episodes.to_frame(layout, fleet_cfg)
        _write_table(failures, truth / "failures.parquet")
        _write_table(_unit_truth(layout), truth / "units.parquet")
        summary_counts = _episode_counts(failures, window_start, start + timedelta(days=total_days))
        manifest = {
            "generator": f"altaviz {__version__}",
            "seed": request.seed,
            "start": start.isoformat(),
            "days": total_days,
            "segments": segments,
            "interval_minutes": interval,
            "compressors": layout.size,
            "demo": request.demo,
            "rows": counts["rows"],
            "dirt": counts["dirt"],
        }
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

    final = {k: str(request.output / Path(v).relative_to(out)) for k, v in paths.items()}
    elapsed = time.perf_counter() - began
    return SimulationSummary(
        rows=counts["rows"],
        compressors=layout.size,
        stations=layout.stations.height,
        basins=layout.stations["basin_code"].n_unique(),
        scheduled_readings=(slots - earlier) * layout.size,
        start=window_start,
        end=start + timedelta(days=total_days),
        days=request.days,
        seed=request.seed,
        demo=request.demo,
        dirt=counts["dirt"],
        paths=final,
        duration_s=round(elapsed, 3),
        rows_per_s=round(counts["rows"] / elapsed, 1),
        **summary_counts,
    )


REPLACED_ON_CONTINUE = (
    "compressor_metadata.parquet",
    "stations.parquet",
    "maintenance_events.parquet",
    "packing_measurements.parquet",
    "truth/failures.parquet",
    "truth/units.parquet",
)


def continue_simulation(
    folder: Path,
    days: int,
    workers: int | None = None,
    config: AppConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Extend the simulation in ``folder`` by ``days``: the same fleet, the episodes in
    progress carried on, the next landing days written beside the earlier ones (which stay
    as they are). Equal to having simulated the whole span at once."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise SimulationError(f"--continue {folder}: no simulation there (no {MANIFEST})")
    earlier = json.loads(manifest_path.read_text())
    cfg = config or load_config()
    if earlier["interval_minutes"] != cfg.fleet.telemetry.interval_minutes:
        raise SimulationError(
            f"--continue {folder}: simulated every {earlier['interval_minutes']} min, but "
            f"fleet.yaml now says {cfg.fleet.telemetry.interval_minutes}"
        )
    request = SimulationRequest(
        output=folder.resolve().parent / f".{folder.name}.continued",
        compressors=None if earlier["demo"] else earlier["compressors"],
        days=days,
        seed=earlier["seed"],
        start=datetime.fromisoformat(earlier["start"]),
        demo=earlier["demo"],
        workers=workers,
        before=tuple(earlier.get("segments", [earlier["days"]])),
    )
    summary = simulate(request, cfg, on_progress)
    staged = request.output
    try:
        for new in [
            *sorted((staged / "telemetry").rglob("*.parquet")),
            *sorted((staged / "truth" / "dirt").glob("*.parquet")),
            *sorted((staged / "truth" / "emissions").glob("*.parquet")),
        ]:
            target = folder / new.relative_to(staged)
            if target.exists():
                raise SimulationError(f"--continue {folder}: {target} exists already")
            target.parent.mkdir(parents=True, exist_ok=True)
            new.rename(target)
        for name in REPLACED_ON_CONTINUE:
            (staged / name).replace(folder / name)
        manifest = json.loads((staged / MANIFEST).read_text())
        manifest["rows"] += earlier["rows"]
        manifest["dirt"] = {
            k: earlier["dirt"].get(k, 0) + manifest["dirt"].get(k, 0)
            for k in sorted({*earlier["dirt"], *manifest["dirt"]})
        }
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    paths = {k: str(folder / Path(v).relative_to(staged)) for k, v in summary.paths.items()}
    return summary.model_copy(update={"paths": paths})


def plan_chunks(slots: int, units: int, slots_per_day: int) -> list[Chunk]:
    """Day-long blocks of slots; a fleet too large for one block per day is split by units.

    >>> [(c.first_slot, c.slots) for c in plan_chunks(600, 10, 288)]
    [(0, 288), (288, 288), (576, 24)]
    """
    groups = max(1, -(-units * slots_per_day // MAX_ROWS_PER_CHUNK))
    bounds = np.linspace(0, units, groups + 1).round().astype(int)
    chunks = []
    for first in range(0, slots, slots_per_day):
        for g in range(groups):
            chunks.append(
                Chunk(
                    index=first // slots_per_day,
                    first_slot=first,
                    slots=min(slots_per_day, slots - first),
                    first_unit=int(bounds[g]),
                    units=int(bounds[g + 1] - bounds[g]),
                )
            )
    return chunks


def _paths(out: Path) -> dict[str, str]:
    return {
        "telemetry": str(out / "telemetry"),
        "metadata": str(out / "compressor_metadata.parquet"),
        "stations": str(out / "stations.parquet"),
        "maintenance": str(out / "maintenance_events.parquet"),
        "packing": str(out / "packing_measurements.parquet"),
        "truth": str(out / "truth"),
    }


def _write_chunks(
    ctx: RunContext,
    chunks: list[Chunk],
    out: Path,
    workers: int | None,
    on_progress: Callable[[int, int], None] | None,
    tail_until: int | None = None,
) -> dict:
    """Write the chunks' telemetry by landing date and their dirt; a chunk starting before
    ``tail_until`` (an earlier run's last day) gives only its readings arriving after it."""
    dirt_dir = out / "truth" / "dirt"
    dirt_dir.mkdir(parents=True)
    truth_dir = out / "truth" / "emissions"
    truth_dir.mkdir(parents=True)

    def work(chunk: Chunk) -> tuple[int, dict[str, int]]:
        data = generate_chunk(ctx, chunk)
        name = f"part-{chunk.index:05d}-{chunk.first_unit:07d}.parquet"
        table = data.telemetry
        replay = (
            tail_until is not None and ctx.start_us + chunk.first_slot * ctx.step_us < tail_until
        )
        if replay:
            late = pa.compute.greater_equal(
                table["received_at"].cast(pa.int64()), pa.scalar(tail_until, pa.int64())
            )
            table = table.filter(late)
            name = name.replace(".parquet", "-late.parquet")
        days = pa.compute.divide(
            table["received_at"].cast(pa.int64()), pa.scalar(US_PER_DAY, pa.int64())
        ).to_numpy()
        cuts = np.flatnonzero(np.diff(days)) + 1
        starts = np.r_[0, cuts] if len(days) else np.array([], dtype=int)  # a day all down
        for lo, hi in zip(starts, np.r_[cuts, len(days)] if len(days) else starts, strict=True):
            day = np.datetime64(int(days[lo]), "D")
            folder = out / "telemetry" / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.slice(lo, hi - lo), folder / name, compression="zstd")
        if replay:  # its dirt was recorded with the earlier run
            return table.num_rows, {}
        pq.write_table(data.dirt, dirt_dir / name, compression="zstd")
        pq.write_table(data.truth, truth_dir / name, compression="zstd")
        kinds = pa.compute.value_counts(data.dirt["kind"]).to_pylist()
        return table.num_rows, {k["values"]: k["counts"] for k in kinds}

    rows = 0
    dirt: dict[str, int] = {}
    pool_size = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        for done, (n, kinds) in enumerate(pool.map(work, chunks), start=1):
            rows += n
            for k, v in kinds.items():
                dirt[k] = dirt.get(k, 0) + v
            if on_progress:
                on_progress(done, len(chunks))
    return {"rows": rows, "dirt": dict(sorted(dirt.items()))}


def _write_table(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(frame.to_arrow(), path, compression="zstd")


def _unit_truth(layout: FleetLayout) -> pl.DataFrame:
    """Each unit's healthy baseline: what the simulator drew, for scoring baseline estimates."""
    return pl.DataFrame(
        {
            "compressor_id": layout.compressor_ids,
            "model": [layout.model_names[m] for m in layout.model_of_unit],
            **{f"baseline_{s}": layout.baseline[i] for i, s in enumerate(SENSORS)},
            "diurnal_temp_amplitude_f": layout.diurnal_amplitude,
            "longitude": layout.longitude,
        }
    )


def _episode_counts(failures: pl.DataFrame, start: datetime, end: datetime) -> dict:
    in_run = failures.filter(pl.col("onset_time") < end, pl.col("failure_time") > start)
    critical = in_run.filter(pl.col("critical_time") < end)
    at_start = in_run.filter(pl.col("onset_time") <= start)
    return {
        "degrading": in_run["compressor_id"].n_unique(),
        "critical": critical["compressor_id"].n_unique(),
        "failures": failures.filter(
            pl.col("failure_time").is_between(start, end, closed="left")
        ).height,
        "degrading_at_start": at_start["compressor_id"].n_unique(),
        "critical_at_start": at_start.filter(pl.col("critical_time") <= start)[
            "compressor_id"
        ].n_unique(),
        "modes": {m: in_run.filter(pl.col("failure_mode") == m).height for m in MODES},
    }
