"""Outputs a pass writes as files where it computes them, for the engine to commit.

On local Spark a pass's largest output cost more to hand back than to compute: its rows
crossed from Python to the JVM, were kept on the executors' disks, read back and encoded
again by Spark's Parquet writer. A :class:`FileSink` lets the pass write them itself, with
Polars, in the table's layout, and hands back a row per file (:data:`WRITTEN_FILES`). The
frame the pass returns reads those files, and the engine commits them when that frame is
written to the table: one transaction, no second write.

>>> WRITTEN_FILES.names
['path', 'partition', 'size', 'rows', 'stats']
"""

from __future__ import annotations

from typing import Protocol

import polars as pl
import pyarrow as pa

from altaviz.core.frames import Frame

WRITTEN_FILES = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),  # relative to the table's folder
        pa.field("partition", pa.string(), nullable=False),  # its partition values, as JSON
        pa.field("size", pa.int64(), nullable=False),  # bytes
        pa.field("rows", pa.int64(), nullable=False),
        pa.field("stats", pa.string(), nullable=False),  # Delta's file statistics, as JSON
    ]
)
"""A row per file a :class:`FileSink` wrote."""


class FileSink(Protocol):
    """Writes a table's rows as data files in its folder, uncommitted, where a pass computes
    them; the engine that gave it commits them when the rows are written to the table."""

    def write(self, rows: pl.DataFrame) -> pa.Table:
        """Write ``rows`` (the table's columns) as files, a file per partition value at
        least; a row of :data:`WRITTEN_FILES` per file. Runs where the pass runs (on
        Spark's executors), so the sink travels there: it holds plain values."""
        ...

    def staged(self, files: Frame) -> Frame:
        """The rows of ``files`` (rows of :data:`WRITTEN_FILES` this sink wrote), to read
        like any frame; writing this frame to the table commits the files."""
        ...
