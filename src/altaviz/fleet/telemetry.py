"""Telemetry for one chunk of the run (a block of reading slots for a block of units).

Everything here is vectorised over the (slot, unit) grid: healthy baseline, ambient swing,
degradation, offline windows, measurement noise, then the dirt a real collector sees
(glitches, dropouts, duplicates, late arrivals). Each chunk draws from its own random stream,
so chunks can be generated in any order, in parallel, and still give identical files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from altaviz.config.schema import EmissionFactors, FleetConfig
from altaviz.core.sensors import SENSORS
from altaviz.fleet.emission_truth import hourly_truth, leak_scfm
from altaviz.fleet.episodes import US_PER_DAY, US_PER_HOUR, Episodes
from altaviz.fleet.failure_modes import DISCHARGE, FLOW, HP, MODES, SUCTION, TEMP, VIB, progression
from altaviz.fleet.layout import FleetLayout
from altaviz.fleet.maintenance import ServiceWindows
from altaviz.fleet.standby import StandbyWindows

UTC_US = pa.timestamp("us", tz="UTC")

TELEMETRY_SCHEMA = pa.schema(
    [
        pa.field("timestamp", UTC_US, nullable=False),
        pa.field("compressor_id", pa.string(), nullable=False),
        *(pa.field(s, pa.float64()) for s in SENSORS),
        pa.field("received_at", UTC_US, nullable=False),
    ]
)
"""Raw telemetry as a collector delivers it: the reading's own clock and its arrival time."""

DIRT_SCHEMA = pa.schema(
    [
        pa.field("compressor_id", pa.string(), nullable=False),
        pa.field("timestamp", UTC_US, nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("sensor", pa.string()),
        pa.field("clean_value", pa.float64()),
        pa.field("value", pa.float64()),
        pa.field("received_at", UTC_US),
    ]
)
"""Ground truth of every injected defect: glitch, sensor_dropout, reading_dropout, duplicate,
late, and process_spike (a real, short temperature spike of a fouling unit)."""


@dataclass(frozen=True)
class Chunk:
    index: int
    first_slot: int
    slots: int
    first_unit: int
    units: int


@dataclass(frozen=True)
class RunContext:
    """Everything a chunk needs, shared read-only between worker threads."""

    config: FleetConfig
    layout: FleetLayout
    episodes: Episodes
    service: ServiceWindows
    standby: StandbyWindows
    factors: EmissionFactors
    packing_scfm: np.ndarray  # each unit's healthy packing vent flow per cylinder
    cylinders: np.ndarray
    start_us: int
    end_us: int
    step_us: int
    late_after_us: int
    seed: int
    ids: pa.Array


@dataclass(frozen=True)
class ChunkData:
    telemetry: pa.Table  # sorted by received_at
    dirt: pa.Table
    truth: pa.Table  # emissions and operating modes per unit and hour


def generate_chunk(ctx: RunContext, chunk: Chunk) -> ChunkData:
    """Telemetry and dirt truth for one chunk."""
    rng = np.random.default_rng([ctx.seed, 0xC4_0A7A, chunk.index, chunk.first_unit])
    cfg = ctx.config
    t_count, n = chunk.slots, chunk.units
    units = np.arange(chunk.first_unit, chunk.first_unit + n)
    ts = ctx.start_us + (chunk.first_slot + np.arange(t_count, dtype=np.int64)) * ctx.step_us

    values = np.empty((len(SENSORS), t_count, n))
    values[:] = ctx.layout.baseline[:, None, units]
    # Ambient swing on discharge temperature, peaking mid-afternoon local solar time.
    solar_hours = (ts % US_PER_DAY)[:, None] / US_PER_HOUR + ctx.layout.longitude[None, units] / 15
    values[TEMP] += ctx.layout.diurnal_amplitude[None, units] * np.sin(
        2 * np.pi * (solar_hours - 9.0) / 24.0
    )

    offline = np.zeros((t_count, n), dtype=bool)
    fouling_cells = _degrade(ctx, units, ts, values, offline)
    _mark_service(ctx, units, ts, offline)
    standby = _stand_by(ctx, units, ts, values)
    worn = leak_scfm(cfg, ctx.episodes, ctx.layout.baseline, units, ts)
    mode = np.where(offline, 2, np.where(standby, 1, 0))
    truth = hourly_truth(
        cfg,
        ctx.factors,
        ctx.ids,
        units,
        ts,
        ctx.step_us,
        values,
        mode,
        ctx.packing_scfm,
        ctx.cylinders,
        worn,
    )

    flat = values.reshape(len(SENSORS), -1)
    noise = rng.standard_normal(flat.shape, dtype=np.float32)
    noise *= cfg.telemetry.noise_fraction
    noise += 1.0
    flat *= noise
    del noise

    dirt: list[dict[str, np.ndarray]] = []
    _fouling_spikes(ctx, rng, fouling_cells, n, flat, dirt, ts, units)

    keep = np.flatnonzero(~offline.ravel())
    rows_t, rows_u = np.divmod(keep, n)
    sensors = flat[:, keep]
    np.round(sensors, 2, out=sensors)
    event_us = ts[rows_t]
    unit_of = units[rows_u]
    received_us, extra = _inject_dirt(ctx, rng, sensors, event_us, unit_of, dirt)

    event_us = np.concatenate([event_us, event_us[extra.rows]])
    unit_of = np.concatenate([unit_of, unit_of[extra.rows]])
    sensors = np.concatenate([sensors, sensors[:, extra.rows]], axis=1)
    received_us = np.concatenate([received_us, extra.received_us])
    order = np.argsort(received_us, kind="stable")
    columns = {
        "timestamp": pa.array(event_us[order], UTC_US),
        "compressor_id": ctx.ids.take(pa.array(unit_of[order])),
        **{s: pa.array(sensors[i, order], from_pandas=True) for i, s in enumerate(SENSORS)},
        "received_at": pa.array(received_us[order], UTC_US),
    }
    return ChunkData(pa.table(columns, schema=TELEMETRY_SCHEMA), _dirt_table(ctx, dirt), truth)


def _degrade(
    ctx: RunContext, units: np.ndarray, ts: np.ndarray, values: np.ndarray, offline: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply every overlapping episode; mark trip-to-repair downtime offline.

    Returns the (slot, unit, progress) cells of fouling units, which get process spikes.
    """
    ep = ctx.episodes
    u0, n = int(units[0]), len(units)
    idx = ep.overlapping(int(ts[0]), int(ts[-1]) + 1)
    idx = idx[(ep.unit[idx] >= u0) & (ep.unit[idx] < u0 + n)]
    fouling = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    for m, name in enumerate(MODES):
        sel = idx[ep.mode[idx] == m]
        if not sel.size:
            continue
        elapsed = ts[None, :] - ep.onset_us[sel, None]
        p = elapsed / (ep.failure_us[sel] - ep.onset_us[sel])[:, None]
        active = (p >= 0.0) & (p < 1.0)
        e_i, t_i = np.nonzero(active)
        if e_i.size:
            base = ctx.layout.baseline[:, ep.unit[sel]]
            out = progression(
                name,
                ctx.config.failures,
                np.clip(p, 0.0, 1.0),
                elapsed / US_PER_HOUR,
                base,
                ep.failure_level[sel],
                ep.phase[sel],
            )
            u_i = ep.unit[sel][e_i] - u0
            # Added as a change from baseline, so the ambient swing stays on top of it.
            for sensor, v in out.items():
                values[sensor, t_i, u_i] += v[e_i, t_i] - base[sensor, e_i]
            if name == "fouling":
                fouling = (t_i, u_i, p[e_i, t_i])
        down = (ts[None, :] >= ep.failure_us[sel, None]) & (
            ts[None, :] < ep.back_online_us[sel, None]
        )
        e_d, t_d = np.nonzero(down)
        offline[t_d, ep.unit[sel][e_d] - u0] = True
    return fouling


def _mark_service(ctx: RunContext, units: np.ndarray, ts: np.ndarray, offline: np.ndarray) -> None:
    sv = ctx.service
    u0, n = int(units[0]), len(units)
    idx = sv.overlapping(int(ts[0]), int(ts[-1]) + 1)
    idx = idx[(sv.unit[idx] >= u0) & (sv.unit[idx] < u0 + n)]
    if idx.size:
        inside = (ts[None, :] >= sv.start_us[idx, None]) & (ts[None, :] < sv.end_us[idx, None])
        e_i, t_i = np.nonzero(inside)
        offline[t_i, sv.unit[idx][e_i] - u0] = True


def _stand_by(ctx: RunContext, units: np.ndarray, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Put the units' standby spells into ``values``; returns the (slot, unit) standby mask."""
    sb = ctx.standby
    spec = ctx.config.standby
    u0, n = int(units[0]), len(units)
    mask = np.zeros((len(ts), n), dtype=bool)
    idx = sb.overlapping(int(ts[0]), int(ts[-1]) + 1)
    idx = idx[(sb.unit[idx] >= u0) & (sb.unit[idx] < u0 + n)]
    if not idx.size:
        return mask
    inside = (ts[None, :] >= sb.start_us[idx, None]) & (ts[None, :] < sb.end_us[idx, None])
    e_i, t_i = np.nonzero(inside)
    u_i = sb.unit[idx][e_i] - u0
    mask[t_i, u_i] = True
    base = ctx.layout.baseline[:, units[u_i]]
    suction = values[SUCTION, t_i, u_i]
    values[DISCHARGE, t_i, u_i] = suction + spec.settle_out_fraction * (
        values[DISCHARGE, t_i, u_i] - suction
    )
    values[HP, t_i, u_i] = 0.0
    values[FLOW, t_i, u_i] = 0.0
    values[VIB, t_i, u_i] = base[VIB] * spec.vibration_fraction
    # Cooled towards the ground, keeping the day's ambient swing.
    values[TEMP, t_i, u_i] += float(np.mean(spec.discharge_temp_f)) - base[TEMP]
    return mask


def _fouling_spikes(
    ctx: RunContext,
    rng: np.random.Generator,
    cells: tuple[np.ndarray, np.ndarray, np.ndarray],
    n: int,
    flat: np.ndarray,
    dirt: list[dict[str, np.ndarray]],
    ts: np.ndarray,
    units: np.ndarray,
) -> None:
    """Fouling shows short, real temperature spikes that grow as the cooler clogs."""
    t_i, u_i, p = cells
    if not t_i.size:
        return
    prm = ctx.config.failures.params("fouling")
    hit = rng.random(t_i.size) < prm.spike_probability
    t_i, u_i, p = t_i[hit], u_i[hit], p[hit]
    cell = t_i * n + u_i
    clean = flat[TEMP, cell].copy()
    flat[TEMP, cell] += rng.uniform(*prm.spike_f, t_i.size) * (0.5 + p)
    dirt.append(
        _dirt_rows(
            "process_spike", units[u_i], ts[t_i], "discharge_temp_f", clean, flat[TEMP, cell]
        )
    )


@dataclass(frozen=True)
class _Extra:
    rows: np.ndarray
    received_us: np.ndarray


def _inject_dirt(
    ctx: RunContext,
    rng: np.random.Generator,
    sensors: np.ndarray,
    event_us: np.ndarray,
    unit_of: np.ndarray,
    dirt: list[dict[str, np.ndarray]],
) -> tuple[np.ndarray, _Extra]:
    spec = ctx.config.dirt
    m = event_us.size
    k = len(SENSORS)

    def pick(share: float) -> np.ndarray:
        return np.flatnonzero(rng.random(m, dtype=np.float32) < share)

    rows = pick(spec.glitch_share)
    which = rng.integers(0, k, rows.size)
    size = rng.uniform(*spec.glitch_size, rows.size) * rng.choice([-1.0, 1.0], rows.size)
    clean = sensors[which, rows].copy()
    sensors[which, rows] = np.round(clean * (1.0 + size), 2)
    dirt.append(
        _dirt_rows("glitch", unit_of[rows], event_us[rows], which, clean, sensors[which, rows])
    )

    rows = pick(spec.sensor_dropout_share)
    which = rng.integers(0, k, rows.size)
    clean = sensors[which, rows].copy()
    sensors[which, rows] = np.nan
    dirt.append(_dirt_rows("sensor_dropout", unit_of[rows], event_us[rows], which, clean, None))

    rows = pick(spec.reading_dropout_share)
    sensors[:, rows] = np.nan
    dirt.append(_dirt_rows("reading_dropout", unit_of[rows], event_us[rows], None, None, None))

    received = event_us + np.round(rng.uniform(*spec.latency_seconds, m) * 1e6).astype(np.int64)
    rows = pick(spec.late_share)
    delay = np.round(rng.uniform(*spec.late_delay_minutes, rows.size) * 60e6).astype(np.int64)
    # Nothing arrives after the run ends: the end of a run is "now".
    received[rows] = np.minimum(event_us[rows] + delay, ctx.end_us - 1)
    late = rows[received[rows] - event_us[rows] > ctx.late_after_us]
    dirt.append(_dirt_rows("late", unit_of[late], event_us[late], None, None, None, received[late]))

    rows = pick(spec.duplicate_share)
    again = np.round(rng.uniform(*spec.duplicate_delay_seconds, rows.size) * 1e6).astype(np.int64)
    dup_received = np.minimum(received[rows] + again, ctx.end_us - 1)
    dirt.append(
        _dirt_rows("duplicate", unit_of[rows], event_us[rows], None, None, None, dup_received)
    )
    return received, _Extra(rows, dup_received)


def _dirt_rows(
    kind: str,
    unit: np.ndarray,
    event_us: np.ndarray,
    sensor: np.ndarray | str | None,
    clean: np.ndarray | None,
    value: np.ndarray | None,
    received_us: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    n = unit.size
    if isinstance(sensor, np.ndarray):
        names = np.array(SENSORS, dtype=object)[sensor]
    else:
        names = np.full(n, sensor, dtype=object)
    nan = np.full(n, np.nan)
    return {
        "unit": unit,
        "timestamp": event_us,
        "kind": np.full(n, kind, dtype=object),
        "sensor": names,
        "clean_value": nan if clean is None else clean,
        "value": nan if value is None else np.asarray(value, dtype=float),
        "received_at": np.full(n, -1, np.int64) if received_us is None else received_us,
    }


def _dirt_table(ctx: RunContext, parts: list[dict[str, np.ndarray]]) -> pa.Table:
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else None
    if cols is None or not cols["unit"].size:
        return DIRT_SCHEMA.empty_table()
    order = np.lexsort((cols["unit"], cols["timestamp"]))
    received = cols["received_at"][order]
    return pa.table(
        {
            "compressor_id": ctx.ids.take(pa.array(cols["unit"][order])),
            "timestamp": pa.array(cols["timestamp"][order], UTC_US),
            "kind": pa.array(cols["kind"][order], pa.string()),
            "sensor": pa.array(cols["sensor"][order], pa.string()),
            "clean_value": pa.array(cols["clean_value"][order], from_pandas=True),
            "value": pa.array(cols["value"][order], from_pandas=True),
            "received_at": pa.array(received, UTC_US, mask=received < 0),
        },
        schema=DIRT_SCHEMA,
    )
