"""What the API serves, held in memory: the fleet, the latest hourly row of each unit, the
alert history, the latest predictions and fleet health - reloaded from the lakehouse when a
table's Delta version moves (checked at most every ``refresh_seconds``).

Requests then filter small in-memory frames instead of scanning Delta tables, which is what
keeps ``/fleet`` and ``/compressors/{id}`` within milliseconds under concurrent clients.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.engines import Engine
from altaviz.lake import catalog as lake

TABLES = (
    lake.COMPRESSOR_METADATA,
    lake.HOURLY_AGGREGATES,
    lake.ALERT_HISTORY,
    lake.ML_PREDICTIONS,
    lake.FLEET_HEALTH,
)


@dataclass
class Snapshot:
    units: pl.DataFrame
    latest: pl.DataFrame  # the newest hourly row per unit
    alerts: pl.DataFrame
    predictions: pl.DataFrame  # the newest prediction per unit
    fleet: pl.DataFrame  # fleet health of the newest date
    versions: dict[str, int | None]
    loaded_at: datetime
    by_unit: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The hot routes' answers, serialised once per snapshot rather than once per request.
    unit_json: dict[str, bytes] = field(default_factory=dict)
    fleet_json: bytes = b"{}"


class SnapshotStore:
    """The current snapshot, reloaded when the lakehouse changes."""

    def __init__(self, engine: Engine, refresh_seconds: float = 30.0) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._checked = 0.0
        self._snapshot = self._load()

    def get(self) -> Snapshot:
        now = time.monotonic()
        if now - self._checked >= self.refresh_seconds:
            with self._lock:
                if now - self._checked >= self.refresh_seconds:
                    self._checked = now
                    if self._versions() != self._snapshot.versions:
                        self._snapshot = self._load()
        return self._snapshot

    def _versions(self) -> dict[str, int | None]:
        return {t.name: self.engine.version(t) for t in TABLES}

    def _load(self) -> Snapshot:
        versions = self._versions()
        read = self._read
        units = read(lake.COMPRESSOR_METADATA).sort("compressor_id")
        hourly_dates = self.engine.partition_values(lake.HOURLY_AGGREGATES)
        latest = pl.DataFrame()
        if hourly_dates:
            recent = sorted(hourly_dates)[-2:]  # the newest hour of a unit is in these
            latest = (
                read(lake.HOURLY_AGGREGATES, nw.col("date").is_in(recent))
                .sort("hour")
                .group_by("compressor_id")
                .last()
            )
        predictions = pl.DataFrame()
        if self.engine.exists(lake.ML_PREDICTIONS):
            predicted = sorted(self.engine.partition_values(lake.ML_PREDICTIONS))[-2:]
            predictions = (
                read(lake.ML_PREDICTIONS, nw.col("date").is_in(predicted))
                .sort("hour")
                .group_by("compressor_id")
                .last()
            )
        fleet = read(lake.FLEET_HEALTH)
        if fleet.height:
            fleet = fleet.filter(pl.col("date") == fleet["date"].max()).sort("basin")
        snapshot = Snapshot(
            units=units,
            latest=latest,
            alerts=read(lake.ALERT_HISTORY).sort("opened_at", descending=True),
            predictions=predictions,
            fleet=fleet,
            versions=versions,
            loaded_at=datetime.now().astimezone(),
        )
        snapshot.by_unit = _index(snapshot)
        snapshot.unit_json = {u: _json(v) for u, v in snapshot.by_unit.items()}
        snapshot.fleet_json = _json(
            {
                "date": fleet["date"].max() if fleet.height else None,
                "basins": fleet.to_dicts(),
            }
        )
        return snapshot

    def _read(self, spec: lake.TableSpec, where: nw.Expr | None = None) -> pl.DataFrame:
        return nw.to_native(self.engine.read(spec, where).collect())


def _json(value: Any) -> bytes:
    from fastapi.encoders import jsonable_encoder

    return json.dumps(jsonable_encoder(value), separators=(",", ":")).encode("utf-8")


def _index(s: Snapshot) -> dict[str, dict[str, Any]]:
    """Per unit: its metadata, latest readings, open alerts and latest prediction."""
    latest = (
        {r["compressor_id"]: r for r in s.latest.iter_rows(named=True)} if s.latest.height else {}
    )
    predicted = (
        {r["compressor_id"]: r for r in s.predictions.iter_rows(named=True)}
        if s.predictions.height
        else {}
    )
    open_alerts: dict[str, list[dict[str, Any]]] = {}
    if s.alerts.height:
        for r in s.alerts.filter(pl.col("state") == "open").iter_rows(named=True):
            open_alerts.setdefault(r["compressor_id"], []).append(r)
    return {
        u["compressor_id"]: {
            "compressor": u,
            "latest_readings": latest.get(u["compressor_id"]),
            "open_alerts": open_alerts.get(u["compressor_id"], []),
            "prediction": predicted.get(u["compressor_id"]),
        }
        for u in s.units.iter_rows(named=True)
    }
