"""How far the lakehouse is behind the stream: per partition, the next offset bronze has
recorded (its Delta application transaction) against the topic's end offset."""

from __future__ import annotations

from dataclasses import dataclass

from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.stream import StreamUnreachable
from altaviz.stream.connection import Connection
from altaviz.stream.consumer import txn_id

TIMEOUT_S = 2.0


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    recorded: int | None  # next offset bronze holds; None: never consumed
    end: int | None  # the topic's end offset; None: the broker was not asked or not reached

    @property
    def lag(self) -> int | None:
        if self.end is None:
            return None
        return max(self.end - (self.recorded or 0), 0)


def recorded_offsets(engine: Engine, topic: str, partitions: int) -> dict[int, int]:
    """The next offset bronze recorded per partition of ``topic`` (absent: none yet)."""
    if not engine.exists(lake.SENSOR_READINGS):
        return {}
    ids = {p: txn_id(topic, p) for p in range(partitions)}
    versions = engine.txn_versions(lake.SENSOR_READINGS, list(ids.values()))
    return {p: v for p, app in ids.items() if (v := versions[app]) is not None}


def stream_lag(engine: Engine, conn: Connection, partitions: int) -> list[PartitionLag]:
    """Per partition, what bronze recorded and the topic's end offset; empty when this
    lakehouse never consumed the topic. :class:`StreamError` when the broker is unreachable."""
    recorded = recorded_offsets(engine, conn.topic, partitions)
    if not recorded:
        return []
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        conn.with_config(**{"group.id": f"{conn.group}-lag", "enable.auto.commit": False})
    )
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(conn.topic, p), timeout=TIMEOUT_S)[1]
            for p in range(partitions)
        }
    except KafkaException as exc:
        raise StreamUnreachable(f"cannot reach {conn.describe}: {exc.args[0].str()}") from exc
    finally:
        consumer.close()
    return [PartitionLag(p, recorded.get(p), ends[p]) for p in range(partitions)]
