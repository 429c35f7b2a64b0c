"""The few operations Narwhals cannot express well - time-based windows and elapsed time -
one native version per backend (Polars and PySpark).

Everything else in the transforms is engine-neutral. These functions take and return Narwhals
frames; inside, they dispatch on the frame's backend. On Spark the windows over a unit's
rows run the same Polars code on the executors, partition by partition (``mapInArrow``, each
unit's rows in one partition): Spark's sliding frames aggregate every row's window again,
and the shared code gives both engines the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import timedelta
from functools import cache, partial
from typing import Any

import narwhals as nw
import polars as pl
import pyarrow as pa

from altaviz.core.file_scan import FileScan, key_ranges, range_starts
from altaviz.core.file_sink import WRITTEN_FILES, FileSink
from altaviz.core.frames import Frame
from altaviz.transforms import unit_rows


def _native_polars(frame: Frame) -> Any:
    native = nw.to_native(frame)
    return native.collect() if isinstance(native, pl.LazyFrame) else native


def _is_spark(frame: Frame) -> bool:
    if frame.implementation.is_polars():
        return False
    if frame.implementation.is_pyspark():
        return True
    raise NotImplementedError(f"no native windows for {frame.implementation}")


def with_epoch_seconds(frame: Frame, columns: Mapping[str, str]) -> Frame:
    """Add ``name``: seconds since 1970 (float) of timestamp column ``column``, for each item.

    Narwhals has no elapsed-time arithmetic on every backend; differences of these columns
    are exact for microsecond timestamps within a few centuries.
    """
    if _is_spark(frame):
        from pyspark.sql import functions as F

        native = nw.to_native(frame)
        added = [(F.unix_micros(F.col(c)) / 1e6).alias(name) for name, c in columns.items()]
        return nw.from_native(native.select("*", *added))
    native = nw.to_native(frame)
    return nw.from_native(
        native.with_columns(
            (pl.col(c).dt.epoch("us") / 1e6).alias(name) for name, c in columns.items()
        )
    )


def with_epoch_micros(frame: Frame, columns: Mapping[str, str]) -> Frame:
    """Add ``name``: microseconds since 1970 (integer) of timestamp column ``column``, for
    each item: differences of these are exact, where seconds as floats lose the last digits
    of a date's magnitude."""
    if _is_spark(frame):
        from pyspark.sql import functions as F

        native = nw.to_native(frame)
        return nw.from_native(
            native.select("*", *(F.unix_micros(F.col(c)).alias(n) for n, c in columns.items()))
        )
    native = nw.to_native(frame)
    return nw.from_native(
        native.with_columns(pl.col(c).dt.epoch("us").alias(n) for n, c in columns.items())
    )


def literal_frame(like: Frame, data: Mapping[str, Sequence[Any]], text: Sequence[str]) -> Frame:
    """A small frame of ``data`` on ``like``'s backend, to join with it: the ``text`` columns
    as strings, every other column as floats (nulls allowed, so no type is left to guess).
    On Spark it is broadcast: Spark cannot size rows from Python, and would otherwise
    shuffle and sort every row of ``like`` to join them (a sort-merge join)."""
    if _is_spark(like):
        from pyspark.sql import types as T
        from pyspark.sql.functions import broadcast

        schema = T.StructType(
            [T.StructField(c, T.StringType() if c in text else T.DoubleType()) for c in data]
        )
        rows = [
            tuple(v if c in text or v is None else float(v) for c, v in zip(data, row, strict=True))
            for row in zip(*data.values(), strict=True)
        ]
        small = nw.to_native(like).sparkSession.createDataFrame(rows, schema)
        return nw.from_native(broadcast(small))
    schema = {c: nw.String() if c in text else nw.Float64() for c in data}
    frame = nw.from_dict(dict(data), schema=schema, backend=like.implementation)
    return frame.lazy() if isinstance(like, nw.LazyFrame) else frame


def latest_per_key(frame: Frame, keys: Sequence[str], newest_by: Sequence[str]) -> Frame:
    """One row per key: the one with the largest ``newest_by`` values (nulls oldest).

    On Polars the result is sorted by ``keys``.
    """

    def newest(native: pl.DataFrame) -> pl.DataFrame:
        native = native.sort([*keys, *newest_by], nulls_last=False)
        last = pl.lit(False)
        for k in keys:
            last = last | (pl.col(k) != pl.col(k).shift(-1)).fill_null(True)
        return native.filter(last)

    if _is_spark(frame):
        return _per_partition(frame, keys[:1], (), newest)
    return nw.from_native(newest(_native_polars(frame)))


def trailing_trimmed_mean(
    frame: Frame,
    columns: Sequence[str],
    count: int,
    min_count: int,
    within: timedelta,
    by: str = "compressor_id",
    order_by: str = "timestamp",
    regime: str | None = None,
) -> Frame:
    """Add ``_level_{column}``: the mean of the unit's previous ``count`` values with the
    largest and smallest dropped, when all ``count`` previous readings lie within ``within``
    and at least ``min_count`` of them are non-null; otherwise null. With ``regime`` (a
    column that only grows along a unit's rows), the previous readings must share the row's.

    On Polars the frame must be sorted by (by, order_by); it comes back in the same order.
    """
    if _is_spark(frame):
        return _per_partition(
            frame,
            [by],
            [by, order_by],
            lambda part: nw.to_native(
                trailing_trimmed_mean(
                    nw.from_native(part), columns, count, min_count, within, by, order_by, regime
                )
            ),
        )
    native = _native_polars(frame)
    # Sorted by unit and time: the count-th previous row is the same unit and recent
    # exactly when the whole trailing window is.
    whole = (pl.col(by).shift(count) == pl.col(by)) & (
        pl.col(order_by) - pl.col(order_by).shift(count) <= within
    )
    if regime is not None:
        whole = whole & (pl.col(regime).shift(count) == pl.col(regime))
    levels = []
    for c in columns:
        prev = pl.col(c).shift(1)
        n = prev.is_not_null().cast(pl.Int32).rolling_sum(count, min_samples=1)
        total = prev.rolling_sum(count, min_samples=1)
        high = prev.rolling_max(count, min_samples=1)
        low = prev.rolling_min(count, min_samples=1)
        levels.append(
            pl.when(whole & (n >= min_count))
            .then((total - high - low) / (n - 2))
            .alias(f"_level_{c}")
        )
    return nw.from_native(native.with_columns(levels))


def trailing_mean(
    frame: Frame,
    columns: Sequence[str],
    windows: Mapping[str, timedelta],
    min_samples: int,
    by: str | Sequence[str] = "compressor_id",
    order_by: str = "timestamp",
    weights: str | None = None,
) -> Frame:
    """Trailing time-window means per unit: a keyed frame of ``by``, ``order_by`` and
    ``{column}{suffix}`` for each ``suffix: window`` - the mean over the window ending at (and
    including) each row, null with fewer than ``min_samples`` non-null values (or, with
    ``weights``, a total weight below it). With ``weights`` each value counts that many times,
    so a rolling mean of hourly means is the mean of the underlying readings.

    Rows need only be time-ordered within each unit (units may interleave); the result comes
    back grouped by unit, in time order. Join it back on (by, order_by) for other columns.
    """
    keys = [by] if isinstance(by, str) else list(by)
    if _is_spark(frame):
        return _per_partition(
            frame,
            keys[:1],
            [*keys, order_by],
            lambda part: nw.to_native(
                trailing_mean(
                    nw.from_native(part), columns, windows, min_samples, keys, order_by, weights
                )
            ),
        )
    native = _native_polars(frame)
    if weights is None:
        values = {c: pl.col(c) for c in columns}
        counts = {c: pl.col(c).is_not_null().cast(pl.Int64) for c in columns}
    else:
        values = {c: (pl.col(c) * pl.col(weights)).fill_null(0) for c in columns}
        counts = {
            c: pl.when(pl.col(c).is_not_null()).then(pl.col(weights)).otherwise(0) for c in columns
        }
    prepared = native.select(
        *keys,
        order_by,
        *(values[c].alias(f"_v_{c}") for c in columns),
        *(counts[c].alias(f"_n_{c}") for c in columns),
    )
    result = None
    for suffix, window in windows.items():
        size = f"{int(window.total_seconds())}s"
        sums = prepared.rolling(index_column=order_by, period=size, group_by=keys).agg(
            *(pl.col(f"_v_{c}").sum() for c in columns),
            *(pl.col(f"_n_{c}").sum() for c in columns),
        )
        means = sums.select(
            *keys,
            order_by,
            *(
                pl.when(pl.col(f"_n_{c}") >= min_samples)
                .then(pl.col(f"_v_{c}") / pl.col(f"_n_{c}"))
                .alias(f"{c}{suffix}")
                for c in columns
            ),
        )
        # Every pass returns the same rows in the same order: add the columns side by side.
        result = means if result is None else result.hstack(means.drop(*keys, order_by))
    return nw.from_native(result)


def unit_partitions(units: int, days: int) -> int:
    """How many partitions Spark cuts ``units`` x ``days`` of readings into for the Polars
    code that runs per partition: one per 4,000 unit-days (1.15 M readings, a few hundred MB
    for Polars), so a worker's memory does not grow with the batch.

    >>> unit_partitions(4700, 10)
    12
    """
    return -(-units * days // 4000)


def per_unit(
    frame: Frame,
    compute: Callable[[Frame], Frame],
    by: str = "compressor_id",
    partitions: int | None = None,
) -> Frame:
    """``compute``, a transform of whole units' rows, over ``frame``: at once on Polars; on
    Spark on the executors, partition by partition with Polars, every unit's rows in one
    partition (see :func:`_per_partition`; ``partitions``: at least how many)."""
    if not _is_spark(frame):
        return compute(frame)

    def run(part: pl.DataFrame) -> pl.DataFrame:
        result = nw.to_native(compute(nw.from_native(part)))
        return result.collect() if isinstance(result, pl.LazyFrame) else result

    return _per_partition(frame, [by], (), run, partitions)


def per_unit_frames(
    frames: Mapping[str, Frame],
    compute: Callable[[dict[str, Frame]], dict[str, Frame]],
    order: Mapping[str, Sequence[str]],
    by: str = "compressor_id",
    partitions: int | None = None,
    large: Collection[str] = (),
    wide: Collection[str] = (),
    sinks: Mapping[str, FileSink] | None = None,
    small_to_driver: bool = False,
) -> dict[str, Frame]:
    """``compute``, a transform of several frames of whole units' rows into several frames,
    over ``frames``: at once on Polars; on Spark on the executors, partition by partition
    with Polars, every unit's rows of every frame in one partition (one shuffle for them
    all, one pass of the Polars code, the results kept on the executors' disks). The first
    input should be the largest: it travels as its own columns, the others as text (see
    :mod:`altaviz.transforms.unit_rows`).

    ``order``: per input, the columns its rows are sorted by before ``compute`` (on Spark;
    on Polars the frames are taken as they come). ``partitions``: on Spark, at least how
    many to cut the units into (see :func:`unit_partitions`). ``large``: the outputs about
    as large as the first input, read in the pass's own partitions (the others, a fraction
    of its rows, are read in at most a task per core). ``wide``: outputs of a fraction of
    its rows but of many columns, read in at most a task per core, and kept apart from the
    small outputs like the large ones. ``sinks``: outputs the sink given for each writes as
    files where they are computed (on Spark in each partition), instead of handing them
    back; each is returned as the frame of its files' rows (see :mod:`altaviz.core.file_sink`).
    ``small_to_driver``: on Spark, bring every output neither large nor wide (sinks' rows of
    files included) to the driver in one job, as the driver's frames: for outputs each of a
    few thousand rows that are read there anyway, rather than a job for each.

    The first input may be a :class:`FileScan` (on Spark): the units are then cut into
    ranges, one per partition (each range's key chosen so that Spark's hash partitioning
    sends it to a partition of its own), and each partition reads its range's rows from
    the files itself; the other inputs travel to the partition of their unit's range, the
    second as its own columns (it should be the largest of them).

    >>> readings = nw.from_native(pl.DataFrame({"compressor_id": ["C1", "C1", "C2"]}))
    >>> count = lambda f: {"units": f["readings"].select(nw.col("compressor_id").n_unique())}
    >>> per_unit_frames({"readings": readings}, count, {})["units"].item()
    2
    """
    sinks = sinks or {}
    names = list(frames)
    scan = frames[names[0]] if isinstance(frames[names[0]], FileScan) else None
    if scan is None and not _is_spark(frames[names[0]]):
        out = compute(dict(frames))
        for k, sink in sinks.items():
            files = sink.write(_collected(nw.to_native(out[k])))
            out[k] = sink.staged(nw.from_native(pl.from_arrow(files)))
        return out
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    natives = {n: nw.to_native(f) for n, f in frames.items() if n != names[0] or scan is None}
    spark = SparkSession.getActiveSession() if scan else natives[names[0]].sparkSession
    zone = spark.conf.get("spark.sql.session.timeZone")
    schemas = {n: to_arrow_schema(natives[n].schema, timezone=zone) for n in natives}
    parts = max(_spread(spark), partitions or 0)
    key = None
    if scan is not None:
        # The units in ranges, a range per partition: each partition reads its own range's
        # rows from the files, and every other input goes where its unit's range does.
        starts = range_starts(scan.keys(), parts)
        ranges = dict(zip(starts, key_ranges(starts), strict=True))
        natives[names[0]] = spark.createDataFrame([(s,) for s in starts], f"`{by}` string")
        schemas[names[0]] = scan.schema
        key = partial(_range_key, starts=starts, keys=_partition_keys(parts))
    # The first input packed travels as its own columns, the others as JSON text. A scan's
    # roster is a row per range: the input after it (the largest other) takes its place.
    # Gold's look-back (three days of hourly rows) as text cost the JVM 6 s of CPU a batch.
    packing = [names[1], names[0], *names[2:]] if scan is not None and len(names) > 1 else names
    packed = unit_rows.pack([natives[n] for n in packing], by, key)
    roster = pa.schema([pa.field(by, pa.string())])
    empty = {n: nw.from_native(pl.from_arrow(schemas[n].empty_table())) for n in names}
    outputs = {k: nw.to_native(v) for k, v in compute(empty).items()}
    out_names = list(outputs)
    out_schemas = {
        k: WRITTEN_FILES if k in sinks else _plain(_collected(v).to_arrow().schema)
        for k, v in outputs.items()
    }
    # Each output travels as chunks of its rows, a list of structs per row of the result: a
    # row of one output carries the others as null lists (an offset each). Structs side by
    # side carried a null for every field of every other output on every row, to the JVM
    # and its disks: a reading of the cleaning's pass with gold held some 200.
    outgoing = pa.schema(
        [pa.field(unit_rows.FRAME, pa.int32())]
        + [
            pa.field(f"_{j}", pa.list_(pa.struct(list(out_schemas[k]))))
            for j, k in enumerate(out_names)
        ]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        received = list(batches)
        if not received or not sum(b.num_rows for b in received):
            return
        whole = pl.from_arrow(pa.Table.from_batches(received))
        inputs = {}
        for i, n in enumerate(names):
            if i == 0 and scan is not None:
                mine = unit_rows.unpack(whole, packing.index(n), roster).get_column(by).to_list()
                rows = scan.read([ranges[s] for s in mine])
            else:
                rows = unit_rows.unpack(whole, packing.index(n), schemas[n])
            if order.get(n):
                rows = rows.sort(list(order[n]))
            inputs[n] = nw.from_native(rows)
        results = compute(inputs)
        for j, k in enumerate(out_names):
            rows = _collected(nw.to_native(results[k]))
            table = sinks[k].write(rows) if k in sinks else rows.to_arrow().cast(out_schemas[k])
            if table.num_rows:
                yield _chunked(table, j, outgoing)

    result = (
        packed.repartition(parts, unit_rows.BY)
        .mapInArrow(run, from_arrow_schema(outgoing))
        .localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)
    )
    # The small outputs are read in at most a task per core (a coalesce, never a shuffle):
    # each task writes a file per partition value it holds, and ten days of gold in twelve
    # partitions wrote 715 files for 52,000 daily rows. A large one keeps the pass's
    # partitions: in a task per core, each task sorted millions of rows for its write.
    cores = spark.sparkContext.defaultParallelism
    large = set(large) - set(sinks)  # a sink's output is a row per file
    big = [j for j, k in enumerate(out_names) if k in large or (k in wide and k not in sinks)]
    on_driver = [j for j in range(len(out_names)) if j not in big] if small_to_driver else []
    rest = result
    if big and len(big) + len(on_driver) < len(out_names):
        # Each read of an output scans the whole kept result: the others are kept apart from
        # the large and wide ones in one scan, rather than scanning millions of readings
        # for each (ten days' hourly aggregates among gold's small tables: 57 columns of
        # 1.1 M rows scanned by every read of the others, some 15 s of 240).
        rest = result.filter(~F.col(unit_rows.FRAME).isin(big)).localCheckpoint(
            eager=True, storageLevel=StorageLevel.DISK_ONLY
        )
    selected = {
        k: (result if j in big else rest)
        .filter(F.col(unit_rows.FRAME) == j)
        .select(F.inline(f"_{j}"))
        for j, k in enumerate(out_names)
        if j not in on_driver
    }
    out = {k: nw.from_native(v if k in large else v.coalesce(cores)) for k, v in selected.items()}
    if on_driver:
        driver = _to_driver(result, on_driver, out_schemas, out_names)
        out.update({k: nw.from_native(v) for k, v in driver.items()})
    return {k: sinks[k].staged(v) if k in sinks else v for k, v in out.items()}


def _range_key(column: Any, starts: Sequence[str], keys: Sequence[int]) -> Any:
    """Spark: the partition key (of ``keys``, one per range) of the range, of those
    beginning at ``starts``, that ``column``'s unit falls in, as
    :func:`altaviz.core.file_scan.key_ranges` cuts them."""
    from pyspark.sql import functions as F

    index = F.lit(1)
    for start in starts[1:]:
        index = index + (column >= F.lit(start)).cast("int")
    return F.element_at(F.array(*(F.lit(k).cast("long") for k in keys)), index)


@cache  # Spark's hash is fixed (Murmur3, seed 42): the keys hold for any session
def _partition_keys(parts: int) -> list[int]:
    """A key for each of ``parts`` partitions that Spark's hash partitioning sends there:
    with keys hashed by chance, three ranges of units had met in one partition of twelve,
    which then took 28 s of the pass's 40."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = SparkSession.active()
    probe = spark.range(0, 64 * parts).select(
        "id", F.expr(f"pmod(hash(id), {parts})").alias("partition")
    )
    found = probe.groupBy("partition").agg(F.min("id").alias("id")).collect()
    keys = {row["partition"]: row["id"] for row in found}
    return [keys[p] for p in range(parts)]


CHUNK_ROWS = 8192  # rows of an output per row of a pass's result


def _chunked(table: pa.Table, index: int, outgoing: pa.Schema) -> pa.RecordBatch:
    """Output ``index``'s rows as rows of ``outgoing``: ``CHUNK_ROWS`` of them a row, in
    column ``_{index}``, the other outputs' columns null."""
    rows = pa.StructArray.from_arrays(
        [c.combine_chunks() for c in table.columns], fields=list(table.schema)
    )
    offsets = pa.array([*range(0, table.num_rows, CHUNK_ROWS), table.num_rows], pa.int32())
    chunks = len(offsets) - 1
    columns = [pa.repeat(pa.scalar(index, pa.int32()), chunks)]
    for field in list(outgoing)[1:]:
        if field.name == f"_{index}":
            columns.append(pa.ListArray.from_arrays(offsets, rows, type=field.type))
        else:
            columns.append(pa.nulls(chunks, field.type))
    return pa.RecordBatch.from_arrays(columns, schema=outgoing)


def _to_driver(
    result: Any, outputs: Sequence[int], schemas: Mapping[str, pa.Schema], names: Sequence[str]
) -> dict[str, pl.DataFrame]:
    """Outputs ``outputs`` (indices into ``names``) of a pass's ``result``, collected in one
    Spark job and parted on the driver."""
    from pyspark.sql import functions as F

    wanted = result.filter(F.col(unit_rows.FRAME).isin(list(outputs))).toArrow()
    whole = pl.from_arrow(wanted)
    assert isinstance(whole, pl.DataFrame)
    parted = {}
    for j in outputs:
        column, schema = f"_{j}", schemas[names[j]]
        chunks = whole.filter(pl.col(unit_rows.FRAME) == j).get_column(column).explode()
        rows = chunks.drop_nulls().struct.unnest() if chunks.len() else None
        table = schema.empty_table() if rows is None else rows.to_arrow().cast(schema)
        parted[names[j]] = pl.from_arrow(table)
    return parted


def _collected(native: Any) -> pl.DataFrame:
    return native.collect() if isinstance(native, pl.LazyFrame) else native


# ----------------------------------------------------------------------------- PySpark


def _per_partition(
    frame: Frame,
    by: Sequence[str],
    sort_by: Sequence[str],
    compute: Callable[[pl.DataFrame], pl.DataFrame],
    partitions: int | None = None,
) -> Frame:
    """On Spark: ``compute`` (the Polars version of a window) run on the executors over each
    partition of ``frame``, hash-partitioned by ``by`` so that every unit's rows are in one
    partition, each partition sorted by ``sort_by`` first.

    Spark's own sliding windows aggregate each row's whole frame again (a 1-hour mean of
    six sensors over a day of the fleet took 11 s on two cores; Polars on the same rows,
    partition by partition, 3.6 s), and the Polars version gives the embedded engine's
    figures to the last digit.
    """
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    native = nw.to_native(frame)
    spark = native.sparkSession
    parts = max(_spread(spark), partitions or 0)
    incoming = to_arrow_schema(native.schema, timezone=spark.conf.get("spark.sql.session.timeZone"))
    outgoing = _plain(compute(pl.from_arrow(incoming.empty_table())).to_arrow().schema)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        received = list(batches)
        if not received or not sum(b.num_rows for b in received):
            return
        part = pl.from_arrow(pa.Table.from_batches(received))
        result = compute(part.sort(list(sort_by)) if sort_by else part)
        yield from result.to_arrow().cast(outgoing).to_batches()

    spread = native.repartition(parts, *by)
    return nw.from_native(spread.mapInArrow(run, from_arrow_schema(outgoing)))


def _spread(spark: Any) -> int:
    """The fewest partitions the per-partition code runs in: the shuffle's, and at least
    one per core."""
    return max(
        int(spark.conf.get("spark.sql.shuffle.partitions")), spark.sparkContext.defaultParallelism
    )


def _plain(schema: pa.Schema) -> pa.Schema:
    """``schema`` with Polars' large strings as plain ones and unsigned integers as signed
    ones (what Spark's Arrow reader takes)."""
    kinds = {
        pa.large_string(): pa.string(),
        pa.large_binary(): pa.binary(),
        pa.uint8(): pa.int16(),
        pa.uint16(): pa.int32(),
        pa.uint32(): pa.int64(),
        pa.uint64(): pa.int64(),
    }
    return pa.schema([f.with_type(kinds.get(f.type, f.type)) for f in schema])
