"""A unit's chart data: hourly means with their min/max band from gold (5-minute readings
from silver for a one-day view), its effective limits and learned band, alert and
maintenance markers, and the models' lines - one JSON document the unit page draws.

Reads prune by partition (the unit's region and the dates shown) and read only the columns
drawn, which is what keeps a 30-day chart within its budget on a 4,700-unit lakehouse.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.config import AppConfig
from altaviz.core.frames import local
from altaviz.core.sensors import SENSORS
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.transforms.limits import LEVELS, unit_limits
from altaviz.transforms.repairs import current_baselines, repairs_from

SPANS = {1: "1 day", 7: "7 days", 30: "30 days"}
MODEL_LINES = ("anomaly_score", "rul_hours", "drift_hours_to_critical")
PACKING_LINES = ("packing_vent_scfm_per_cylinder", "packing_vent_uncertainty_scfm")


def unit_charts(
    engine: Engine,
    config: AppConfig,
    unit: dict[str, Any],
    context: UnitContext,
    days: int,
    until: datetime,
) -> dict[str, Any]:
    """The charts of ``unit`` (a ``compressor_metadata`` row) for the ``days`` up to ``until``
    (the newest hour on record)."""
    start = until - timedelta(days=days) + timedelta(hours=1)
    where = (
        (nw.col("compressor_id") == unit["compressor_id"])
        & (nw.col("date") >= start.date())
        & (nw.col("date") <= until.date())
    )
    hourly_columns = [f"{s}_{stat}" for s in SENSORS for stat in ("mean", "min", "max")]
    reads = {
        "hourly": (
            lake.HOURLY_AGGREGATES,
            where & (nw.col("region") == unit["region"]),
            ["hour", *hourly_columns],
        ),
        "predictions": (lake.ML_PREDICTIONS, where, ["hour", *MODEL_LINES]),
        "emissions": (lake.EMISSIONS_ESTIMATES, where, ["hour", *PACKING_LINES]),
        "packing": (
            lake.PACKING_MEASUREMENTS,
            nw.col("compressor_id") == unit["compressor_id"],
            ["measured_at", "kind", "vent_scfm"],
        ),
    }
    if days == 1:
        reads["readings"] = (lake.SENSOR_CLEANED, where, ["timestamp", *SENSORS])
    # The reads are independent and Polars scans without the GIL: run them side by side.
    with ThreadPoolExecutor(max_workers=len(reads)) as pool:
        running = {name: pool.submit(_read, engine, *read) for name, read in reads.items()}
        found = {name: future.result() for name, future in running.items()}
    hourly = found["hourly"].filter(pl.col("hour") >= start).sort("hour")
    predictions = found["predictions"].filter(pl.col("hour") >= start).sort("hour")
    charts: dict[str, Any] = {
        "unit": unit["compressor_id"],
        "days": days,
        "from": start.timestamp(),
        "until": (until + timedelta(hours=1)).timestamp(),
        "hours": _epochs(hourly["hour"]),
        "sensors": {},
        "readings": None,
        "models": {
            "x": _epochs(predictions["hour"]),
            **{c: _floats(predictions[c]) for c in MODEL_LINES},
        },
        "alerts": _alert_marks(context.alerts, start),
        "maintenance": _maintenance_marks(context.maintenance, start),
        "packing": _packing(found["emissions"], found["packing"], start, config),
    }
    for s in SENSORS:
        charts["sensors"][s] = {
            "unit": config.thresholds.sensors[s].unit if s in config.thresholds.sensors else "",
            "mean": _floats(hourly[f"{s}_mean"]),
            "min": _floats(hourly[f"{s}_min"]),
            "max": _floats(hourly[f"{s}_max"]),
            "limits": context.limits.get(s, {}),
        }
    if days == 1:
        readings = found["readings"].filter(pl.col("timestamp") >= start).sort("timestamp")
        charts["readings"] = {
            "x": _epochs(readings["timestamp"]),
            **{s: _floats(readings[s]) for s in SENSORS},
        }
    return charts


@dataclass(frozen=True)
class UnitContext:
    """What a unit's charts draw besides its readings: its alerts, maintenance and limits."""

    alerts: pl.DataFrame
    maintenance: pl.DataFrame
    limits: dict[str, dict[str, float | None]]


def _read(engine: Engine, spec: lake.TableSpec, where: nw.Expr, columns: list[str]) -> pl.DataFrame:
    if not engine.exists(spec):
        return pl.DataFrame(schema={c: spec.schema.polars()[c] for c in columns})
    return nw.to_native(local(engine.read(spec, where).select(*columns)))


def fleet_limits(
    engine: Engine,
    config: AppConfig,
    units: pl.DataFrame,
    maintenance: pl.DataFrame,
    until: datetime,
) -> dict[str, dict[str, dict[str, float | None]]]:
    """Every unit's effective limits per sensor and its learned band (p05..p95) since its
    last repair: ``{unit: {sensor: {level: value}}}``. Computed for the whole fleet at once
    (the web app keeps it until the tables change)."""
    if not units.height or not engine.exists(lake.UNIT_BASELINES):
        return {}
    baselines = local(engine.read(lake.UNIT_BASELINES))
    repairs = repairs_from(nw.from_native(maintenance))
    current = current_baselines(baselines, repairs, until)
    limits = nw.to_native(
        unit_limits(
            nw.from_native(units.select("compressor_id", "model")), current, config.thresholds
        )
    )
    bands = nw.to_native(current)
    band = {(r["compressor_id"], r["sensor"]): r for r in bands.iter_rows(named=True)}
    found: dict[str, dict[str, dict[str, float | None]]] = {}
    for row in limits.iter_rows(named=True):
        unit = row["compressor_id"]
        found[unit] = {}
        for s in SENSORS:
            found[unit][s] = {level: row.get(f"{s}__{level}") for level in LEVELS}
            if (unit, s) in band:
                found[unit][s] |= {
                    "band_low": band[unit, s]["p05"],
                    "band_high": band[unit, s]["p95"],
                }
    return found


def _alert_marks(alerts: pl.DataFrame, start: datetime) -> list[dict[str, Any]]:
    shown = alerts.filter(pl.col("resolved_at").is_null() | (pl.col("resolved_at") >= start)).sort(
        "opened_at"
    )
    return [
        {
            "at": r["opened_at"].timestamp(),
            "resolved": r["resolved_at"].timestamp() if r["resolved_at"] else None,
            "severity": r["severity"],
            "sensor": r["sensor"],
            "type": r["alert_type"],
            "message": r["message"],
        }
        for r in shown.iter_rows(named=True)
    ]


def _maintenance_marks(events: pl.DataFrame, start: datetime) -> list[dict[str, Any]]:
    if not events.height:
        return []
    shown = events.filter(pl.col("completed_at").fill_null(pl.col("started_at")) >= start)
    return [
        {
            "at": r["started_at"].timestamp(),
            "type": r["event_type"],
            "description": r["description"],
        }
        for r in shown.sort("started_at").iter_rows(named=True)
    ]


def _packing(
    estimates: pl.DataFrame, records: pl.DataFrame, start: datetime, config: AppConfig
) -> dict[str, Any]:
    """The estimated rod-packing vent per cylinder with its one-sigma band, the OOOOb limit,
    and the unit's measurements (highest cylinder) and replacements in the span."""
    rows = estimates.filter(pl.col("hour") >= start).sort("hour")
    vent, sd = rows["packing_vent_scfm_per_cylinder"], rows["packing_vent_uncertainty_scfm"]
    shown = (
        records.filter(pl.col("measured_at") >= start)
        .group_by("measured_at", "kind")
        .agg(pl.col("vent_scfm").max())
        .sort("measured_at")
    )
    return {
        "x": _epochs(rows["hour"]),
        "vent": _floats(vent),
        "low": _floats((vent - sd.fill_null(0)).clip(lower_bound=0)),
        "high": _floats(vent + sd.fill_null(0)),
        "limit": config.models.emissions.packing_vent_limit_scfm_per_cylinder,
        "records": [
            {"at": r["measured_at"].timestamp(), "kind": r["kind"], "scfm": r["vent_scfm"]}
            for r in shown.iter_rows(named=True)
        ],
    }


def _epochs(column: pl.Series) -> list[float]:
    return (column.dt.epoch("ms") / 1000.0).to_list()


def _floats(column: pl.Series) -> list[float | None]:
    return column.cast(pl.Float64).round(4).to_list()
