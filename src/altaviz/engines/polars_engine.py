"""The embedded engine: Polars (lazy) for compute, delta-rs for Delta Lake tables.

This is the only module that knows about Polars I/O and ``deltalake``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import narwhals as nw
import polars as pl
import pyarrow as pa
from deltalake import ColumnProperties, WriterProperties, write_deltalake

from altaviz.engines.base import (
    Frame,
    Item,
    Partitions,
    Result,
    Txn,
    WriteResult,
    batch_days,
    landing_format,
)
from altaviz.engines.delta_log import DeltaLogMetadata, commit_properties, sql_in
from altaviz.lake.catalog import TableSpec
from altaviz.lake.schema import polars_type


@cache
def writer_properties(spec: TableSpec) -> WriterProperties:
    """Parquet settings per table, measured here on a day of bronze (1.35 M rows):

    - row groups of 128k rows: twice as fast to write as the default, and finer statistics
      let time-filtered reads skip more of each file;
    - dictionaries only for text columns, zstd: faster to write than the defaults.
    - Floats stay PLAIN: byte-stream-split would be 10 % smaller, but Spark's vectorized
      Parquet reader (Spark 4.2, and so Fabric's) cannot read it, and every Delta reader must.
    """
    columns = {
        column.name: ColumnProperties(dictionary_enabled=True)
        for column in spec.schema.columns
        if column.type in ("string", "date", "bool")
    }
    return WriterProperties(
        max_row_group_size=131_072,
        compression="ZSTD",
        default_column_properties=ColumnProperties(dictionary_enabled=False),
        column_properties=columns,
    )


class PolarsEngine(DeltaLogMetadata):
    """Reads and writes the lakehouse with Polars and delta-rs.

    >>> from altaviz.lake.location import LakeLocation
    >>> engine = PolarsEngine(LakeLocation({"bronze": "lh_bronze_raw"}, root="/tmp/lake"))
    >>> engine.name
    'polars'
    """

    name = "polars"
    one_txn_per_commit = False
    carries_frames = True

    @property
    def batch_days(self) -> int | None:
        """One date at a time (memory stays bounded), unless ``ALTAVIZ_BATCH_DAYS`` says."""
        return batch_days(1)

    # ------------------------------------------------------------------ reading

    def read(self, spec: TableSpec, where: nw.Expr | None = None) -> nw.LazyFrame[Any]:
        if not self.exists(spec):
            frame = nw.from_native(empty(spec).lazy())
        else:
            frame = nw.from_native(pl.scan_delta(self.uri(spec), storage_options=self._options))
        return frame if where is None else frame.filter(where)

    def read_local(self, spec: TableSpec, where: nw.Expr | None = None) -> nw.DataFrame[Any]:
        return self.read(spec, where).collect()

    def read_files(self, spec: TableSpec, files: Sequence[str]) -> nw.LazyFrame[Any]:
        if not files:
            return nw.from_native(empty(spec).lazy())
        frame = pl.scan_parquet(list(files), hive_partitioning=False, storage_options=self._options)
        return nw.from_native(frame)

    # ------------------------------------------------------------------ landing files

    def read_source(
        self, path: str, columns: Mapping[str, str], required: Sequence[str]
    ) -> nw.DataFrame[Any]:
        """A landing file (Parquet, CSV or JSON Lines: :data:`LANDING_FORMATS`) as the given
        columns, never failing on a bad value.

        Adds ``source_offset`` (row number in the file), ``type_error`` (why a value could not
        be read as its type, or a required column is missing; null when fine) and
        ``raw_record`` (the original row as JSON, for rows with a type error).
        """
        raw = _read_landing_file(path).with_row_index("source_offset")
        original = [c for c in raw.columns if c != "source_offset"]
        exprs: list[pl.Expr] = [pl.col("source_offset").cast(pl.Int64)]
        errors: list[pl.Expr] = []
        for name, kind in columns.items():
            target = polars_type(kind)
            if name not in raw.columns:
                exprs.append(pl.lit(None, dtype=target).alias(name))
                if name in required:
                    errors.append(pl.lit(f"missing column {name}"))
                continue
            source = raw.schema[name]
            if source == target:
                exprs.append(pl.col(name))
                continue
            if kind == "timestamp" and source == pl.String:
                cast = pl.col(name).str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
            elif (
                kind == "timestamp" and isinstance(source, pl.Datetime) and source.time_zone is None
            ):
                cast = pl.col(name).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
            else:
                cast = pl.col(name).cast(target, strict=False)
            exprs.append(cast.alias(name))
            failed = pl.col(name).is_not_null() & cast.is_null()
            errors.append(
                pl.when(failed).then(
                    pl.format(
                        "{}: cannot read {} as {}",
                        pl.lit(name),
                        pl.col(name).cast(pl.String),
                        pl.lit(kind),
                    )
                )
            )
        type_error = pl.coalesce(errors) if errors else pl.lit(None, dtype=pl.String)
        frame = raw.select(
            *exprs,
            type_error.cast(pl.String).alias("type_error"),
            pl.when(type_error.is_not_null())
            .then(pl.struct(original).struct.json_encode())
            .alias("raw_record"),
        )
        return nw.from_native(frame)

    def read_file(self, path: str, spec: TableSpec) -> nw.DataFrame[Any]:
        """A Parquet file conformed to a catalogue table's schema (reference data)."""
        return nw.from_native(pl.from_arrow(spec.schema.conform(pl.read_parquet(path).to_arrow())))

    def frame(self, spec: TableSpec, data: Mapping[str, Sequence[Any]]) -> nw.DataFrame[Any]:
        """A frame of ``spec``'s schema from columns of Python values."""
        return nw.from_native(
            pl.DataFrame({c: data[c] for c in spec.schema.names}, schema=_schema(spec))
        )

    @staticmethod
    def fill_json(frame: nw.DataFrame[Any], columns: Sequence[str], into: str) -> nw.DataFrame[Any]:
        """Fill nulls of column ``into`` with the row's ``columns`` encoded as JSON."""
        native = nw.to_native(frame)
        encoded = pl.struct(list(columns)).struct.json_encode()
        return nw.from_native(native.with_columns(pl.col(into).fill_null(encoded)))

    # ------------------------------------------------------------------ writing

    def _arrow(self, spec: TableSpec, frame: Frame) -> pa.Table:
        native = nw.to_native(frame.lazy().collect() if isinstance(frame, nw.LazyFrame) else frame)
        return spec.schema.conform(native.to_arrow())

    def append(self, spec: TableSpec, frame: Frame, txns: Sequence[Txn] = ()) -> WriteResult:
        data = self._arrow(spec, frame)
        self.evolve(spec)
        if data.num_rows == 0 and not txns and self.exists(spec):
            return WriteResult(0)
        write_deltalake(
            self.uri(spec),
            data,
            mode="append",
            partition_by=list(spec.partition_by) or None,
            configuration=spec.table_properties() or None,  # read only when creating it
            storage_options=self._options,
            commit_properties=commit_properties(txns),
            writer_properties=writer_properties(spec),
        )
        return WriteResult(data.num_rows)

    def replace(
        self, spec: TableSpec, frame: Frame, partitions: Partitions, txns: Sequence[Txn] = ()
    ) -> WriteResult:
        data = self._arrow(spec, frame)
        if not self.exists(spec):
            return self.append(spec, data_frame(data), txns)
        self.evolve(spec)
        write_deltalake(
            self.uri(spec),
            data,
            mode="overwrite",
            predicate=sql_in(partitions),
            partition_by=list(spec.partition_by) or None,
            storage_options=self._options,
            commit_properties=commit_properties(txns),
            writer_properties=writer_properties(spec),
        )
        return WriteResult(data.num_rows)

    def merge(self, spec: TableSpec, frame: Frame, txns: Sequence[Txn] = ()) -> WriteResult:
        if not spec.keys:
            raise ValueError(f"{spec.name} has no natural keys to merge on")
        data = self._arrow(spec, frame)
        table = self._table(spec)
        if table is None:
            return self.append(spec, data_frame(data), txns)
        if data.num_rows == 0:
            return WriteResult(0)
        self.evolve(spec)
        table = self._table(spec)
        on = " AND ".join(f"t.{k} = s.{k}" for k in spec.keys)
        (
            table.merge(
                data,
                predicate=on,
                source_alias="s",
                target_alias="t",
                commit_properties=commit_properties(txns),
                writer_properties=writer_properties(spec),
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
        return WriteResult(data.num_rows)

    # ------------------------------------------------------------------ maintenance

    def optimize(self, spec: TableSpec) -> dict[str, Any]:
        table = self._table(spec)
        if table is None:
            return {}
        if spec.zorder_by:
            return table.optimize.z_order(list(spec.zorder_by))
        return table.optimize.compact()

    def vacuum(self, spec: TableSpec, retention_hours: int, dry_run: bool = False) -> list[str]:
        table = self._table(spec)
        if table is None:
            return []
        return table.vacuum(
            retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False
        )

    def file_sink(self, spec: TableSpec) -> None:
        """None: the rows are in this process already, and delta-rs writes them."""
        return None

    def file_scan(self, spec: TableSpec, columns: Sequence[str], ranges: Any) -> None:
        """None: Polars reads the table lazily, as it needs it, already."""
        return None

    def append_files(
        self, spec: TableSpec, files: pa.Table, txns: Sequence[Txn] = ()
    ) -> WriteResult:
        """Never asked: :meth:`file_sink` gives no sink, so no files are staged here."""
        raise TypeError("the embedded engine writes its rows itself; it stages no files")

    @staticmethod
    def run_tasks(task: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """``task`` of each item, one after another in this process."""
        return [task(item) for item in items]

    def history(self, spec: TableSpec, limit: int | None = None) -> list[dict[str, Any]]:
        table = self._table(spec)
        return [] if table is None else table.history(limit)

    def release(self) -> None:
        """Nothing is cached beyond the frames Python holds."""


def _schema(spec: TableSpec) -> dict[str, Any]:
    return spec.schema.polars()


def empty(spec: TableSpec) -> pl.DataFrame:
    """No rows, the table's columns. Built by Polars: asking pyarrow for an empty table
    makes it import pandas (a third of a second) whenever pandas is installed."""
    return pl.DataFrame(schema=_schema(spec))


def data_frame(table: pa.Table) -> nw.DataFrame[Any]:
    return nw.from_native(pl.from_arrow(table))  # type: ignore[arg-type]


def _read_landing_file(path: str) -> pl.DataFrame:
    """A landing file's rows as found: CSV all text (typed by the caller, so a bad value
    is one bad row, not a bad file), JSON Lines and Parquet with their own types."""
    kind = landing_format(path)
    if kind == "csv":
        return pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
    if kind == "json":
        return pl.read_ndjson(path, infer_schema_length=None)
    return pl.read_parquet(path)
