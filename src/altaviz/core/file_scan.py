"""A table's rows that a pass reads itself, from the table's files, where it runs.

On local Spark the cleaning's pass took its readings from the JVM: Spark read bronze,
shuffled every reading by unit and handed each partition to Python through Arrow, some
45 s of CPU for ten days of the default fleet, where Polars reads a unit range of the same
files in 0.3 s (the landing tasks write bronze sorted by unit, so a range skips most row
groups). A :class:`FileScan` names the files and the time ranges wanted; each partition of
the pass reads the rows of its own units with Polars.

>>> import tempfile
>>> from datetime import UTC, datetime
>>> path = f"{tempfile.mkdtemp()}/part-0.parquet"
>>> t = datetime(2026, 3, 1, 8, tzinfo=UTC)
>>> pl.DataFrame({"compressor_id": ["C1", "C2", "C3"], "timestamp": [t] * 3}).write_parquet(path)
>>> scan = FileScan((path,), pa.schema([("compressor_id", pa.string()),
...     ("timestamp", pa.timestamp("us", tz="UTC"))]), "compressor_id", "timestamp",
...     ((t, datetime(2026, 3, 2, tzinfo=UTC)),))
>>> scan.keys(), scan.read([("C2", None)])["compressor_id"].to_list()
(['C1', 'C2', 'C3'], ['C2', 'C3'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import polars as pl
import pyarrow as pa

KeyRange = tuple[str | None, str | None]
"""``[low, high)`` of the key; None leaves that side open."""


@dataclass(frozen=True)
class FileScan:
    """Rows of Parquet ``paths`` whose ``time`` lies in one of ``ranges`` (each
    ``[start, end)``), as ``schema``'s columns. Holds plain values: it travels to the
    executors."""

    paths: tuple[str, ...]
    schema: pa.Schema
    key: str  # the unit column: each partition of a pass reads its own range of it
    time: str
    ranges: tuple[tuple[datetime, datetime], ...]

    def _rows(self) -> pl.LazyFrame:
        if not self.paths:
            return pl.LazyFrame(pl.from_arrow(self.schema.empty_table()))
        frame = pl.scan_parquet(list(self.paths), hive_partitioning=False)
        column = pl.col(self.time)
        wanted = pl.any_horizontal([(column >= lo) & (column < hi) for lo, hi in self.ranges])
        return frame.filter(wanted)

    def keys(self) -> list[str]:
        """Every key in the scan's rows, sorted: one column read, on the driver."""
        found = self._rows().select(pl.col(self.key).unique()).collect()
        return sorted(k for k in found.get_column(self.key).to_list() if k is not None)

    def read(self, keys: Sequence[KeyRange]) -> pl.DataFrame:
        """The rows whose key lies in one of ``keys``, as ``schema``'s columns."""
        column = pl.col(self.key)
        inside = [
            (column >= lo if lo is not None else pl.lit(True))
            & (column < hi if hi is not None else pl.lit(True))
            for lo, hi in keys
        ]
        if not inside:
            return pl.from_arrow(self.schema.empty_table())  # type: ignore[return-value]
        rows = self._rows().filter(pl.any_horizontal(inside)).select(self.schema.names).collect()
        typed = rows.to_arrow().cast(self.schema)
        return pl.from_arrow(typed)  # type: ignore[return-value]


# A row group of at most this many rows is read whole by each partition whose range it
# overlaps: the landing tasks' files have row groups of about 120,000 rows.
GROUP_ROWS = 1 << 18


def scannable(paths: Sequence[str], key: str, time: str) -> bool:
    """Whether a :class:`FileScan` of ``paths`` pays, from the files' footers: each file's
    row groups are in order of ``key`` and small (``GROUP_ROWS``), so a range of keys skips
    most of each file, and ``time`` is stored as UTC microseconds, as the sink writes it.
    Files written otherwise (Spark's writer: a row group per file, units mixed, instants
    as INT96) would be read whole by every partition, or read differently.

    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> path = f"{tempfile.mkdtemp()}/part-0.parquet"
    >>> t = datetime(2026, 3, 1, tzinfo=UTC)
    >>> pl.DataFrame({"k": ["b", "a", "c"], "t": [t] * 3}).write_parquet(path, row_group_size=1)
    >>> scannable([path], "k", "t")
    False
    """
    import pyarrow.parquet as pq

    for path in paths:
        meta = pq.read_metadata(path)
        stored = meta.schema.to_arrow_schema().field(time).type
        if not (pa.types.is_timestamp(stored) and stored.unit == "us" and stored.tz):
            return False
        column = meta.schema.names.index(key)
        previous = None
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            stats = group.column(column).statistics
            if group.num_rows > GROUP_ROWS or stats is None or not stats.has_min_max:
                return False
            if previous is not None and stats.min < previous:
                return False
            previous = stats.max
    return True


def key_ranges(starts: Sequence[str]) -> list[KeyRange]:
    """The key ranges that begin at each of ``starts`` (sorted), the first open below and
    the last above, so that every key falls in exactly one.

    >>> key_ranges(["C1", "C5", "C9"])
    [(None, 'C5'), ('C5', 'C9'), ('C9', None)]
    """
    bounds: list[str | None] = [None, *starts[1:], None]
    return list(pairwise(bounds))


def range_starts(keys: Sequence[str], ranges: int) -> list[str]:
    """The first key of each of up to ``ranges`` ranges of about as many ``keys`` (sorted).

    >>> range_starts(["a", "b", "c", "d", "e"], 2)
    ['a', 'c']
    """
    if not keys:
        return []
    count = min(ranges, len(keys))
    return [keys[len(keys) * i // count] for i in range(count)]
