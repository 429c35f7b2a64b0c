"""The stream's topics: creating them on a Kafka cluster, and the schema-registry topic.

On Event Hubs the hubs are provisioned by Terraform (``infrastructure/terraform``); on Kafka
:func:`ensure_topics` creates whatever is missing. The registry topic is compacted and has one
partition: each message is one schema, keyed by its fingerprint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from altaviz.stream import StreamError, StreamUnreachable
from altaviz.stream.connection import Connection
from altaviz.stream.registry import Registry, SchemaError, schema_fingerprint

TIMEOUT_S = 30.0


def ensure_topics(conn: Connection, schemas_topic: str, partitions: int) -> None:
    """Create the telemetry, dead-letter and registry topics where missing (Kafka only)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(conn.with_config())
    existing = topic_partitions(conn, admin=admin)
    wanted = {
        conn.topic: NewTopic(conn.topic, partitions, 1),
        conn.dead_letter_topic: NewTopic(conn.dead_letter_topic, partitions, 1),
        schemas_topic: NewTopic(schemas_topic, 1, 1, config={"cleanup.policy": "compact"}),
    }
    missing = [topic for name, topic in wanted.items() if name not in existing]
    if not missing or conn.target == "eventhub":
        return
    for name, future in admin.create_topics(missing, operation_timeout=TIMEOUT_S).items():
        try:
            future.result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise StreamError(f"cannot create topic {name}: {exc}") from exc


def topic_partitions(conn: Connection, admin: Any = None) -> dict[str, int]:
    """Every topic's partition count; :class:`StreamError` when the cluster is unreachable."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = admin or AdminClient(conn.with_config())
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S / 3)
    except KafkaException as exc:
        raise StreamUnreachable(f"cannot reach {conn.describe}: {exc.args[0].str()}") from exc
    return {name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None}


def publish_schema(conn: Connection, schemas_topic: str, schema: dict[str, Any]) -> bytes:
    """Put ``schema`` in the registry topic (keyed by fingerprint); its fingerprint."""
    from confluent_kafka import Producer

    fp = schema_fingerprint(schema)
    producer = Producer(conn.with_config(acks="all", enable_idempotence=True))
    failures: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(err.str())

    producer.produce(
        schemas_topic, key=fp.hex().encode(), value=json.dumps(schema).encode(), callback=report
    )
    if producer.flush(TIMEOUT_S) or failures:
        why = failures[0] if failures else "timed out"
        raise StreamError(f"cannot publish the schema to {schemas_topic}: {why}")
    return fp


def load_schemas(conn: Connection, schemas_topic: str, registry: Registry) -> int:
    """Learn every schema in the registry topic; the number read. A topic that does not
    exist yet holds none."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        conn.with_config(group_id=f"{conn.group}-schemas", enable_auto_commit=False)
    )
    try:
        if schemas_topic not in topic_partitions(conn):
            return 0
        low, high = consumer.get_watermark_offsets(
            TopicPartition(schemas_topic, 0), timeout=TIMEOUT_S
        )
        if high <= low:
            return 0
        consumer.assign([TopicPartition(schemas_topic, 0, OFFSET_BEGINNING)])
        read = 0
        position = low
        while position < high:
            message = consumer.poll(TIMEOUT_S)
            if message is None:
                raise StreamError(f"timed out reading the schema registry {schemas_topic}")
            if message.error():
                continue
            position = message.offset() + 1
            if message.value() is None:  # a tombstone: the schema was withdrawn
                continue
            try:
                registry.learn(json.loads(message.value()))
                read += 1
            except (ValueError, SchemaError):
                continue  # not a schema: messages that use it are dead-lettered as unknown
        return read
    finally:
        consumer.close()


class DeadLetterTopic:
    """Copies rejected messages to the dead-letter topic, with the reason and origin in
    headers, for the teams that own the producers. The ``dead_letter`` table is the record;
    the topic is a notification (at least once)."""

    COLUMNS = ("key", "payload", "reason", "source", "source_offset")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._producer: Any = None  # made when the first reject arrives

    def send(self, letters: Iterable[dict[str, Any]]) -> None:
        if self._producer is None:
            from confluent_kafka import Producer

            self._producer = Producer(self.conn.with_config(linger_ms=50))
        for row in letters:
            self._producer.produce(
                self.conn.dead_letter_topic,
                key=row["key"],
                value=None if row["payload"] is None else bytes(row["payload"]),
                headers={
                    "reason": row["reason"],
                    "source": row["source"],
                    "source_offset": str(row["source_offset"]),
                },
            )
        self._producer.poll(0)

    def flush(self, timeout_s: float = 10.0) -> None:
        if self._producer is not None:
            self._producer.flush(timeout_s)
