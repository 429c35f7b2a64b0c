"""What both engines read from a Delta table's transaction log, with delta-rs: versions,
application transactions, the files each version added, partition values and column
statistics. Reading the log needs no data and no Spark job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import narwhals as nw
import polars as pl
from deltalake import CommitProperties, DeltaTable, Field, Transaction
from deltalake.exceptions import TableNotFoundError

from altaviz.engines.base import Txn
from altaviz.lake.catalog import TableSpec
from altaviz.lake.location import LakeLocation


class DeltaLogMetadata:
    """Table metadata from the Delta log at ``location`` (a base of both engines)."""

    def __init__(self, location: LakeLocation) -> None:
        self.location = location
        self._options = dict(location.storage_options) or None
        self._evolved: set[str] = set()

    def evolve(self, spec: TableSpec) -> None:
        """Bring a table written by an earlier version up to the catalogue, once per table:
        add the columns it lacks (nullable: the old rows read them as null) and set the
        table properties it lacks (they apply to the files written from then on)."""
        if spec.name in self._evolved:
            return
        table = self._table(spec)
        if table is not None:
            have = set(table.schema().to_arrow().names)
            missing = [f for f in spec.schema.arrow() if f.name not in have]
            if missing:
                table.alter.add_columns([Field.from_arrow(f.with_nullable(True)) for f in missing])
            wanted = spec.table_properties()
            if wanted.items() - table.metadata().configuration.items():
                table.alter.set_table_properties(wanted)
            self._evolved.add(spec.name)

    def uri(self, spec: TableSpec) -> str:
        return self.location.table_uri(spec.layer, spec.name)

    def _table(self, spec: TableSpec, version: int | None = None) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri(spec), version=version, storage_options=self._options)
        except TableNotFoundError:
            return None

    def exists(self, spec: TableSpec) -> bool:
        return DeltaTable.is_deltatable(self.uri(spec), storage_options=self._options)

    def version(self, spec: TableSpec) -> int | None:
        table = self._table(spec)
        return None if table is None else table.version()

    def _added_files(
        self, spec: TableSpec, since_version: int | None
    ) -> tuple[DeltaTable | None, set[str]]:
        """The table, and the URIs of files in its snapshot added after ``since_version``."""
        current = self._table(spec)
        if current is None:
            return None, set()
        now = set(current.file_uris())
        if since_version is None:
            return current, now
        before = self._table(spec, since_version)
        return current, now - (set(before.file_uris()) if before else set())

    def added_partitions(self, spec: TableSpec, since_version: int | None) -> set[date]:
        table, files = self._added_files(spec, since_version)
        if table is None or not files or not spec.partition_by:
            return set()
        key = spec.partition_by[0]
        actions = pl.DataFrame(table.get_add_actions(flatten=True))  # Arrow C stream
        prefix = self.uri(spec).rstrip("/") + "/"
        relative = sorted(f.removeprefix(prefix) for f in files)
        values = actions.filter(pl.col("path").is_in(relative)).get_column(f"partition.{key}")
        return {date.fromisoformat(v) if isinstance(v, str) else v for v in values.unique() if v}

    def added_dates(
        self, spec: TableSpec, since_version: int | None, column: str = "timestamp"
    ) -> set[date]:
        """The UTC dates of ``column`` among the rows of files added after ``since_version``.

        A file whose statistics put both bounds of ``column`` on one date holds that date
        alone: no data is read. Only the files whose bounds span dates (or that have none)
        are read, that column alone. On a day's new telemetry that is no file at all.
        """
        table, files = self._added_files(spec, since_version)
        if table is None or not files:
            return set()
        prefix = self.uri(spec).rstrip("/") + "/"
        by_path = {f.removeprefix(prefix): f for f in files}
        actions = pl.DataFrame(table.get_add_actions(flatten=True)).filter(
            pl.col("path").is_in(sorted(by_path))
        )
        low, high = f"min.{column}", f"max.{column}"
        if {low, high} <= set(actions.columns):
            bounds = actions.select(
                "path", pl.col(low).dt.date().alias("low"), pl.col(high).dt.date().alias("high")
            )
            single = bounds.filter(pl.col("low") == pl.col("high"))
        else:
            single = pl.DataFrame(schema={"path": pl.String, "low": pl.Date})
        dates = set(single.get_column("low").to_list())
        rest = sorted(set(by_path) - set(single.get_column("path").to_list()))
        if rest:
            read = self.read_files(spec, [by_path[p] for p in rest])
            found = read.select(nw.col(column).dt.date().alias("d")).unique().collect()
            dates |= set(found.get_column("d").to_list())
        return dates

    def read_added(self, spec: TableSpec, since_version: int | None) -> nw.LazyFrame[Any]:
        """Rows of files added to an append-only table after ``since_version``."""
        return self.read_files(spec, sorted(self._added_files(spec, since_version)[1]))

    def read_files(self, spec: TableSpec, files: Sequence[str]) -> nw.LazyFrame[Any]:
        """The rows of some of the table's data files (URIs), their own columns (not the
        partition values, which live in the paths). Tables here have no deletion vectors or
        column mapping (protocol 1/2), so a file's rows are the table's."""
        raise NotImplementedError

    def partition_values(self, spec: TableSpec) -> set[date]:
        """Every value of the table's first partition column."""
        return self.added_partitions(spec, None)

    def column_max(self, spec: TableSpec, column: str) -> Any | None:
        """The largest value of ``column``, from the files' statistics (no data read)."""
        table = self._table(spec)
        if table is None:
            return None
        actions = pl.DataFrame(table.get_add_actions(flatten=True))
        if f"max.{column}" not in actions.columns or not actions.height:
            return None
        return actions.get_column(f"max.{column}").max()

    def txn_version(self, spec: TableSpec, app_id: str) -> int | None:
        table = self._table(spec)
        return None if table is None else table.transaction_version(app_id)

    def txn_versions(self, spec: TableSpec, app_ids: Sequence[str]) -> dict[str, int | None]:
        """Application-transaction versions of many app ids, reading the log once."""
        table = self._table(spec)
        return {a: (None if table is None else table.transaction_version(a)) for a in app_ids}


def commit_properties(txns: Sequence[Txn]) -> CommitProperties | None:
    """A commit's application transactions, as delta-rs records them (None: no ``txns``).

    >>> commit_properties([Txn("ingest:a", 1)]).app_transactions[0].app_id
    'ingest:a'
    """
    if not txns:
        return None
    return CommitProperties(app_transactions=[Transaction(t.app_id, t.version) for t in txns])


def sql_in(partitions: Mapping[str, Sequence[Any]]) -> str:
    """A Delta SQL predicate selecting the given partition values.

    >>> sql_in({"date": [date(2026, 3, 1), date(2026, 3, 2)]})
    "date IN ('2026-03-01', '2026-03-02')"
    """
    clauses = []
    for column, values in partitions.items():
        if not values:
            raise ValueError(f"no values to replace for partition column {column!r}")
        quoted = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
        clauses.append(f"{column} IN ({quoted})")
    return " AND ".join(clauses)
