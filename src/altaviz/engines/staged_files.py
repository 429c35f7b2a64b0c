"""Data files a pass writes itself (see :mod:`altaviz.core.file_sink`), in a Delta table's
layout, and their commit with delta-rs.

The files are Hive-partitioned like Spark's (``date=2026-03-01/part-….parquet``, the
partition columns in the path only) and carry the statistics Spark's Delta writer records
on the table's ``stats_on`` columns, so data skipping and Z-ordering treat them alike.

>>> import polars as pl, tempfile
>>> from datetime import date
>>> from altaviz.lake.schema import TableSpec, columns
>>> spec = TableSpec("t", "gold", columns(("n", "int64"), ("date", "date")), partition_by=("date",),
...                  stats_on=("n",))
>>> sink = DeltaFileSink(spec, tempfile.mkdtemp())
>>> files = sink.write(pl.DataFrame({"n": [3, 1], "date": [date(2026, 3, 1)] * 2}))
>>> files["partition"][0].as_py(), json.loads(files["stats"][0].as_py())["minValues"]
('{"date": "2026-03-01"}', {'n': 1})
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from altaviz.core.file_sink import WRITTEN_FILES
from altaviz.core.frames import Frame
from altaviz.engines.base import Partitions, Txn
from altaviz.engines.delta_log import commit_properties
from altaviz.lake.schema import TableSpec

# A pass writes a file per partition of units and partition value: ten days' hourly
# aggregates came to 600 files of 0.4 MB, and every reader of the history pays per file (a
# whole read took 0.79 s against 0.24 s for the same rows in 50 files). Files this small on
# average are compacted right after their commit (ten days' in 5 s).
SMALL_FILE_BYTES = 1 << 20
# Spark's Delta writer keeps string statistics to a prefix of this length; a longer value is
# left without bounds here rather than bounded differently.
STRING_STATS_PREFIX = 32


@dataclass(frozen=True)
class DeltaFileSink:
    """Writes rows of a Delta table as Parquet files in its folder, uncommitted; ``stager``
    (the engine, on the driver only: it stays behind when the sink travels) reads and later
    commits them."""

    spec: TableSpec
    root: str  # the table's folder
    stager: Any = field(default=None, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "stager": None}

    def write(self, rows: pl.DataFrame) -> pa.Table:
        """Write ``rows`` as a file per partition value; a row of ``WRITTEN_FILES`` each."""
        schema = self.spec.schema.arrow()
        table = pl.from_arrow(rows.to_arrow().select(schema.names).cast(schema))
        assert isinstance(table, pl.DataFrame)
        by = list(self.spec.partition_by)
        parts = table.partition_by(by, as_dict=True, include_key=False) if by else {(): table}
        written: dict[str, list[Any]] = {name: [] for name in WRITTEN_FILES.names}
        for key, part in parts.items():
            values = {c: _partition_text(v) for c, v in zip(by, key, strict=True)}
            folder = "/".join(f"{c}={v}" for c, v in values.items())
            path = f"{folder}/part-{uuid.uuid4()}.zstd.parquet".lstrip("/")
            os.makedirs(os.path.join(self.root, folder), exist_ok=True)
            part.write_parquet(os.path.join(self.root, path), compression="zstd")
            written["path"].append(path)
            written["partition"].append(json.dumps(values))
            written["size"].append(os.path.getsize(os.path.join(self.root, path)))
            written["rows"].append(part.height)
            written["stats"].append(json.dumps(file_stats(part, self.spec.stats_on)))
        return pa.table(written, schema=WRITTEN_FILES)

    def staged(self, files: Frame) -> Frame:
        if self.stager is None:
            raise RuntimeError("a sink's files are staged on the driver, by its engine")
        return self.stager.staged(self, files)


def file_stats(rows: pl.DataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """Delta's statistics of a file of ``rows``: its row count, and the bounds and null
    count of each of ``columns`` present, as Spark's writer records them (timestamps to the
    millisecond, the lower bound rounded down and the upper up).

    >>> from datetime import datetime
    >>> rows = pl.DataFrame({"t": [datetime(2026, 3, 1, 8, 0, 0, 1500)]}).with_columns(
    ...     pl.col("t").dt.replace_time_zone("UTC"))
    >>> file_stats(rows, ["t"])["maxValues"]
    {'t': '2026-03-01T08:00:00.002Z'}
    """
    lows: dict[str, Any] = {}
    highs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for name in [c for c in columns if c in rows.columns]:
        column = rows[name]
        nulls[name] = column.null_count()
        low, high = column.min(), column.max()
        if low is None or high is None:
            continue
        if isinstance(low, datetime):
            lows[name], highs[name] = _millis(low, up=False), _millis(high, up=True)
        elif isinstance(low, date):
            lows[name], highs[name] = low.isoformat(), high.isoformat()
        elif isinstance(low, str):
            if max(len(low), len(high)) <= STRING_STATS_PREFIX:
                lows[name], highs[name] = low, high
        elif isinstance(low, int | float) and not any(map(_is_nan, (low, high))):
            lows[name], highs[name] = low, high
    return {"numRecords": rows.height, "minValues": lows, "maxValues": highs, "nullCount": nulls}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _millis(moment: datetime, up: bool) -> str:
    """A UTC instant to the millisecond, as Delta's statistics write it."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    extra = moment.microsecond % 1000
    moment -= timedelta(microseconds=extra)
    if up and extra:
        moment += timedelta(milliseconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _partition_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def commit_files(
    table: Any,
    schema: pa.Schema,
    partition_by: Sequence[str],
    files: pa.Table,
    partitions: Partitions | None,
    txns: Sequence[Txn] = (),
) -> int:
    """Commit ``files`` (rows of ``WRITTEN_FILES``) to ``table`` (a delta-rs ``DeltaTable``)
    in one transaction; the rows committed.

    ``partitions`` given, the files replace those partitions' rows and are compacted if
    they are small (see ``SMALL_FILE_BYTES``). None, they are appended as they are (a file
    per landing file, as Spark's writer would make), and an append whose ``txns`` the table
    has recorded already commits nothing and returns 0, as Delta's idempotent writes do.
    """
    from deltalake.transaction import AddAction

    if partitions is None and txns:
        table.update_incremental()  # the transactions as of the latest commit
        if all(_recorded(table, t) for t in txns):
            return 0
    now = int(time.time() * 1000)
    adds = [
        AddAction(f["path"], f["size"], json.loads(f["partition"]), now, True, f["stats"])
        for f in files.to_pylist()
    ]
    replaced = (
        None
        if partitions is None
        else [(c, "in", [_partition_text(v) for v in vs]) for c, vs in partitions.items()]
    )
    table.create_write_transaction(
        adds,
        mode="append" if replaced is None else "overwrite",
        schema=schema,
        partition_by=list(partition_by),
        partition_filters=replaced,
        commit_properties=commit_properties(txns),
    )
    rows = sum(files["rows"].to_pylist())
    if replaced is not None and files.num_rows and _small(files):
        table.update_incremental()
        table.optimize.compact(partition_filters=replaced)
    return rows


def _small(files: pa.Table) -> bool:
    return sum(files["size"].to_pylist()) / files.num_rows < SMALL_FILE_BYTES


def _recorded(table: Any, txn: Txn) -> bool:
    version = table.transaction_version(txn.app_id)
    return version is not None and version >= txn.version


def remove_files(root: str, files: pa.Table) -> None:
    """Delete files written and never committed (a pass whose output was not kept)."""
    for path in files["path"].to_pylist():
        Path(root, path).unlink(missing_ok=True)
