"""How several frames of whole units travel together to Spark's executors, for the Polars
code of :func:`altaviz.transforms.windows.per_unit_frames`.

They travel as one frame, shuffled once by unit. The first input (the largest: a batch's
readings, or its hourly rows) keeps its own columns. Every other input travels as one JSON
text per row, null on the first input's rows: a struct column would instead carry a null
for each of its fields on every one of those rows, to the Python workers and into their
memory (a reading of gold's batch carried a hundred such nulls). The text is exact: a float
is written as the shortest decimal that reads back as the same number (``NaN`` and the
infinities included), an instant as microseconds since the epoch, a date as days.

>>> wire_type(pa.timestamp("us", tz="UTC")), wire_type(pa.float64()), wire_type(pa.int32())
(Int64, String, Int32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pyarrow as pa

FRAME, BY = "_frame", "_by"


def text_column(index: int) -> str:
    """The column that carries input ``index`` (from 1) as JSON text."""
    return f"_{index}"


def pack(natives: list[Any], by: str, key: Callable[[Any], Any] | None = None) -> Any:
    """The Spark frames ``natives`` as one: ``_frame`` (the input's index), ``_by`` (the
    unit, or ``key`` of its column), the first input's columns, and one JSON text column
    per other input."""
    from pyspark.sql import functions as F

    key = key or (lambda column: column)

    first, others = natives[0], natives[1:]
    taken = {FRAME, BY, *(text_column(i) for i in range(1, len(natives)))}
    if clash := taken & set(first.columns):
        raise ValueError(f"the first input may not have columns named {sorted(clash)}")

    def texts(mine: int) -> list[Any]:
        return [
            (F.to_json(F.struct(*_encoded(others[i - 1]))) if i == mine else F.lit(None))
            .cast("string")
            .alias(text_column(i))
            for i in range(1, len(natives))
        ]

    packed = first.select(
        F.lit(0).alias(FRAME), key(F.col(by)).alias(BY), *first.columns, *texts(0)
    )
    nulls = [F.lit(None).cast(f.dataType).alias(f.name) for f in first.schema.fields]
    for i, native in enumerate(others, start=1):
        part = native.select(F.lit(i).alias(FRAME), key(F.col(by)).alias(BY), *nulls, *texts(i))
        packed = packed.unionByName(part)
    return packed


def unpack(whole: pl.DataFrame, index: int, schema: pa.Schema) -> pl.DataFrame:
    """Input ``index``'s rows of a partition of the packed frame, with ``schema``'s types."""
    mine = whole.filter(pl.col(FRAME) == index)
    if index == 0:
        return mine.select(schema.names)
    target = pl.from_arrow(schema.empty_table()).schema
    wire = pl.Struct({name: wire_type(schema.field(name).type) for name in schema.names})
    decoded = mine.get_column(text_column(index)).str.json_decode(wire).struct.unnest()
    return decoded.select(_typed(name, kind) for name, kind in target.items())


def wire_type(kind: pa.DataType) -> Any:
    """The Polars type a column of Arrow type ``kind`` has in the JSON text."""
    if pa.types.is_timestamp(kind):
        return pl.Int64
    if pa.types.is_date(kind):
        return pl.Int32
    if pa.types.is_floating(kind):
        return pl.String
    if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_decimal(kind):
        raise TypeError(f"a column of type {kind} cannot travel as JSON text")
    return pl.from_arrow(pa.array([], kind)).dtype


def _encoded(native: Any) -> list[Any]:
    """``native``'s columns as they are written into the JSON text."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    columns = []
    for field in native.schema.fields:
        column = F.col(field.name)
        if isinstance(field.dataType, T.TimestampType):
            column = F.unix_micros(column)
        elif isinstance(field.dataType, T.DateType):
            column = F.unix_date(column)
        elif isinstance(field.dataType, T.DoubleType | T.FloatType):
            column = column.cast("string")  # the shortest text that reads back exactly
        columns.append(column.alias(field.name))
    return columns


def _typed(name: str, kind: Any) -> pl.Expr:
    """Column ``name`` of the decoded text as Polars type ``kind``."""
    column = pl.col(name)
    if isinstance(kind, pl.Datetime):
        instant = pl.from_epoch(column, time_unit="us")
        if kind.time_zone is not None:
            instant = instant.dt.replace_time_zone("UTC").dt.convert_time_zone(kind.time_zone)
        return instant.cast(kind).alias(name)
    if kind == pl.Date:
        return pl.from_epoch(column, time_unit="d").alias(name)
    return column.cast(kind).alias(name)
