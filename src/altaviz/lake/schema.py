"""One schema definition per table, from which both engines' schemas are generated.

>>> s = TableSchema((Column("compressor_id", "string", nullable=False), Column("t", "timestamp")))
>>> s.arrow().field("t").type
TimestampType(timestamp[us, tz=UTC])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
import pyarrow as pa

ColumnType = Literal["string", "float64", "int32", "int64", "bool", "timestamp", "date"]

_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "float64": pa.float64(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}
_POLARS: dict[str, Any] = {
    "string": pl.String,
    "float64": pl.Float64,
    "int32": pl.Int32,
    "int64": pl.Int64,
    "bool": pl.Boolean,
    "timestamp": pl.Datetime("us", "UTC"),
    "date": pl.Date,
}
# Spark SQL type names; Spark timestamps are UTC instants with the session time zone at UTC.
_SPARK: dict[str, str] = {
    "string": "StringType",
    "float64": "DoubleType",
    "int32": "IntegerType",
    "int64": "LongType",
    "bool": "BooleanType",
    "timestamp": "TimestampType",
    "date": "DateType",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True
    description: str = ""


@dataclass(frozen=True)
class TableSchema:
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow(self) -> pa.Schema:
        """The Arrow schema (what delta-rs and Polars write)."""
        return pa.schema(
            [pa.field(c.name, _ARROW[c.type], nullable=c.nullable) for c in self.columns]
        )

    def polars(self) -> dict[str, Any]:
        """The Polars schema, column name to data type."""
        return {c.name: _POLARS[c.type] for c in self.columns}

    def spark(self) -> Any:
        """The Spark ``StructType`` (imported lazily: PySpark is an optional extra)."""
        from pyspark.sql import types as T

        return T.StructType(
            [T.StructField(c.name, spark_type(c.type), c.nullable) for c in self.columns]
        )

    def conform(self, table: pa.Table) -> pa.Table:
        """Select this schema's columns in order and cast them to its types."""
        return table.select(self.names).cast(self.arrow())


def polars_type(kind: ColumnType) -> Any:
    """The Polars data type of a column type."""
    return _POLARS[kind]


def spark_type(kind: ColumnType) -> Any:
    """The Spark SQL type of a column type."""
    from pyspark.sql import types as T

    return getattr(T, _SPARK[kind])()


def columns(*spec: tuple[str, ColumnType] | Column) -> TableSchema:
    """Shorthand: ``("name", "type")`` pairs are nullable columns."""
    return TableSchema(tuple(c if isinstance(c, Column) else Column(*c) for c in spec))


Layer = Literal["bronze", "silver", "gold", "ml"]


@dataclass(frozen=True)
class TableSpec:
    """A Delta table: where it lives, what it holds, how it is laid out and keyed."""

    name: str
    layer: Layer
    schema: TableSchema
    partition_by: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    zorder_by: tuple[str, ...] = ()
    description: str = ""
    # Columns whose minimum, maximum and nulls Delta records per file, for readers to skip
    # files by: empty keeps Delta's default (the first 32). Telemetry-sized tables keep them
    # on their keys only: statistics on every column cost Spark's write of ten days of
    # bronze about a quarter of its time.
    stats_on: tuple[str, ...] = ()

    def table_properties(self) -> dict[str, str]:
        """The Delta table properties this table is created with.

        >>> TableSpec("t", "gold", columns(("a", "int32")), stats_on=("a",)).table_properties()
        {'delta.dataSkippingStatsColumns': 'a'}
        """
        return {"delta.dataSkippingStatsColumns": ",".join(self.stats_on)} if self.stats_on else {}
