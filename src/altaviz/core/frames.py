"""What the transforms need beyond Narwhals' lazy API, for eager (Polars) and lazy (Spark)
frames alike: counting rows, reading a few values back, and ending a transform.

The transforms are written once against lazy operations. With Polars each transform ends by
collecting (a day of the fleet fits in memory and the next step reads it several times);
with Spark it hands back the plan, and the engine decides what to cache.

>>> import polars as pl
>>> frame = nw.from_native(pl.DataFrame({"a": [1, 2, 3]}))
>>> height(frame.lazy().filter(nw.col("a") > 1))
2
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

Frame = nw.DataFrame[Any] | nw.LazyFrame[Any]


def done(frame: Frame) -> Frame:
    """The result of a transform, to be read more than once: collected on Polars; on Spark
    computed and kept on the executors' disks (a local checkpoint), which also cuts the plan's
    lineage - without it each day's plans grow until analysing them costs more than running
    them."""
    if frame.implementation.is_polars():
        return frame.collect() if isinstance(frame, nw.LazyFrame) else frame
    if frame.implementation.is_pyspark():
        from pyspark import StorageLevel

        # On the executors' disks, not the driver's heap: a ten-day run holds hundreds.
        native = nw.to_native(frame).localCheckpoint(
            eager=True, storageLevel=StorageLevel.DISK_ONLY
        )
        return nw.from_native(native)
    return frame


def scanned(frame: Frame) -> Frame:
    """A table read that is used more than once: collected on Polars (one read of the files);
    on Spark left as a plan - scanning the files again costs less than checkpointing them."""
    if frame.implementation.is_polars() and isinstance(frame, nw.LazyFrame):
        return frame.collect()
    return frame


def height(frame: Frame) -> int:
    """Number of rows."""
    if isinstance(frame, nw.DataFrame):
        return int(frame.shape[0])
    return int(frame.select(nw.len()).collect().item())


def rows(frame: Frame) -> list[dict[str, Any]]:
    """The rows as dictionaries (for small results only: they come back to Python)."""
    eager = frame if isinstance(frame, nw.DataFrame) else frame.collect()
    return eager.rows(named=True)


def first_row(frame: Frame) -> dict[str, Any]:
    """The first row as a dictionary (for one-row aggregates)."""
    return rows(frame.head(1))[0]


def values(frame: Frame, column: str) -> list[Any]:
    """One column's values as a Python list (for small results only)."""
    return [r[column] for r in rows(frame.select(column))]


def local(frame: Frame) -> nw.DataFrame[Any]:
    """The frame as an eager Polars frame in this process (for work done on the driver, such
    as the models: their inputs are one day's hourly rows)."""
    if isinstance(frame, nw.LazyFrame):
        return frame.collect("polars")
    return frame if frame.implementation.is_polars() else nw.from_native(frame.to_polars())


def same_kind(frames: list[Frame]) -> list[Frame]:
    """Frames ready for ``nw.concat``: all lazy when any of them is."""
    if any(isinstance(f, nw.LazyFrame) for f in frames):
        return [f.lazy() for f in frames]
    return frames


def differing_rows(frame: Frame, other: Frame, columns: list[str]) -> Frame:
    """The rows of ``frame`` that ``other`` does not hold, comparing ``columns`` null for
    null (what a write would change)."""

    def as_text(f: Frame) -> Frame:
        return f.select(nw.col(c).cast(nw.String).fill_null("\x00null") for c in columns)

    return done(as_text(frame).lazy().join(as_text(other).lazy(), on=columns, how="anti"))
