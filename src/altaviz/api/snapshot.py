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
from typing import Any, Protocol

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
    versions: Any  # the source's stamp when loaded
    loaded_at: datetime
    by_unit: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The hot routes' answers, serialised once per snapshot rather than once per request.
    unit_json: dict[str, bytes] = field(default_factory=dict)
    fleet_json: bytes = b"{}"


class Source(Protocol):
    """Where a snapshot comes from: the lakehouse, or the serving database."""

    def stamp(self) -> Any:
        """Something that changes whenever the served data does (cheap to get)."""
        ...

    def frames(self) -> dict[str, pl.DataFrame]:
        """units, latest (newest hourly row per unit), alerts (newest first), predictions
        (newest per unit) and fleet (health of the newest date)."""
        ...


class LakehouseSource:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def stamp(self) -> Any:
        return tuple(self.engine.version(t) for t in TABLES)

    def frames(self) -> dict[str, pl.DataFrame]:
        read = self._read
        latest = predictions = pl.DataFrame()
        hourly_dates = self.engine.partition_values(lake.HOURLY_AGGREGATES)
        if hourly_dates:
            recent = sorted(hourly_dates)[-2:]  # the newest hour of a unit is in these
            latest = read(lake.HOURLY_AGGREGATES, nw.col("date").is_in(recent))
        if self.engine.exists(lake.ML_PREDICTIONS):
            predicted = sorted(self.engine.partition_values(lake.ML_PREDICTIONS))[-2:]
            predictions = read(lake.ML_PREDICTIONS, nw.col("date").is_in(predicted))
        return {
            "units": read(lake.COMPRESSOR_METADATA),
            "latest": _newest(latest),
            "alerts": read(lake.ALERT_HISTORY),
            "predictions": _newest(predictions),
            "fleet": read(lake.FLEET_HEALTH),
        }

    def _read(self, spec: lake.TableSpec, where: nw.Expr | None = None) -> pl.DataFrame:
        return nw.to_native(self.engine.read(spec, where).collect("polars"))


class PostgresSource:
    """The same frames from the serving database (``DATABASE_URL``)."""

    RECENT = (
        "SELECT * FROM {t} WHERE date IN (SELECT DISTINCT date FROM {t} ORDER BY date DESC LIMIT 2)"
    )

    def __init__(self, url: str) -> None:
        from altaviz.serving.database import connect

        self.conn = connect(url)
        self.conn.autocommit = True
        self.conn.execute("SET TIME ZONE 'UTC'")

    def stamp(self) -> Any:
        return self.conn.execute(
            "SELECT (SELECT max(ended_at) FROM pipeline_runs), "
            "(SELECT count(*) FROM alert_history), (SELECT max(hour) FROM hourly_aggregates)"
        ).fetchone()

    def frames(self) -> dict[str, pl.DataFrame]:
        def query(sql: str, spec: lake.TableSpec) -> pl.DataFrame:
            rows = self.conn.execute(sql).fetchall()
            names = spec.schema.names
            return pl.DataFrame(
                [dict(zip(names, r, strict=True)) for r in rows],
                schema=_polars_schema(spec),
                orient="row",
            )

        return {
            "units": query("SELECT * FROM compressor_metadata", lake.COMPRESSOR_METADATA),
            "latest": _newest(
                query(self.RECENT.format(t="hourly_aggregates"), lake.HOURLY_AGGREGATES)
            ),
            "alerts": query("SELECT * FROM alert_history", lake.ALERT_HISTORY),
            "predictions": _newest(
                query(self.RECENT.format(t="ml_predictions"), lake.ML_PREDICTIONS)
            ),
            "fleet": query("SELECT * FROM fleet_health", lake.FLEET_HEALTH),
        }


def _polars_schema(spec: lake.TableSpec) -> dict[str, Any]:
    return spec.schema.polars()


def _newest(frame: pl.DataFrame) -> pl.DataFrame:
    """The newest row of each unit."""
    if not frame.height:
        return frame
    return frame.sort("compressor_id", "hour").group_by("compressor_id", maintain_order=True).last()


class SnapshotStore:
    """The current snapshot, reloaded when its source changes."""

    def __init__(self, source: Source, refresh_seconds: float = 30.0) -> None:
        self.source = source
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
                    if self.source.stamp() != self._snapshot.versions:
                        self._snapshot = self._load()
        return self._snapshot

    def _load(self) -> Snapshot:
        stamp = self.source.stamp()
        f = self.source.frames()
        fleet = f["fleet"]
        if fleet.height:
            fleet = fleet.filter(pl.col("date") == fleet["date"].max()).sort("basin")
        snapshot = Snapshot(
            units=f["units"].sort("compressor_id"),
            latest=f["latest"],
            alerts=f["alerts"].sort(["opened_at", "alert_id"], descending=[True, False])
            if f["alerts"].height
            else f["alerts"],
            predictions=f["predictions"],
            fleet=fleet,
            versions=stamp,
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


def _json(value: Any) -> bytes:
    from fastapi.encoders import jsonable_encoder

    encoded = jsonable_encoder(value, custom_encoder={datetime: rfc3339})
    return json.dumps(encoded, separators=(",", ":")).encode("utf-8")


def rfc3339(moment: datetime) -> str:
    """A moment as every route writes it: RFC 3339, UTC as ``Z`` (as Pydantic does).

    >>> from datetime import UTC
    >>> rfc3339(datetime(2026, 3, 1, 6, 5, tzinfo=UTC))
    '2026-03-01T06:05:00Z'
    """
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


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
