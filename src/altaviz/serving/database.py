"""The PostgreSQL serving database: migrate, and export lakehouse tables into it.

An export upserts on each table's natural key, one transaction per table: rows of the dates
being exported that the lakehouse no longer holds are deleted, changed rows updated, new rows
inserted, unchanged rows left alone. A rerun therefore changes nothing, and a failed export
leaves that table as it was.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import narwhals as nw

from altaviz.core.errors import ServiceError
from altaviz.engines import Engine
from altaviz.lake.catalog import TableSpec
from altaviz.serving.schema import EXPORTED, quote, schema_sql


class DatabaseError(ServiceError):
    """The serving database cannot be reached or written; the message says why in one line."""


def connect(url: str) -> Any:
    """A psycopg connection; :class:`DatabaseError` in one line when it cannot be had."""
    import psycopg

    try:
        return psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise DatabaseError(f"DATABASE_URL: cannot connect ({_first_line(exc)})") from exc


def migrate(conn: Any) -> None:
    """Apply the serving schema (idempotent)."""
    import psycopg

    try:
        with conn.transaction():
            conn.execute(schema_sql())
    except psycopg.Error as exc:
        raise DatabaseError(f"migration failed: {_first_line(exc)}") from exc


def export(
    engine: Engine,
    conn: Any,
    dates: Iterable[date],
    tables: Sequence[TableSpec] = EXPORTED,
) -> dict[str, int]:
    """Upsert the lakehouse's rows into the database: for date-partitioned tables the given
    dates, for the others every row. Returns rows sent per table."""
    days = sorted(set(dates))
    sent = {}
    for spec in tables:
        by_date = "date" in spec.partition_by
        if by_date and not days:
            continue
        where = nw.col("date").is_in(days) if by_date else None
        frame = engine.read(spec, where).collect("polars")
        sent[spec.name] = upsert(conn, spec, frame, days if by_date else None)
    return sent


def upsert(conn: Any, spec: TableSpec, frame: nw.DataFrame[Any], days: list[date] | None) -> int:
    """One table's rows in one transaction (see the module docstring)."""
    import psycopg

    names = spec.schema.names
    data = _csv(frame.select(names))
    columns = [quote(c) for c in names]
    keys = [quote(k) for k in spec.keys]
    stage = f"_altaviz_{spec.name}"
    column_list = ", ".join(columns)
    updates = [c for c in columns if c not in keys]
    on_keys = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    try:
        with conn.transaction():
            conn.execute(
                f"CREATE TEMP TABLE {stage} (LIKE {spec.name} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            with conn.cursor().copy(
                f"COPY {stage} ({column_list}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy:
                copy.write(data)
            if days is not None:  # the lakehouse replaced these dates: so does the database
                conn.execute(
                    f"DELETE FROM {spec.name} t WHERE t.date = ANY(%s) "
                    f"AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {on_keys})",
                    (days,),
                )
            set_clause = ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
            changed = " OR ".join(f"t.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in updates)
            conflict = f"DO UPDATE SET {set_clause} WHERE {changed}" if updates else "DO NOTHING"
            conn.execute(
                f"INSERT INTO {spec.name} AS t ({column_list}) "
                f"SELECT {column_list} FROM {stage} ON CONFLICT ({', '.join(keys)}) {conflict}"
            )
    except psycopg.Error as exc:
        raise DatabaseError(f"export of {spec.name} failed: {_first_line(exc)}") from exc
    return frame.shape[0]


def _csv(frame: nw.DataFrame[Any]) -> bytes:
    """CSV for COPY: nulls as unquoted empty fields, timestamps in ISO 8601 with offset."""
    import polars as pl

    native = nw.to_native(frame)
    text = native.with_columns(
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z")
    ).write_csv(null_value="", quote_style="non_numeric")
    return text.encode("utf-8") if isinstance(text, str) else io.BytesIO(text).getvalue()


def checksums(conn: Any, tables: Sequence[TableSpec] = EXPORTED) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent checksum of every exported table."""
    out = {}
    for spec in tables:
        digest = "md5(string_agg(md5(t::text), '' ORDER BY md5(t::text)))"
        row = conn.execute(f"SELECT count(*), coalesce({digest}, '') FROM {spec.name} t").fetchone()
        out[spec.name] = (int(row[0]), str(row[1]))
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
