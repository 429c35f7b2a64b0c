"""From Kafka messages to telemetry records: framing, Avro decoding and value checks.

Both consumers (embedded and Spark) call :func:`decode_messages` on a batch of messages. Each
message becomes one row: decoded fields when it could be read, otherwise nulls, and in either
case ``type_error`` saying what the registry found wrong (null when nothing). The bronze rules
(:func:`altaviz.transforms.bronze.rejection_reasons`) then judge IDs and timestamps, so every
message ends as exactly one bronze row or one dead letter.

The Kafka timestamp of a message is when the reading was received (``received_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from altaviz.config.schema import StreamRules
from altaviz.core.sensors import SENSORS
from altaviz.stream.registry import Registry, SchemaError

UTC_US = pl.Datetime("us", "UTC")
# The rows decode_messages returns: the raw-telemetry columns, where each came from, the
# registry's verdict and the message itself (kept for the dead letter).
DECODED_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": UTC_US,
    "compressor_id": pl.String(),
    **{s: pl.Float64() for s in SENSORS},
    "received_at": UTC_US,
    "source": pl.String(),
    "source_partition": pl.Int32(),
    "source_offset": pl.Int64(),
    "type_error": pl.String(),
    "key": pl.String(),
    "payload": pl.Binary(),
}


def decode_messages(
    topic: str,
    partitions: Sequence[int],
    offsets: Sequence[int],
    timestamps_ms: Sequence[int | None],
    keys: Sequence[bytes | None],
    values: Sequence[bytes | None],
    registry: Registry,
    rules: StreamRules,
) -> pl.DataFrame:
    """One row per message (schema :data:`DECODED_SCHEMA`), in the order given.

    >>> from altaviz.config import load_config
    >>> rules = load_config().platform.stream
    >>> registry = Registry.packaged()
    >>> ok = registry.encode({"timestamp": 0, "compressor_id": "COMP-0001", "horsepower": -5.0})
    >>> rows = decode_messages("t", [0, 0], [7, 8], [1000, 1000], [None, None],
    ...                        [ok, b"{}"], registry, rules)
    >>> for reason in rows["type_error"]:
    ...     print(reason)
    horsepower -5.0 outside the possible range [0, 100000]
    not an Avro single-object message (bad header)
    """
    stamps: list[int | None] = []
    ids: list[str | None] = []
    sensors: list[list[float | None]] = [[] for _ in SENSORS]
    errors: list[str | None] = []
    limit = rules.max_message_bytes
    decode = registry.decode
    for value in values:
        record: dict[str, Any] | None = None
        error = None
        if value is None:
            error = "empty message (no payload)"
        elif len(value) > limit:
            error = f"oversized payload: {len(value)} bytes (limit {limit})"
        else:
            try:
                record = decode(value)
            except SchemaError as exc:
                error = str(exc)
        if record is None:
            stamps.append(None)
            ids.append(None)
            for column in sensors:
                column.append(None)
        else:
            stamps.append(record["timestamp"])
            ids.append(record["compressor_id"])
            for column, name in zip(sensors, SENSORS, strict=True):
                column.append(record[name])
        errors.append(error)
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(stamps, dtype=pl.Int64),
            "compressor_id": pl.Series(ids, dtype=pl.String),
            **{
                name: pl.Series(col, dtype=pl.Float64)
                for name, col in zip(SENSORS, sensors, strict=True)
            },
            "received_at": pl.Series(timestamps_ms, dtype=pl.Int64),
            "source_partition": pl.Series(partitions, dtype=pl.Int32),
            "source_offset": pl.Series(offsets, dtype=pl.Int64),
            "type_error": pl.Series(errors, dtype=pl.String),
            "key": pl.Series(
                [k.decode("utf-8", "replace") if k else None for k in keys], dtype=pl.String
            ),
            "payload": pl.Series(values, dtype=pl.Binary),
        }
    )
    return frame.select(
        pl.col("timestamp").cast(UTC_US),
        "compressor_id",
        *SENSORS,
        (pl.col("received_at") * 1000).cast(UTC_US).alias("received_at"),
        pl.format("{}/{}", pl.lit(topic), pl.col("source_partition")).alias("source"),
        "source_partition",
        "source_offset",
        pl.coalesce("type_error", implausible(rules)).alias("type_error"),
        "key",
        "payload",
    )


def implausible(rules: StreamRules) -> pl.Expr:
    """The first sensor value no compressor could report: NaN, infinite, or outside the
    configured physical range; null when none. (Plausible but abnormal values are silver's
    concern: it nulls readings outside thresholds.yaml's tighter bounds.)"""
    checks: list[tuple[pl.Expr, pl.Expr]] = []
    for name in SENSORS:
        value = pl.col(name)
        lo, hi = rules.value_ranges[name]
        checks += [
            (value.is_nan(), pl.lit(f"{name} is NaN")),
            (value.is_infinite(), pl.lit(f"{name} is infinite")),
            (
                (value < lo) | (value > hi),
                pl.format(f"{name} {{}} outside the possible range [{lo:g}, {hi:g}]", value),
            ),
        ]
    (first, text), *rest = checks
    reason = pl.when(first).then(text)
    for condition, text in rest:
        reason = reason.when(condition).then(text)
    return reason.otherwise(None)


# The dead letter's ``raw_record``: the message as received, as JSON, the payload in base64
# so nothing is lost however corrupt it was.
RAW_RECORD = (
    pl.struct(
        pl.col("source"),
        pl.col("source_offset").alias("offset"),
        pl.col("received_at").dt.epoch("ms").alias("timestamp_ms"),
        pl.col("key"),
        pl.col("payload").bin.encode("base64").alias("payload_base64"),
    )
    .struct.json_encode()
    .alias("raw_record")
)
