"""Stream a simulated fleet's telemetry to Kafka or Event Hubs, as its gateways would.

Each reading is one Avro message (see :mod:`altaviz.stream.registry`) keyed by compressor ID.
Partitions are shared out by basin: basin ``b`` of ``B`` owns the partitions ``p`` with
``p % B == b % P``, and a unit goes to one of its basin's partitions by a stable hash of its
ID, so a basin's traffic stays on its own partitions and a unit's readings stay in order. The
message timestamp is when the reading was received, so a replayed history keeps its late
arrivals late.

>>> plan = partition_plan(["COMP-0001", "COMP-0002"], ["Permian Basin", "Bakken"],
...                       ["Permian Basin", "Bakken"], 16)
>>> sorted(plan.values()) == sorted(set(plan.values()))
True
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from altaviz.core.sensors import SENSORS
from altaviz.stream import StreamError
from altaviz.stream.connection import Connection
from altaviz.stream.registry import Registry
from altaviz.stream.topics import publish_schema, topic_partitions

log = logging.getLogger("altaviz.stream")

FLUSH_TIMEOUT_S = 120.0


@dataclass
class DeliveryReport:
    """What the broker acknowledged."""

    produced: int = 0
    delivered: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def events_per_s(self) -> float:
        return round(self.delivered / self.duration_s, 1) if self.duration_s else 0.0

    def on_delivery(self, err: Any, _msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.errors[err.str()] = self.errors.get(err.str(), 0) + 1


def partition_plan(
    ids: Sequence[str], basins: Sequence[str], basin_order: Sequence[str], partitions: int
) -> dict[str, int]:
    """The partition of each unit: within its basin's share, by a stable hash of its ID.
    ``basins`` names each unit's basin as ``basin_order`` (fleet.yaml's basins) does."""
    index = {b: i for i, b in enumerate(basin_order)}
    count = len(basin_order)
    shares: dict[int, list[int]] = {}
    for b in range(count):
        own = [p for p in range(partitions) if p % count == b % partitions]
        shares[b] = own or [b % partitions]
    plan = {}
    for unit, basin in zip(ids, basins, strict=True):
        share = shares[index.get(basin, zlib.crc32(basin.encode()) % count)]
        plan[unit] = share[zlib.crc32(unit.encode()) % len(share)]
    return plan


class Pacer:
    """Holds a producer to ``rate`` events/s, or to the readings' own spacing (real time)."""

    def __init__(self, rate: float | None, realtime: bool) -> None:
        self.rate, self.realtime = rate, realtime
        self._began = time.monotonic()
        self._sent = 0
        self._first_us: int | None = None

    def wait(self, received_us: int) -> None:
        self._sent += 1
        if self.realtime:
            if self._first_us is None:
                self._first_us = received_us
            due = self._began + (received_us - self._first_us) / 1e6
        elif self.rate:
            due = self._began + self._sent / self.rate
        else:
            return
        delay = due - time.monotonic()
        if delay > 0.001:
            time.sleep(delay)


def telemetry_files(fleet: Path) -> list[Path]:
    files = sorted((fleet / "telemetry").glob("date=*/*.parquet"))
    if not files:
        raise StreamError(f"{fleet}: no telemetry/date=*/ files to stream")
    return files


def produce_fleet(
    conn: Connection,
    fleet: Path,
    basin_order: Sequence[str],
    *,
    rate: float | None = None,
    realtime: bool = False,
    registry: Registry | None = None,
    schema: dict[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> DeliveryReport:
    """Send every reading of a simulated fleet (``altaviz simulate``'s folder), in the order
    they were received; returns the delivery report once the broker acknowledged them all.

    ``schema`` is the writer schema (default: the registry's reader version); it is published
    to the registry topic first, so consumers can read it without being redeployed.
    """
    from confluent_kafka import KafkaException, Producer

    registry = registry or Registry.packaged()
    partitions = topic_partitions(conn).get(conn.topic)
    if partitions is None:
        raise StreamError(f"topic {conn.topic} does not exist on {conn.describe}")
    writer = schema or registry.reader
    if schema is not None:
        registry.register(schema)
    publish_schema(conn, conn.schemas_topic, writer)
    units = pl.read_parquet(
        fleet / "compressor_metadata.parquet", columns=["compressor_id", "basin"]
    )
    plan = partition_plan(
        units["compressor_id"].to_list(), units["basin"].to_list(), basin_order, partitions
    )
    files = telemetry_files(fleet)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    report = DeliveryReport()
    producer = Producer(
        conn.with_config(
            acks="all",
            enable_idempotence=True,  # retries never duplicate a message
            linger_ms=20,
            batch_num_messages=10000,
            compression_type="lz4",
            queue_buffering_max_messages=500000,
            retry_backoff_ms=100,
            retry_backoff_max_ms=5000,
            message_timeout_ms=int(FLUSH_TIMEOUT_S * 1000),
        )
    )
    pacer = Pacer(rate, realtime)
    began = time.monotonic()
    encode = registry.encoder(writer)
    for day in _by_landing_date(files):
        table = pl.concat([pl.read_parquet(f) for f in day]).sort(
            "received_at", maintain_order=True
        )
        stamps = table["timestamp"].dt.epoch("us").to_list()
        received = table["received_at"].dt.epoch("us").to_list()
        ids = table["compressor_id"].to_list()
        values = [table[s].to_list() for s in SENSORS]
        for i, unit in enumerate(ids):
            record = {"timestamp": stamps[i], "compressor_id": unit}
            for name, column in zip(SENSORS, values, strict=True):
                record[name] = column[i]
            payload = encode(record)
            pacer.wait(received[i])
            while True:
                try:
                    producer.produce(
                        conn.topic,
                        value=payload,
                        key=unit.encode(),
                        partition=plan.get(unit, zlib.crc32(unit.encode()) % partitions),
                        timestamp=received[i] // 1000,
                        on_delivery=report.on_delivery,
                    )
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.05)
                except KafkaException as exc:
                    raise StreamError(f"cannot produce to {conn.describe}: {exc}") from exc
            report.produced += 1
            if report.produced % 10000 == 0:
                producer.poll(0)
                if on_progress:
                    on_progress(report.produced, total)
    remaining = producer.flush(FLUSH_TIMEOUT_S)
    report.duration_s = round(time.monotonic() - began, 3)
    if remaining:
        report.failed += remaining
        report.errors["not acknowledged before the timeout"] = remaining
    if on_progress:
        on_progress(report.produced, total)
    return report


def _by_landing_date(files: list[Path]) -> list[list[Path]]:
    days: dict[str, list[Path]] = {}
    for f in files:
        days.setdefault(f.parent.name, []).append(f)
    return [days[d] for d in sorted(days)]
