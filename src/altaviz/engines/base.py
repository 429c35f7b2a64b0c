"""The engine interface: everything that reads or writes tables goes through it.

Transforms are engine-neutral (Narwhals); an engine turns catalogue tables into frames and
frames back into Delta commits. Both the Polars engine and the Spark engine implement this.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

import narwhals as nw
import pyarrow as pa

from altaviz.core.errors import ConfigurationError, ServiceError
from altaviz.core.file_scan import FileScan
from altaviz.core.file_sink import FileSink
from altaviz.lake.catalog import TableSpec

Frame = nw.LazyFrame[Any] | nw.DataFrame[Any]
Partitions = Mapping[str, Sequence[Any]]
"""Partition values by column: ``{"date": [day]}`` names the partitions a write replaces."""
Item = TypeVar("Item")
Result = TypeVar("Result")


LANDING_FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".json": "json",  # JSON Lines: one reading per line
    ".jsonl": "json",
    ".ndjson": "json",
}
"""Landing files by suffix; a file of any other kind is reported, never read."""


def landing_format(path: str) -> str | None:
    """The landing format of a file by its suffix, or None for a kind that is not read.

    >>> landing_format("date=2026-11-24/gateway-7.CSV"), landing_format("notes.txt")
    ('csv', None)
    """
    suffix = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return LANDING_FORMATS.get(suffix)


def batch_days(default: int | None) -> int | None:
    """Dates per batch: ``ALTAVIZ_BATCH_DAYS`` (0: every date at once), else the engine's
    ``default``.

    >>> batch_days(31)
    31
    """
    value = os.environ.get("ALTAVIZ_BATCH_DAYS")
    if value is None:
        return default
    if not value.isdigit():
        raise ConfigurationError(
            f"ALTAVIZ_BATCH_DAYS={value!r}: a whole number of days (0: all at once)"
        )
    return int(value) or None


class EngineError(ServiceError):
    """An engine cannot start or cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class Txn:
    """A Delta application transaction: ``app_id`` reached ``version`` in this commit."""

    app_id: str
    version: int


@dataclass(frozen=True)
class WriteResult:
    rows: int  # rows written; 0 when nothing was committed


class Engine(Protocol):
    name: str
    one_txn_per_commit: bool
    """True when a commit can record only one application transaction (Delta on Spark)."""
    batch_days: int | None
    """How many dates the pipeline hands the engine at once (None: every date it has).
    The embedded engine takes one, bounding memory; Spark takes many, so each stage is a few
    set-based jobs for all of them rather than a hundred small ones per date."""
    carries_frames: bool
    """True when a day's results may be kept in memory for the next day (Polars). Spark's
    are read back from their tables instead: a checkpointed frame keeps its plan's size
    estimate, joins multiply estimates, and a chain of days makes them grow without bound
    (by the eighth day of a run, planning a join cost minutes of BigInt arithmetic)."""

    def uri(self, spec: TableSpec) -> str:
        """Where the table lives."""
        ...

    def exists(self, spec: TableSpec) -> bool: ...

    def version(self, spec: TableSpec) -> int | None:
        """Current table version, None if the table does not exist yet."""
        ...

    def read(self, spec: TableSpec, where: nw.Expr | None = None) -> nw.LazyFrame[Any]:
        """The table as a lazy frame (empty, with its schema, if it does not exist)."""
        ...

    def read_local(self, spec: TableSpec, where: nw.Expr | None = None) -> nw.DataFrame[Any]:
        """The table (or its rows matching ``where``) as an eager Polars frame in this
        process: for the fleet-sized tables the driver works on (maintenance, baselines,
        packing checks, cases)."""
        ...

    def read_added(self, spec: TableSpec, since_version: int | None) -> nw.LazyFrame[Any]:
        """Rows of files added to an append-only table after ``since_version``."""
        ...

    def added_dates(
        self, spec: TableSpec, since_version: int | None, column: str = "timestamp"
    ) -> set[date]:
        """UTC dates of ``column`` among the rows of files added after ``since_version``."""
        ...

    def added_partitions(self, spec: TableSpec, since_version: int | None) -> set[date]:
        """Values of the first partition column among files added after ``since_version``."""
        ...

    def append(self, spec: TableSpec, frame: Frame, txns: Sequence[Txn] = ()) -> WriteResult: ...

    def replace(
        self, spec: TableSpec, frame: Frame, partitions: Partitions, txns: Sequence[Txn] = ()
    ) -> WriteResult:
        """Atomically replace the rows of the given partition values with ``frame``."""
        ...

    def merge(self, spec: TableSpec, frame: Frame, txns: Sequence[Txn] = ()) -> WriteResult:
        """Upsert on the table's natural keys."""
        ...

    def file_sink(self, spec: TableSpec) -> FileSink | None:
        """Where a pass may write the table's rows itself, where it computes them (see
        :mod:`altaviz.core.file_sink`): :meth:`replace` of the frame the pass returns commits
        its files, and :meth:`release` deletes those never committed. None when the engine's
        own writer is as quick."""
        ...

    def file_scan(
        self, spec: TableSpec, columns: Sequence[str], ranges: Sequence[tuple[datetime, datetime]]
    ) -> FileScan | None:
        """The table's ``columns`` in ``ranges`` of its ``timestamp``, for a per-unit pass to
        read itself, each partition its own units (see :mod:`altaviz.core.file_scan`); None
        when the engine reads as quickly itself."""
        ...

    def append_files(
        self, spec: TableSpec, files: pa.Table, txns: Sequence[Txn] = ()
    ) -> WriteResult:
        """Commit files a :meth:`file_sink` sink wrote (rows of ``WRITTEN_FILES``) as an
        append that records ``txns``; nothing when the table has recorded them already. Only
        an engine that gives sinks is asked."""
        ...

    def run_tasks(self, task: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """``task`` of each of ``items`` where the engine computes (on Spark, a task each on
        its executors); the results, in order. ``task`` travels there: it holds plain
        values."""
        ...

    def column_max(self, spec: TableSpec, column: str) -> Any | None:
        """The largest value of ``column``, from table statistics (None without data)."""
        ...

    def txn_version(self, spec: TableSpec, app_id: str) -> int | None: ...

    def txn_versions(self, spec: TableSpec, app_ids: Sequence[str]) -> dict[str, int | None]:
        """Application-transaction versions of many app ids at once."""
        ...

    def partition_values(self, spec: TableSpec) -> set[date]:
        """Every value of the table's first partition column."""
        ...

    def read_source(
        self, path: str, columns: Mapping[str, str], required: Sequence[str]
    ) -> nw.DataFrame[Any]:
        """A landing file as ``columns`` plus ``source_offset``, ``type_error``, ``raw_record``;
        a value that cannot be read is reported per record, never fails the file."""
        ...

    def read_file(self, path: str, spec: TableSpec) -> nw.DataFrame[Any]:
        """A file conformed to a catalogue table's schema (reference data)."""
        ...

    def frame(self, spec: TableSpec, data: Mapping[str, Sequence[Any]]) -> nw.DataFrame[Any]:
        """A frame of ``spec``'s schema from columns of Python values."""
        ...

    def fill_json(
        self, frame: nw.DataFrame[Any], columns: Sequence[str], into: str
    ) -> nw.DataFrame[Any]:
        """Fill nulls of ``into`` with the row's ``columns`` encoded as JSON."""
        ...

    def optimize(self, spec: TableSpec) -> dict[str, Any]:
        """Compact small files, Z-ordered by the table's ``zorder_by`` columns."""
        ...

    def vacuum(self, spec: TableSpec, retention_hours: int, dry_run: bool = False) -> list[str]: ...

    def history(self, spec: TableSpec, limit: int | None = None) -> list[dict[str, Any]]: ...

    def release(self) -> None:
        """Drop what the engine cached for the frames of a run (nothing to do on Polars)."""
        ...
