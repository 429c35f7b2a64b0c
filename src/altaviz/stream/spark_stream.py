"""The Spark Structured Streaming consumer: Kafka (or Event Hubs) into bronze, exactly once,
then silver, gold and alerts through the same transforms as the batch pipeline.

The query reads the topic with Spark's Kafka source, decodes each partition of messages with
the schema registry (:func:`altaviz.stream.decode.decode_messages`, in ``mapInArrow``), puts a
watermark on event time, and hands every micro-batch to ``foreachBatch``:

- the batch is judged by the bronze rules, its rejects appended to ``dead_letter`` and the
  rest to ``sensor_readings``, each write carrying the Delta idempotent-write options
  ``txnAppId`` (the query's ID) and ``txnVersion`` (the batch ID). Spark's checkpoint replays
  a batch whose offsets were not committed, and Delta skips the writes it already holds:
  exactly once;
- then the batch pipeline promotes the dates bronze gained. The processing-time trigger
  (``--trigger``, platform.yaml's 5 minutes) paces both.

The sink is stateless, so the watermark drops nothing: a reading however late still lands in
bronze, and promotion rebuilds the hours it belongs to.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.config import AppConfig
from altaviz.engines import Engine, Txn
from altaviz.pipeline import Gate, land_batch
from altaviz.stream import StreamError
from altaviz.stream.connection import Connection
from altaviz.stream.decode import DECODED_SCHEMA, decode_messages
from altaviz.stream.registry import Registry
from altaviz.stream.topics import DeadLetterTopic, load_schemas

log = logging.getLogger("altaviz.stream")


def kafka_package() -> str:
    """Maven coordinates of Spark's Kafka source for the installed PySpark."""
    import pyspark

    return f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}"


def kafka_options(conn: Connection) -> dict[str, str]:
    """Spark's Kafka source options for a connection (``kafka.``-prefixed client settings).

    >>> from altaviz.settings import Settings
    >>> from altaviz.stream.connection import connect
    >>> conn = connect("eventhub", Settings(eventhub_connection_string=
    ...     "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=listen;"
    ...     "SharedAccessKey=a2V5;EntityPath=compressor-telemetry"))
    >>> options = kafka_options(conn)
    >>> options["kafka.sasl.mechanism"], options["kafka.security.protocol"]
    ('PLAIN', 'SASL_SSL')
    >>> 'username="$ConnectionString"' in options["kafka.sasl.jaas.config"]
    True
    """
    config = conn.config
    options = {"kafka.bootstrap.servers": config["bootstrap.servers"]}
    if config.get("security.protocol"):
        options["kafka.security.protocol"] = config["security.protocol"]
        options["kafka.sasl.mechanism"] = config["sasl.mechanism"]
    if config.get("sasl.mechanism") == "PLAIN":
        secret = config["sasl.password"].replace("\\", "\\\\").replace('"', '\\"')
        options["kafka.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="$ConnectionString" password="{secret}";'
        )
    elif config.get("sasl.mechanism") == "OAUTHBEARER":
        raise StreamError(
            "the Spark consumer authenticates to Event Hubs with EVENTHUB_CONNECTION_STRING; "
            "Microsoft Entra sign-in is supported by the embedded consumer only"
        )
    return options


def _decoder(conn: Connection, schemas: list[dict[str, Any]], rules: Any) -> Callable:
    """The ``mapInArrow`` function: Kafka rows in, decoded rows out (on the executors)."""
    reader, writers = schemas[0], schemas

    def decode(batches: Iterator[Any]) -> Iterator[Any]:
        registry = Registry(reader, writers)
        for batch in batches:
            columns = batch.to_pydict()
            args = (
                conn.topic,
                columns["partition"],
                columns["offset"],
                columns["timestamp_ms"],
                columns["key"],
                columns["value"],
            )
            frame = decode_messages(*args, registry, rules)
            if frame["type_error"].str.starts_with("unknown schema fingerprint").any():
                load_schemas(conn, conn.schemas_topic, registry)  # a producer's newer schema
                frame = decode_messages(*args, registry, rules)
            yield from frame.to_arrow().to_batches()

    return decode


def _with_raw_record(letters: Any) -> Any:
    """The dead letter's ``raw_record``: the message as JSON, its payload in base64."""
    from pyspark.sql import functions as F

    raw = F.to_json(
        F.struct(
            "source",
            F.col("source_offset").alias("offset"),
            F.unix_millis("received_at").alias("timestamp_ms"),
            "key",
            F.base64("payload").alias("payload_base64"),
        ),
        {"ignoreNullFields": "false"},
    )
    return nw.from_native(nw.to_native(letters).select("*", raw.alias("raw_record")))


def run_spark_stream(
    engine: Engine,
    config: AppConfig,
    conn: Connection,
    checkpoint: str,
    promote: Callable[[], Any],
    stop: threading.Event,
    *,
    trigger_seconds: float | None = None,
    idle_exit_s: float | None = None,
) -> dict[str, Any]:
    """Run the streaming query until ``stop`` is set (the batch in flight is finished first)
    or the stream has been idle ``idle_exit_s``; a summary of what it consumed."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    spark = engine.spark  # type: ignore[attr-defined]
    rules = config.platform.stream
    registry = Registry.packaged()
    load_schemas(conn, conn.schemas_topic, registry)
    schemas = [registry.reader, *registry.schemas().values()]
    gate = Gate.of(engine, config)
    if not gate.fleet:
        raise StreamError(
            "no registered fleet in the lakehouse: pass --source with the fleet's "
            "compressor_metadata.parquet (written by `altaviz simulate`)"
        )
    # The decoder's output schema, from its one definition (decode.DECODED_SCHEMA).
    decoded_schema = from_arrow_schema(pl.DataFrame(schema=DECODED_SCHEMA).to_arrow().schema)
    source = (
        spark.readStream.format("kafka")
        .options(**kafka_options(conn))
        .option("subscribe", conn.topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(rules.max_batch_events))
        .load()
    )
    decoded = (
        source.select(
            "partition",
            "offset",
            F.unix_millis("timestamp").alias("timestamp_ms"),
            "key",
            "value",
        )
        .mapInArrow(_decoder(conn, schemas, rules), decoded_schema)
        .withWatermark("timestamp", f"{rules.watermark_minutes} minutes")
    )
    dead_letters = DeadLetterTopic(conn)
    totals = {"consumed": 0, "accepted": 0, "rejected": 0, "batches": 0, "promotions": 0}
    app_id: list[str] = []

    def write_batch(batch: Any, batch_id: int) -> None:
        if not app_id:  # the query's ID, kept in its checkpoint: stable across restarts
            metadata = spark.read.text(f"{checkpoint}/metadata").first()[0]
            query_id = json.loads(metadata)["id"]
            app_id.append(f"spark-stream:{conn.topic}:{query_id}")
        txn = [Txn(app_id[0], batch_id)]
        now = datetime.now(UTC)
        landed = land_batch(
            engine,
            nw.from_native(batch.localCheckpoint()),
            gate,
            now,
            meta=[
                nw.lit(now).alias("ingested_at"),
                nw.lit(f"{conn.topic}:spark-batch-{batch_id}").alias("batch_id"),
                nw.lit(now.date()).alias("ingestion_date"),
            ],
            raw_record=_with_raw_record,
            bronze_txns=txn,
            dead_txns=txn,
        )
        accepted, rejected = landed.accepted, landed.rejected
        if rejected:  # few: they come to the driver to be copied to the dead-letter topic
            copies = nw.to_native(landed.letters).select(*DeadLetterTopic.COLUMNS).collect()
            dead_letters.send(row.asDict() for row in copies)
        totals["consumed"] += accepted + rejected
        totals["accepted"] += accepted
        totals["rejected"] += rejected
        totals["batches"] += 1
        log.info("spark stream batch %d: %d accepted, %d rejected", batch_id, accepted, rejected)
        if accepted:
            promote()
            totals["promotions"] += 1

    trigger = trigger_seconds if trigger_seconds is not None else rules.trigger_seconds
    query = (
        decoded.writeStream.foreachBatch(write_batch)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime=f"{trigger:g} seconds")
        .queryName(f"altaviz-{conn.topic}")
        .start()
    )
    began = time.monotonic()
    last_rows = time.monotonic()
    try:
        while query.isActive and not stop.is_set():
            query.awaitTermination(1.0)
            progress = query.lastProgress
            if progress and progress.get("numInputRows", 0) > 0:
                last_rows = time.monotonic()
            idle = idle_exit_s is not None and time.monotonic() - last_rows >= idle_exit_s
            if idle and not query.status["isTriggerActive"]:
                break
        if query.exception() is not None:
            raise StreamError(f"the streaming query failed: {query.exception()}")
        # Let the batch in flight finish; its offsets are then committed in the checkpoint.
        while query.isActive and query.status["isTriggerActive"]:
            time.sleep(0.2)
    finally:
        query.stop()
        dead_letters.flush()
    elapsed = time.monotonic() - began
    return {
        **totals,
        "duration_s": round(elapsed, 3),
        "events_per_s": round(totals["consumed"] / elapsed, 1) if elapsed else 0.0,
        "checkpoint": checkpoint,
    }
