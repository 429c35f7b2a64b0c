"""The scale-out engine: PySpark for compute, Delta Lake (delta-spark) for tables.

The same engine interface as the Polars engine, so the pipeline runs unchanged on a laptop's
``local[*]`` Spark, on Microsoft Fabric or on any cluster. This is the only module that knows
Spark I/O. The spec's Spark rules hold throughout: explicit ``StructType`` read schemas
generated from the catalogue (never inferred), one ``select`` per projection (no chained
``withColumn``), ``broadcast()`` for the small dimension tables, MERGE through the Delta API,
OPTIMIZE with Z-ORDER BY, VACUUM with the configured retention.

The Delta transaction log's metadata (versions, application transactions, partition values)
is read with delta-rs, which reads the same log without starting a Spark job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import narwhals as nw
import pyarrow as pa

from altaviz.core.file_scan import FileScan, scannable
from altaviz.core.frames import local
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
from altaviz.engines.delta_log import DeltaLogMetadata, sql_in
from altaviz.engines.staged_files import DeltaFileSink, commit_files, remove_files
from altaviz.lake.catalog import TableSpec
from altaviz.lake.location import LakeLocation
from altaviz.lake.schema import spark_type

# Tables of the fleet's size, not the telemetry's: read and written on the driver with
# delta-rs (as the log's metadata is), and broadcast to every executor when joined. A Spark
# job to read or MERGE a few thousand rows costs more than the rows: on two cores the first
# day's bookkeeping alone took 80 jobs and 20 s.
SMALL_TABLES = frozenset(
    {
        "compressor_metadata",
        "compressor_metadata_history",
        "stations",
        "maintenance_events",
        "unit_baselines",
        "packing_measurements",
        "quality_metrics",
        "fleet_health",
        "compliance_reports",
        "pipeline_runs",
        "pipeline_state",
        "landing_files",
        "cases",
        "case_events",
        "notifications",
        "model_metrics",
    }
)
# Tables Spark reads (they grow with the history) but whose batches are at most a row per
# unit and day, or a few alerts: written on the driver by delta-rs, like the small tables.
# A commit through Spark costs some seven jobs, most of them rebuilding the table's snapshot,
# about a second however few the rows.
DRIVER_WRITTEN = SMALL_TABLES | {"daily_aggregates", "operating_mode_days", "alert_history"}
# JSON of a rejected record: every field, null ones too, timestamps to the microsecond.
JSON_OPTIONS = {
    "ignoreNullFields": "false",
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",  # microseconds, as recorded
}
# Tables Spark creates stay readable and writable by delta-rs (the embedded engine).
TABLE_PROPERTIES = {"delta.minReaderVersion": "1", "delta.minWriterVersion": "2"}


class SparkEngine(DeltaLogMetadata):
    """Reads and writes the lakehouse with Spark and Delta Lake.

    >>> engine = SparkEngine(LakeLocation({"bronze": "lh_bronze_raw"}, "/tmp/lk"))  # doctest: +SKIP
    >>> engine.name  # doctest: +SKIP
    'spark'
    """

    name = "spark"
    one_txn_per_commit = True  # Delta's writer records one (txnAppId, txnVersion) per commit
    carries_frames = False  # see Engine.carries_frames: day-to-day frames are re-read

    def __init__(self, location: LakeLocation, spark: Any | None = None) -> None:
        from altaviz.engines.polars_engine import PolarsEngine
        from altaviz.engines.spark_session import spark_session

        super().__init__(location)
        self.spark = spark or spark_session()
        self._driver = PolarsEngine(location)  # the small tables' reader and writer
        # Files a pass wrote, by the frame of their rows (kept here: ids are reused once freed).
        self._staged: dict[int, tuple[Any, pa.Table, str]] = {}
        # Ten dates at a time: a batch's pass has a partition per ~4,000 unit-days and each
        # writes a file per date, so a batch's files grow with the square of its dates. The
        # default fleet's 30 days took 203 s in one batch and 188 s in three of ten.
        self.batch_days = batch_days(10)

    def jobs_run(self) -> int:
        """Spark jobs this session has started so far (job IDs count up from 0)."""
        tracker = self.spark.sparkContext.statusTracker()
        ids = list(tracker.getJobIdsForGroup(None)) + list(tracker.getActiveJobsIds())
        return max(ids) + 1 if ids else 0

    # ------------------------------------------------------------------ reading

    def _empty(self, spec: TableSpec) -> Any:
        return self.spark.createDataFrame([], spec.schema.spark())

    def _native(self, spec: TableSpec) -> Any:
        """The table as a Spark DataFrame with the catalogue's schema, in its column order."""
        if not self.exists(spec):
            return self._empty(spec)
        if spec.name in SMALL_TABLES:
            from pyspark.sql.functions import broadcast

            rows = self._driver.read(spec).collect().to_native().to_arrow()
            return broadcast(_conform(self.spark.createDataFrame(rows), spec))
        if self._local_lake():
            return self._files_of(spec)
        frame = self.spark.read.format("delta").load(self.uri(spec))
        return frame.select(*spec.schema.names)

    def _files_of(self, spec: TableSpec) -> Any:
        """The table's rows read from the files its log lists (with delta-rs): Spark's own
        Delta reader first replays the log in Spark jobs, three to five per table and read,
        the first of them some seconds while the JVM warms up. Tables here have no deletion
        vectors or column mapping (protocol 1/2), so the files' rows are the table's, and
        the partition values are in their paths."""
        table = self._table(spec)
        files = sorted(table.file_uris()) if table is not None else []
        if not files:
            return self._empty(spec)
        reader = self.spark.read.schema(spec.schema.spark()).option("basePath", self.uri(spec))
        return _conform(reader.parquet(*files), spec)

    def read(self, spec: TableSpec, where: nw.Expr | None = None) -> nw.LazyFrame[Any]:
        frame = nw.from_native(self._native(spec))
        return frame if where is None else frame.filter(where)

    def read_local(self, spec: TableSpec, where: nw.Expr | None = None) -> nw.DataFrame[Any]:
        # Read on the driver: no Spark job to collect (the small tables are read there anyway).
        if spec.name in SMALL_TABLES or self._local_lake():
            return self._driver.read_local(spec, where)
        return local(self.read(spec, where))

    def read_files(self, spec: TableSpec, files: Sequence[str]) -> nw.LazyFrame[Any]:
        schema = spec.schema.spark()
        stored = [f for f in schema.fields if f.name not in spec.partition_by]
        if not files:
            return nw.from_native(self._empty(spec).select(*(f.name for f in stored)))
        from pyspark.sql import types as T

        # The files themselves: a Delta read would first match every row of the table to
        # its file's name.
        return nw.from_native(self.spark.read.schema(T.StructType(stored)).parquet(*files))

    # ------------------------------------------------------------------ landing files

    def read_source(
        self, path: str, columns: Mapping[str, str], required: Sequence[str]
    ) -> nw.LazyFrame[Any]:
        """A landing Parquet file as the given columns, never failing on a bad value: adds
        ``source_offset`` (row number in the file), ``type_error`` and ``raw_record``."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        kind = landing_format(path)
        if kind == "csv":  # the header's columns, each as text: typed below, value by value
            header = self.spark.read.text(path).first()
            names = [n.strip() for n in (header[0] if header else "").split(",")]
            text = T.StructType([T.StructField(n, T.StringType()) for n in names])
            raw = self.spark.read.schema(text).option("header", True).csv(path)
        elif kind == "json":  # the telemetry's columns as text (JSON numbers keep their text)
            text = T.StructType([T.StructField(n, T.StringType()) for n in columns])
            raw = self.spark.read.schema(text).json(path)
        else:
            raw = self.spark.read.parquet(path)
        original = [c for c in raw.columns if c != "_corrupt_record"]
        present = dict(raw.dtypes)
        # Parquet files number their rows; text files get an increasing ID instead.
        offset = (
            F.col("_metadata.row_index") if kind == "parquet" else F.monotonically_increasing_id()
        )
        exprs = [offset.cast("long").alias("source_offset")]
        errors = []
        for name, kind in columns.items():
            target = spark_type(kind)  # type: ignore[arg-type]
            if name not in present:
                exprs.append(F.lit(None).cast(target).alias(name))
                if name in required:
                    errors.append(F.lit(f"missing column {name}"))
                continue
            value = F.col(name)
            if present[name] == target.simpleString():  # already its type: nothing to check
                exprs.append(value.alias(name))
                continue
            if kind == "timestamp" and present[name] == "string":
                cast = F.try_to_timestamp(value)
            else:
                cast = value.try_cast(target)
            exprs.append(cast.alias(name))
            errors.append(
                F.when(
                    value.isNotNull() & cast.isNull(),
                    F.format_string(
                        "%s: cannot read %s as %s", F.lit(name), value.cast("string"), F.lit(kind)
                    ),
                )
            )
        type_error = F.coalesce(*errors) if errors else F.lit(None).cast(T.StringType())
        record = F.to_json(F.struct(*original), JSON_OPTIONS)
        frame = raw.select(
            *exprs,
            type_error.alias("type_error"),
            F.when(type_error.isNotNull(), record).alias("raw_record"),
        )
        return nw.from_native(frame)

    def read_file(self, path: str, spec: TableSpec) -> nw.DataFrame[Any]:
        """A Parquet file conformed to a catalogue table's schema (reference data): of the
        fleet's size, so read on the driver, as the small tables are."""
        return self._driver.read_file(path, spec)

    def frame(self, spec: TableSpec, data: Mapping[str, Sequence[Any]]) -> Frame:
        """A frame of ``spec``'s schema from columns of Python values: on the driver for a
        table the driver writes, or on local Spark (no Spark job to build it and collect it
        back), else Spark's."""
        if spec.name in DRIVER_WRITTEN or self._local_lake():
            return self._driver.frame(spec, data)
        names = spec.schema.names
        rows = list(zip(*(data[c] for c in names), strict=True))
        return nw.from_native(self.spark.createDataFrame(rows, spec.schema.spark()))

    @staticmethod
    def fill_json(frame: Frame, columns: Sequence[str], into: str) -> nw.LazyFrame[Any]:
        """Fill nulls of column ``into`` with the row's ``columns`` encoded as JSON."""
        from pyspark.sql import functions as F

        native = nw.to_native(frame)
        encoded = F.to_json(F.struct(*columns), JSON_OPTIONS)
        filled = [
            F.coalesce(F.col(into), encoded).alias(into) if c == into else c for c in native.columns
        ]
        return nw.from_native(native.select(*filled))

    # ------------------------------------------------------------------ writing

    def _frame(self, spec: TableSpec, frame: Frame) -> Any:
        """``frame`` as a Spark DataFrame of the table's schema (one ``select`` of casts)."""
        native = nw.to_native(frame)
        if not hasattr(native, "sparkSession"):  # a frame computed on the driver (the models)
            table = spec.schema.conform(nw.from_native(native).lazy().collect().to_arrow())
            native = self.spark.createDataFrame(table)
        return _conform(native, spec)

    def _create(self, spec: TableSpec) -> None:
        """Create the table with the catalogue's exact schema (nullability included): with
        delta-rs, which writes the first commit of the log without a Spark job."""
        if self.exists(spec):
            self.evolve(spec)
            return
        from deltalake import DeltaTable

        DeltaTable.create(
            self.uri(spec),
            schema=spec.schema.arrow(),
            mode="ignore",
            partition_by=list(spec.partition_by) or None,
            configuration={**TABLE_PROPERTIES, **spec.table_properties()},
            storage_options=self._options,
        )

    def _on_driver(self, frame: Frame) -> nw.DataFrame[Any]:
        """A small frame brought to the driver, for delta-rs to write."""
        native = nw.to_native(frame)
        if hasattr(native, "sparkSession"):
            import polars as pl

            return nw.from_native(pl.from_arrow(native.toArrow()))
        return nw.from_native(native).lazy().collect()

    def _by_driver(self, spec: TableSpec, frame: Frame) -> bool:
        """Whether delta-rs on the driver writes ``frame`` to ``spec``: always for the tables
        the driver writes; on local Spark, for any frame already on the driver (a dead
        letter, the models' drift). Spark's Delta writer cost a run 8-15 s the first time
        the JVM used it, for a few rows."""
        on_driver = not hasattr(nw.to_native(frame), "sparkSession")
        return spec.name in DRIVER_WRITTEN or (on_driver and self._local_lake())

    def append(self, spec: TableSpec, frame: Frame, txns: Sequence[Txn] = ()) -> WriteResult:
        if self._by_driver(spec, frame):
            return self._driver.append(spec, self._on_driver(frame), txns)
        if len(txns) > 1:
            raise ValueError("Delta on Spark records one application transaction per commit")
        data = self._frame(spec, frame)
        self._create(spec)
        if not txns and data.isEmpty():
            return WriteResult(0)
        writer = data.write.format("delta").mode("append")
        if txns:
            writer = writer.option("txnAppId", txns[0].app_id).option("txnVersion", txns[0].version)
        writer.save(self.uri(spec))
        return self._written(spec)

    def replace(
        self, spec: TableSpec, frame: Frame, partitions: Partitions, txns: Sequence[Txn] = ()
    ) -> WriteResult:
        native = nw.to_native(frame)
        rows, files, _ = self._staged.get(id(native), (None, None, ""))
        if rows is native and files is not None:  # written by a pass already: commit its files
            del self._staged[id(native)]
            return self._commit_files(spec, files, partitions, txns)
        if self._by_driver(spec, frame):
            return self._driver.replace(spec, self._on_driver(frame), partitions, txns)
        if len(txns) > 1:
            raise ValueError("Delta on Spark records one application transaction per commit")
        data = self._frame(spec, frame)
        self._create(spec)
        writer = (
            data.write.format("delta").mode("overwrite").option("replaceWhere", sql_in(partitions))
        )
        if txns:
            writer = writer.option("txnAppId", txns[0].app_id).option("txnVersion", txns[0].version)
        writer.save(self.uri(spec))
        return self._written(spec)

    def merge(self, spec: TableSpec, frame: Frame, txns: Sequence[Txn] = ()) -> WriteResult:
        if self._by_driver(spec, frame):
            return self._driver.merge(spec, self._on_driver(frame), txns)
        if not spec.keys:
            raise ValueError(f"{spec.name} has no natural keys to merge on")
        if txns:
            raise ValueError("MERGE on Spark records no application transaction")
        from delta.tables import DeltaTable

        data = self._frame(spec, frame)
        self._create(spec)
        if data.isEmpty():
            return WriteResult(0)
        on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in spec.keys)
        (
            DeltaTable.forPath(self.spark, self.uri(spec))
            .alias("t")
            .merge(data.alias("s"), on)
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute()
        )
        return self._written(spec)

    def _written(self, spec: TableSpec) -> WriteResult:
        """Rows the table's latest commit wrote, from its metrics in the log (no Spark job)."""
        table = self._table(spec)
        metrics = (table.history(1)[0].get("operationMetrics") if table else None) or {}
        if "numSourceRows" in metrics:  # MERGE
            return WriteResult(int(metrics["numSourceRows"]))
        return WriteResult(int(metrics.get("numOutputRows", 0)))

    # ------------------------------------------------------------------ files a pass writes

    def file_sink(self, spec: TableSpec) -> DeltaFileSink | None:
        """On local Spark with a local lakehouse, a sink for a pass to write the table's rows
        with Polars where it computes them. Handing them over to the JVM, keeping them on its
        disks and encoding them again cost more than the Polars code that made them (ten
        days' silver: the write alone 23 s of 230). A cluster keeps Spark's own writer,
        which spreads over its executors and writes to any store."""
        if not self._writes_files(spec):
            return None
        return DeltaFileSink(spec, self.uri(spec), stager=self)

    def _writes_files(self, spec: TableSpec) -> bool:
        """Whether passes read and write ``spec``'s files themselves: on local Spark, with a
        local lakehouse, for the telemetry-sized tables."""
        return spec.name not in DRIVER_WRITTEN and self._local_lake()

    def _local_lake(self) -> bool:
        """Whether Spark runs on this machine (``local[*]``) and the lakehouse is on its disk:
        the driver then reads what it keeps with delta-rs, and Spark reads the files the
        log lists."""
        return not self.location.onelake and self.spark.sparkContext.master.startswith("local")

    def append_files(
        self, spec: TableSpec, files: pa.Table, txns: Sequence[Txn] = ()
    ) -> WriteResult:
        """Commit files a :meth:`file_sink` wrote (rows of ``WRITTEN_FILES``) as an append
        recording ``txns``, in one delta-rs commit (no Spark job); nothing when the table has
        recorded ``txns`` already."""
        return self._commit_files(spec, files, None, txns)

    def _commit_files(
        self, spec: TableSpec, files: pa.Table, partitions: Partitions | None, txns: Sequence[Txn]
    ) -> WriteResult:
        self._create(spec)
        table = self._table(spec)
        assert table is not None  # just created
        schema = spec.schema.arrow()
        return WriteResult(commit_files(table, schema, spec.partition_by, files, partitions, txns))

    def run_tasks(self, task: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """``task`` of each item, each a Spark task of its own, in one job; the results, in
        order, collected to the driver (keep them small: a row per file written, a count)."""
        if not items:
            return []
        return self.spark.sparkContext.parallelize(list(items), len(items)).map(task).collect()

    def file_scan(
        self, spec: TableSpec, columns: Sequence[str], ranges: Sequence[tuple[datetime, datetime]]
    ) -> FileScan | None:
        """On local Spark with a local lakehouse (as :meth:`file_sink`), the table's rows in
        ``ranges`` of its ``timestamp`` for a pass to read itself: the files whose statistics
        overlap a range (or that have none), from the log."""
        if not self._writes_files(spec):
            return None
        import polars as pl

        fields = spec.schema.arrow()
        schema = pa.schema([fields.field(c) for c in columns])
        table = self._table(spec)
        if table is None:
            return FileScan((), schema, "compressor_id", "timestamp", tuple(ranges))
        files = pl.DataFrame(table.get_add_actions(flatten=True))
        if files.height and "min.timestamp" in files.columns:
            low, high = pl.col("min.timestamp"), pl.col("max.timestamp")
            overlaps = [(low < hi) & (high >= lo) for lo, hi in ranges]
            files = files.filter(low.is_null() | high.is_null() | pl.any_horizontal(overlaps))
        root = self.uri(spec).rstrip("/")
        paths = tuple(f"{root}/{unquote(p)}" for p in files.get_column("path").to_list())
        if not scannable(paths, "compressor_id", "timestamp"):
            return None  # each partition would read every file whole: Spark's shuffle is less
        return FileScan(paths, schema, "compressor_id", "timestamp", tuple(ranges))

    def staged(self, sink: DeltaFileSink, files: Frame) -> Frame:
        """The rows of the files ``sink`` wrote, read from them; :meth:`replace` of this
        frame commits the files."""
        written = local(files).to_arrow()
        if written.num_rows == 0:
            rows = self._empty(sink.spec)
        else:
            paths = [f"{sink.root}/{p}" for p in written["path"].to_pylist()]
            reader = self.spark.read.schema(sink.spec.schema.spark()).option("basePath", sink.root)
            rows = _conform(reader.parquet(*paths), sink.spec)
        self._staged[id(rows)] = (rows, written, sink.root)
        return nw.from_native(rows)

    # ------------------------------------------------------------------ maintenance

    def optimize(self, spec: TableSpec) -> dict[str, Any]:
        if not self.exists(spec):
            return {}
        from delta.tables import DeltaTable

        builder = DeltaTable.forPath(self.spark, self.uri(spec)).optimize()
        if spec.zorder_by:
            result = builder.executeZOrderBy(*spec.zorder_by)
        else:
            result = builder.executeCompaction()
        metrics = result.select("metrics.*").first()
        return {} if metrics is None else metrics.asDict(recursive=True)

    def vacuum(self, spec: TableSpec, retention_hours: int, dry_run: bool = False) -> list[str]:
        if not self.exists(spec):
            return []
        dry = " DRY RUN" if dry_run else ""
        table = self.uri(spec).replace("`", "``")
        result = self.spark.sql(f"VACUUM delta.`{table}` RETAIN {int(retention_hours)} HOURS{dry}")
        return [row[0] for row in result.collect()] if dry_run else []

    def history(self, spec: TableSpec, limit: int | None = None) -> list[dict[str, Any]]:
        if not self.exists(spec):
            return []
        from delta.tables import DeltaTable

        table = DeltaTable.forPath(self.spark, self.uri(spec))
        frame = table.history(limit) if limit else table.history()
        return [row.asDict(recursive=True) for row in frame.collect()]

    def release(self) -> None:
        """Unpersist the frames cached during a run; delete files staged and not committed
        (a pass's output the run did not keep)."""
        self.spark.catalog.clearCache()
        for _, files, root in self._staged.values():
            remove_files(root, files)
        self._staged.clear()


def _conform(native: Any, spec: TableSpec) -> Any:
    """The catalogue's columns in order, cast to its types, in one ``select``."""
    from pyspark.sql import functions as F

    schema = spec.schema.spark()
    return native.select(*(F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields))
