"""The five tools' data from the PostgreSQL serving database (``DATABASE_URL``): the same
interface and the same answers as :class:`~altaviz.agent.data.LakehouseData`, from the tables
the pipeline exports there. Every query is parameterised."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from altaviz.agent.data import (
    ALERT_COLUMNS,
    READING_COLUMNS,
    Row,
    UnknownCompressor,
    check_id,
    compressor_record,
)
from altaviz.config import AppConfig
from altaviz.core.errors import quoted
from altaviz.lake import catalog as lake
from altaviz.serving.database import connect
from altaviz.serving.schema import quote

PREDICTION_COLUMNS = tuple(
    c for c in lake.ML_PREDICTIONS.schema.names if c not in ("run_id", "date")
)


class PostgresData:
    """:class:`~altaviz.agent.data.DiagnosticsData` read from the serving database."""

    def __init__(self, url: str, config: AppConfig) -> None:
        from psycopg.rows import dict_row

        self.config = config
        self.conn = connect(url)
        self.conn.row_factory = dict_row
        self.conn.execute("SET TIME ZONE 'UTC'")

    def close(self) -> None:
        self.conn.close()

    def _rows(self, sql: str, *params: Any) -> list[Row]:
        with self.conn.transaction():
            return list(self.conn.execute(sql, params).fetchall())

    def _registered(self, compressor_id: str) -> Row:
        check_id(compressor_id, self.config)
        rows = self._rows(
            "SELECT * FROM compressor_metadata WHERE compressor_id = %s", compressor_id
        )
        if not rows:
            raise UnknownCompressor(f"{quoted(compressor_id)} is not in the registered fleet")
        return rows[0]

    def _as_of(self, compressor_id: str) -> datetime | None:
        """A registered unit's latest hour in gold."""
        self._registered(compressor_id)
        rows = self._rows(
            "SELECT max(hour) AS latest FROM hourly_aggregates WHERE compressor_id = %s",
            compressor_id,
        )
        return rows[0]["latest"]

    def compressor(self, compressor_id: str) -> Row:
        unit = self._registered(compressor_id)
        stations = self._rows("SELECT * FROM stations WHERE station_id = %s", unit["station_id"])
        baseline = self._rows(
            "SELECT DISTINCT ON (sensor) sensor, p50 FROM unit_baselines "
            "WHERE compressor_id = %s ORDER BY sensor, valid_from DESC",
            compressor_id,
        )
        return compressor_record(unit, stations, baseline)

    def latest_readings(self, compressor_id: str, hours: int = 24) -> list[Row]:
        latest = self._as_of(compressor_id)
        if latest is None:
            return []
        return self._rows(
            f"SELECT {_columns(READING_COLUMNS)} FROM hourly_aggregates "
            "WHERE compressor_id = %s AND hour >= %s ORDER BY hour",
            compressor_id,
            latest - timedelta(hours=hours - 1),
        )

    def alert_history(self, compressor_id: str, days: int = 7) -> list[Row]:
        latest = self._as_of(compressor_id)
        if latest is None:
            return []
        return self._rows(
            f"SELECT {_columns(ALERT_COLUMNS)} FROM alert_history WHERE compressor_id = %s "
            "AND (opened_at >= %s OR state = 'open') ORDER BY opened_at DESC, alert_id",
            compressor_id,
            latest - timedelta(days=days),
        )

    def predictions(self, compressor_id: str, hours: int = 24) -> list[Row]:
        latest = self._as_of(compressor_id)
        if latest is None:
            return []
        return self._rows(
            f"SELECT {_columns(PREDICTION_COLUMNS)} FROM ml_predictions "
            "WHERE compressor_id = %s AND hour >= %s ORDER BY hour DESC",
            compressor_id,
            latest - timedelta(hours=hours),
        )

    def maintenance_history(self, compressor_id: str, limit: int = 10) -> list[Row]:
        self._registered(compressor_id)
        return self._rows(
            "SELECT * FROM maintenance_events WHERE compressor_id = %s "
            "ORDER BY started_at DESC, event_id LIMIT %s",
            compressor_id,
            limit,
        )


def _columns(names: tuple[str, ...]) -> str:
    return ", ".join(quote(n) for n in names)
