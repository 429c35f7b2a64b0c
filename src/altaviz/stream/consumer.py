"""The embedded stream consumer: Kafka (or Event Hubs) micro-batches into bronze, exactly once,
then silver, gold and alerts incrementally.

Exactly once, whatever kills the process: each micro-batch is one Delta commit to
``dead_letter`` (when it has rejects) and then one to ``sensor_readings``, and each commit
records, per topic partition, the offset after the batch as a Delta application transaction
(``stream:<topic>:<partition>``). On start the consumer takes every partition of the topic
from the offsets bronze recorded, so a batch whose commit did not happen is read again and
one that did is not. One consumer writes a lakehouse's stream (the Spark consumer is the one
that scales out). Rows of a partition below a table's recorded offset are dropped
before writing, which makes a replay after a crash between the two commits harmless. Offsets
are committed to Kafka afterwards only so that lag shows in the usual tools; the lakehouse,
not the consumer group, is the source of truth.

>>> consumer = StreamConsumer(engine, config, connection)  # doctest: +SKIP
>>> consumer.run(threading.Event())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.config import AppConfig
from altaviz.core.frames import Frame
from altaviz.engines import Engine, Txn
from altaviz.lake import catalog as lake
from altaviz.pipeline import Gate, land_batch
from altaviz.stream import StreamError
from altaviz.stream.connection import Connection
from altaviz.stream.decode import RAW_RECORD, decode_messages
from altaviz.stream.registry import Registry
from altaviz.stream.topics import DeadLetterTopic, load_schemas, topic_partitions

log = logging.getLogger("altaviz.stream")

POLL_TIMEOUT_S = 0.5
POLL_CHUNK = 10_000  # messages per consume() call


def txn_id(topic: str, partition: int) -> str:
    """The Delta application-transaction ID of a topic partition.

    >>> txn_id("compressor-telemetry", 3)
    'stream:compressor-telemetry:3'
    """
    return f"stream:{topic}:{partition}"


@dataclass
class ConsumerStats:
    consumed: int = 0
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0  # replayed messages a table already held
    batches: int = 0
    promotions: int = 0
    started: float = field(default_factory=time.monotonic)
    reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        return {
            "consumed": self.consumed,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped_replays": self.skipped,
            "batches": self.batches,
            "promotions": self.promotions,
            "duration_s": round(elapsed, 3),
            "events_per_s": round(self.consumed / elapsed, 1) if elapsed else 0.0,
            "rejection_reasons": dict(sorted(self.reasons.items())),
        }


class StreamConsumer:
    """Consumes the telemetry topic into the lakehouse ``engine`` (the embedded engine).

    ``promote`` runs silver, gold and alerts over what bronze gained (the batch pipeline
    without a source); it is called every ``trigger_seconds``, when the stream goes idle, and
    before the consumer stops.
    """

    def __init__(
        self,
        engine: Engine,
        config: AppConfig,
        connection: Connection,
        *,
        promote: Callable[[], Any] | None = None,
        trigger_seconds: float | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.conn = connection
        self.rules = config.platform.stream
        self.promote = promote
        self.trigger_s = self.rules.trigger_seconds if trigger_seconds is None else trigger_seconds
        self.registry = registry or Registry.packaged()
        self.stats = ConsumerStats()
        self._positions: dict[str, dict[int, int]] = {}
        self._unpromoted = False
        self._last_promotion = time.monotonic()
        self._dead_letters = DeadLetterTopic(connection)

    # ------------------------------------------------------------------ positions

    def positions(self, spec: lake.TableSpec, partitions: int) -> dict[int, int]:
        """Offset after the last batch ``spec`` committed, per partition (absent: none)."""
        ids = {p: txn_id(self.conn.topic, p) for p in range(partitions)}
        versions = self.engine.txn_versions(spec, list(ids.values()))
        return {p: v for p, a in ids.items() if (v := versions[a]) is not None}

    # ------------------------------------------------------------------ the loop

    def run(
        self,
        stop: threading.Event,
        *,
        idle_exit_s: float | None = None,
        max_events: int | None = None,
    ) -> ConsumerStats:
        """Consume until ``stop`` is set (the batch in flight is finished first), or the stream
        has been idle ``idle_exit_s``, or ``max_events`` were consumed."""
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        partitions = topic_partitions(self.conn).get(self.conn.topic)
        if partitions is None:
            raise StreamError(f"topic {self.conn.topic} does not exist on {self.conn.describe}")
        self._gate = Gate.of(self.engine, self.config)
        if not self._gate.fleet:
            raise StreamError(
                "no registered fleet in the lakehouse: pass --source with the fleet's "
                "compressor_metadata.parquet (written by `altaviz simulate`)"
            )
        self._refresh_schemas()
        self._positions = {
            "bronze": self.positions(lake.SENSOR_READINGS, partitions),
            "dead": self.positions(lake.DEAD_LETTER, partitions),
        }
        consumer = Consumer(
            self.conn.with_config(
                group_id=self.conn.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                enable_partition_eof=False,
                queued_max_messages_kbytes=262144,
                fetch_max_bytes=52428800,
            )
        )

        # Every partition, from where the lakehouse says, never where the group last committed.
        # Assigned, not subscribed: a restart after a kill then resumes at once, instead of
        # waiting out the dead member's session in a group rebalance.
        bronze = self._positions["bronze"]
        consumer.assign(
            [
                TopicPartition(self.conn.topic, p, bronze.get(p, OFFSET_BEGINNING))
                for p in range(partitions)
            ]
        )
        idle_since = time.monotonic()
        try:
            while not stop.is_set():
                batch = self._poll_batch(consumer, stop)
                if batch:
                    idle_since = time.monotonic()
                    self._write_batch(batch)
                    self._commit_offsets(consumer, batch)
                    if time.monotonic() - self._last_promotion >= self.trigger_s:
                        self._promote()
                else:
                    if self._unpromoted:
                        self._promote()  # the stream is quiet: bring gold up to date now
                    if idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                        break
                if max_events is not None and self.stats.consumed >= max_events:
                    break
            if self._unpromoted:
                self._promote()
        finally:
            consumer.close()
            self._dead_letters.flush()
        return self.stats

    def _poll_batch(self, consumer: Any, stop: threading.Event) -> list[Any]:
        """Messages until the batch is full or ``max_batch_seconds`` after its first."""
        batch: list[Any] = []
        deadline: float | None = None
        limit = self.rules.max_batch_events
        while len(batch) < limit and not stop.is_set():
            wait = POLL_TIMEOUT_S if deadline is None else max(0.0, deadline - time.monotonic())
            messages = consumer.consume(min(POLL_CHUNK, limit - len(batch)), timeout=wait)
            for message in messages:
                error = message.error()
                if error is None:
                    batch.append(message)
                elif error.fatal():
                    raise StreamError(f"Kafka consumer failed: {error.str()}")
                else:
                    log.warning("consumer: %s", error.str())
            if batch and deadline is None:
                deadline = time.monotonic() + self.rules.max_batch_seconds
            if not messages and (deadline is None or time.monotonic() >= deadline):
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
        return batch

    def _refresh_schemas(self) -> None:
        load_schemas(self.conn, self.conn.schemas_topic, self.registry)

    # ------------------------------------------------------------------ one micro-batch

    def _write_batch(self, messages: list[Any]) -> None:
        topic = self.conn.topic
        fields = (
            [m.partition() for m in messages],
            [m.offset() for m in messages],
            [m.timestamp()[1] for m in messages],
            [m.key() for m in messages],
            [m.value() for m in messages],
        )
        decoded = decode_messages(topic, *fields, self.registry, self.rules)
        if decoded["type_error"].str.starts_with("unknown schema fingerprint").any():
            # A producer moved to a newer schema: learn it from the registry and read again.
            self._refresh_schemas()
            decoded = decode_messages(topic, *fields, self.registry, self.rules)
        now = datetime.now(UTC)
        ends = decoded.group_by("source_partition").agg(
            pl.col("source_offset").min().alias("first"),
            pl.col("source_offset").max().alias("last"),
        )
        next_offsets = {r["source_partition"]: r["last"] + 1 for r in ends.iter_rows(named=True)}
        batch_ids = {
            r["source_partition"]: f"{topic}/{r['source_partition']}:{r['first']}-{r['last']}"
            for r in ends.iter_rows(named=True)
        }
        self.stats.consumed += decoded.height
        landed = land_batch(
            self.engine,
            nw.from_native(decoded),
            self._gate,
            now,
            meta=[
                nw.lit(now).cast(nw.Datetime("us", "UTC")).alias("ingested_at"),
                nw.col("source_partition")
                .replace_strict(batch_ids, return_dtype=nw.String)
                .alias("batch_id"),
                nw.lit(now.date()).alias("ingestion_date"),
            ],
            raw_record=lambda letters: nw.from_native(
                nw.to_native(letters).with_columns(RAW_RECORD)
            ),
            bronze_txns=[Txn(txn_id(topic, p), v) for p, v in sorted(next_offsets.items())],
            dead_txns=[Txn(txn_id(topic, p), next_offsets[p]) for p in sorted(next_offsets)],
            unseen=self._new_rows,
        )
        letters = nw.to_native(landed.letters)
        if letters.height:
            self._dead_letters.send(letters.select(*DeadLetterTopic.COLUMNS).iter_rows(named=True))
            for reason, n in letters.group_by("reason").len().iter_rows():
                self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + n
        self._positions["dead"].update(next_offsets)
        self._positions["bronze"].update(next_offsets)
        self.stats.rejected += landed.rejected
        self.stats.accepted += landed.accepted
        self.stats.batches += 1
        self._unpromoted = True
        log.info(
            "stream batch %d: %d accepted, %d rejected",
            self.stats.batches,
            landed.accepted,
            landed.rejected,
        )

    def _new_rows(self, rows: Frame, spec: lake.TableSpec) -> Frame:
        """``rows`` a table does not hold yet (a replay after a crash between commits)."""
        recorded = self._positions["dead" if spec is lake.DEAD_LETTER else "bronze"]
        if not recorded:
            return rows
        native = nw.to_native(rows)
        floor = pl.col("source_partition").replace_strict(
            recorded, default=-1, return_dtype=pl.Int64
        )
        fresh = native.filter(pl.col("source_offset") >= floor)
        self.stats.skipped += native.height - fresh.height
        return nw.from_native(fresh)

    def _commit_offsets(self, consumer: Any, messages: list[Any]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        last: dict[int, int] = {}
        for m in messages:
            last[m.partition()] = max(last.get(m.partition(), -1), m.offset())
        offsets = [TopicPartition(self.conn.topic, p, o + 1) for p, o in last.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:  # advisory only: the lakehouse holds the truth
            log.warning("could not commit offsets to Kafka: %s", exc)

    def _promote(self) -> None:
        self._unpromoted = False
        self._last_promotion = time.monotonic()
        if self.promote is not None:
            self.promote()
            self.stats.promotions += 1
