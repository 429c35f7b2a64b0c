"""The five read-only tools' data, behind one small interface (a PostgreSQL backend can
implement the same), and compressor-ID validation.

Values are filtered with expressions on typed columns, never spliced into query text, and an
ID must match the fleet's format and be registered before any data is read.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Protocol

import narwhals as nw

from altaviz.config import AppConfig
from altaviz.core.days import dates_between
from altaviz.core.errors import InputError, NotFoundError, quoted
from altaviz.core.sensors import SENSORS
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.transforms.bronze import compressor_id_pattern

Row = dict[str, Any]


READING_COLUMNS = (
    "hour",
    *(f"{s}_{stat}" for s in SENSORS for stat in ("mean", "max", "std")),
    *(f"{s}_status" for s in SENSORS),
    "pressure_differential_psi",
    "temp_rate_of_change_f_per_h",
    "gas_flow_mcf_trend_per_day",
    "discharge_pressure_psi_trend_per_day",
    "reading_count",
    "worst_status",
)
"""What ``latest_readings`` returns of each hourly row."""

ALERT_COLUMNS = (
    "alert_id",
    "alert_type",
    "sensor",
    "severity",
    "state",
    "opened_at",
    "resolved_at",
    "trigger_value",
    "peak_value",
    "limit_value",
    "message",
)
"""What ``alert_history`` returns of each alert."""


class CompressorIdError(InputError):
    """Not a compressor ID of this fleet's format."""


class UnknownCompressor(NotFoundError):
    """A well-formed ID that is not in the registered fleet."""


def check_id(value: str, config: AppConfig) -> str:
    """``value`` if it is a compressor ID in the fleet's format, else :class:`CompressorIdError`.

    >>> from altaviz.config import load_config
    >>> check_id("COMP-0003", load_config())
    'COMP-0003'
    >>> try:
    ...     check_id("COMP-3'; DROP TABLE x; --", load_config())
    ... except CompressorIdError as exc:
    ...     print(str(exc)[:40])
    "COMP-3'; DROP TABLE x; --" is not a com
    """
    fleet = config.fleet.telemetry
    if not isinstance(value, str) or not re.fullmatch(
        compressor_id_pattern(fleet.id_prefix, fleet.id_min_digits), value
    ):
        raise CompressorIdError(
            f"{quoted(value)} is not a compressor ID (expected {fleet.id_prefix} and at least "
            f"{fleet.id_min_digits} digits, e.g. {fleet.id_prefix}{3:0{fleet.id_min_digits}d})"
        )
    return value


class DiagnosticsData(Protocol):
    """What the diagnosticians may read about one unit (read-only)."""

    def compressor(self, compressor_id: str) -> Row:
        """Metadata, station and the unit's healthy baseline (median per sensor)."""
        ...

    def latest_readings(self, compressor_id: str, hours: int = 24) -> list[Row]:
        """Gold hourly rows of the unit's last ``hours`` hours, oldest first."""
        ...

    def alert_history(self, compressor_id: str, days: int = 7) -> list[Row]:
        """Alerts opened in the last ``days`` days (or still open), newest first."""
        ...

    def predictions(self, compressor_id: str, hours: int = 24) -> list[Row]:
        """Model predictions of the last ``hours`` hours, newest first."""
        ...

    def maintenance_history(self, compressor_id: str, limit: int = 10) -> list[Row]:
        """The latest maintenance events, newest first."""
        ...


class LakehouseData:
    """:class:`DiagnosticsData` read from the lakehouse (the embedded default)."""

    def __init__(self, engine: Engine, config: AppConfig) -> None:
        self.engine, self.config = engine, config

    def _registered(self, compressor_id: str) -> Row:
        check_id(compressor_id, self.config)
        if not self.engine.exists(lake.COMPRESSOR_METADATA):
            raise NotFoundError(
                f"no lakehouse at {self.engine.location.root} (run `altaviz pipeline` first)"
            )
        rows = (
            self.engine.read(lake.COMPRESSOR_METADATA, nw.col("compressor_id") == compressor_id)
            .collect("polars")
            .rows(named=True)
        )
        if not rows:
            raise UnknownCompressor(f"{quoted(compressor_id)} is not in the registered fleet")
        return rows[0]

    def _as_of(self, compressor_id: str) -> datetime | None:
        """A registered unit's latest hour in gold: 'now' for its data (a backfill is judged
        fairly)."""
        self._registered(compressor_id)
        return (
            self.engine.read(lake.HOURLY_AGGREGATES, nw.col("compressor_id") == compressor_id)
            .select(nw.col("hour").max())
            .collect("polars")
            .item()
        )

    def compressor(self, compressor_id: str) -> Row:
        unit = self._registered(compressor_id)
        stations = (
            self.engine.read(lake.STATIONS, nw.col("station_id") == unit["station_id"])
            .collect("polars")
            .rows(named=True)
        )
        bands = self.engine.read(
            lake.UNIT_BASELINES, nw.col("compressor_id") == compressor_id
        ).collect("polars")
        # The unit's current band: the one learned after its latest repair.
        baseline = bands.filter(nw.col("valid_from") == nw.col("valid_from").max()).rows(named=True)
        return compressor_record(unit, stations, baseline)

    def latest_readings(self, compressor_id: str, hours: int = 24) -> list[Row]:
        latest = self._as_of(compressor_id)
        if latest is None:
            return []
        since = latest - timedelta(hours=hours - 1)
        days = dates_between(since.date(), latest.date())
        columns = list(READING_COLUMNS)
        return (
            self.engine.read(
                lake.HOURLY_AGGREGATES,
                (nw.col("compressor_id") == compressor_id) & nw.col("date").is_in(days),
            )
            .filter(nw.col("hour") >= since)
            .select(columns)
            .sort("hour")
            .collect("polars")
            .rows(named=True)
        )

    def alert_history(self, compressor_id: str, days: int = 7) -> list[Row]:
        latest = self._as_of(compressor_id)
        if latest is None:
            return []
        since = latest - timedelta(days=days)
        return (
            self.engine.read(lake.ALERT_HISTORY, nw.col("compressor_id") == compressor_id)
            .filter((nw.col("opened_at") >= since) | (nw.col("state") == "open"))
            .select(*ALERT_COLUMNS)
            .sort("opened_at", "alert_id", descending=[True, False])
            .collect("polars")
            .rows(named=True)
        )

    def predictions(self, compressor_id: str, hours: int = 24) -> list[Row]:
        self._registered(compressor_id)
        if not self.engine.exists(lake.ML_PREDICTIONS):
            return []
        latest = self._as_of(compressor_id)
        if latest is None:
            return []
        since = latest - timedelta(hours=hours)
        return (
            self.engine.read(
                lake.ML_PREDICTIONS,
                (nw.col("compressor_id") == compressor_id)
                & nw.col("date").is_in(dates_between(since.date(), latest.date())),
            )
            .filter(nw.col("hour") >= since)
            .drop("run_id", "date")
            .sort("hour", descending=True)
            .collect("polars")
            .rows(named=True)
        )

    def maintenance_history(self, compressor_id: str, limit: int = 10) -> list[Row]:
        self._registered(compressor_id)
        return (
            self.engine.read(lake.MAINTENANCE_EVENTS, nw.col("compressor_id") == compressor_id)
            .sort("started_at", "event_id", descending=[True, False])
            .head(limit)
            .collect("polars")
            .rows(named=True)
        )


def compressor_record(unit: Row, stations: list[Row], baseline: list[Row]) -> Row:
    """The ``compressor`` tool's answer, the same from every backend."""
    return {
        **unit,
        "station": stations[0] if stations else None,
        "baseline_median": {b["sensor"]: b["p50"] for b in baseline},
    }
