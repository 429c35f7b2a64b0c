"""The text an input of per_unit_frames travels in reads back with its exact values and types."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import polars as pl
import pyarrow as pa
import pytest

from altaviz.transforms.unit_rows import FRAME, text_column, unpack, wire_type

SCHEMA = pa.schema(
    [
        ("compressor_id", pa.string()),
        ("hour", pa.timestamp("us", tz="UTC")),
        ("date", pa.date32()),
        ("value", pa.float64()),
        ("level", pa.int32()),
        ("open", pa.bool_()),
    ]
)


def test_text_reads_back_exactly():
    # What Spark's to_json writes: instants in microseconds, dates in days, floats as text,
    # null fields left out.
    texts = [
        '{"compressor_id":"C1","hour":1767229200000001,"date":20454,"value":"0.30000000000000004",'
        '"level":2,"open":true}',
        '{"compressor_id":"C\\"2","hour":0,"date":0,"value":"NaN","open":false}',
        '{"compressor_id":"C3","value":"-Infinity","level":0}',
    ]
    whole = pl.DataFrame(
        {FRAME: [0, 1, 1, 1], text_column(1): [None, *texts]},
        schema={FRAME: pl.Int32, text_column(1): pl.String},
    )
    rows = unpack(whole, 1, SCHEMA)
    assert rows.schema == pl.from_arrow(SCHEMA.empty_table()).schema
    first, second, third = rows.rows(named=True)
    assert first["hour"] == datetime(2026, 1, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert first["date"] == date(2026, 1, 1)
    assert first["value"] == 0.1 + 0.2 and first["level"] == 2 and first["open"] is True
    assert second["compressor_id"] == 'C"2' and math.isnan(second["value"])
    assert second["hour"] == datetime(1970, 1, 1, tzinfo=UTC) and second["level"] is None
    assert third["value"] == -math.inf and third["hour"] is None and third["open"] is None


def test_the_first_input_keeps_its_columns():
    whole = pl.DataFrame({FRAME: [0, 1], "a": [1.5, None], text_column(1): [None, "{}"]})
    assert unpack(whole, 0, pa.schema([("a", pa.float64())])).to_dict(as_series=False) == {
        "a": [1.5]
    }


def test_nested_columns_are_refused():
    with pytest.raises(TypeError, match="cannot travel"):
        wire_type(pa.list_(pa.int64()))
