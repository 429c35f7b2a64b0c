"""The Spark Structured Streaming consumer against a real Kafka broker, on local Spark with
real Delta Lake: killed with SIGKILL inside a micro-batch (after its bronze commit, before
Spark checkpointed the batch) and restarted from its checkpoint, it replays the batch, Delta
skips what it already holds, and every message is in bronze or dead letter exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from altaviz.config import load_config
from altaviz.fleet import SimulationRequest, simulate
from altaviz.stream.producer import produce_fleet
from altaviz.stream.registry import Registry
from altaviz.stream.service import stream_connection
from tests.conftest import START, read_table, read_telemetry
from tests.integration.test_stream import BASINS, _read_topic, readings, settings_for

pytest.importorskip("pyspark", reason="the Spark engine is an optional extra: make test has it")
pytest.importorskip("confluent_kafka", reason="streaming is an optional extra: make test has it")


def test_spark_consumer_killed_and_restarted_lands_everything_once(kafka_broker, tmp_path):
    fleet = tmp_path / "fleet"
    simulate(SimulationRequest(output=fleet, days=1, seed=3, start=START, demo=True))
    topic = f"telemetry-{uuid.uuid4().hex[:8]}"
    settings = settings_for(kafka_broker, topic)
    conn = stream_connection("kafka", settings, load_config())
    produce_fleet(conn, fleet, BASINS)
    from confluent_kafka import Producer

    registry = Registry.packaged()
    bad = [
        b"not avro",
        registry.encode({"timestamp": 0, "compressor_id": "COMP-0001"}),
        registry.encode({"timestamp": 1_780_000_000_000_000, "compressor_id": "COMP-4242"}),
    ]
    producer = Producer(conn.with_config())
    for payload in bad:
        producer.produce(conn.topic, value=payload, partition=5)
    assert producer.flush(30) == 0
    sent = read_telemetry(fleet)

    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap, "EVENTHUB_NAME": topic}
    lakehouse = tmp_path / "lake"
    command = [
        sys.executable, "-m", "altaviz", "pipeline", "--mode", "stream", "--engine", "spark",
        "--source", str(fleet), "--lakehouse", str(lakehouse), "--skip-db", "--trigger", "2",
        "--stop-when-idle", "8", "--json",
    ]  # fmt: skip
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while _landed(lakehouse) == 0:
        assert first.poll() is None, first.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no batch landed"
        time.sleep(0.5)
    first.send_signal(signal.SIGKILL)  # in the batch's promotion, before its checkpoint commit
    first.wait()
    checkpoint = lakehouse / "lh_bronze_raw" / "Files" / "checkpoints" / topic
    assert not (checkpoint / "commits" / "0").exists()
    assert _landed(lakehouse) == sent.height

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout)
    assert summary["promotions"] >= 1
    bronze = read_table(lakehouse, "sensor_readings")
    letters = read_table(lakehouse, "dead_letter")
    assert bronze.height == sent.height and letters.height == len(bad)
    assert readings(bronze).equals(readings(sent))
    assert sorted(letters["reason"].to_list()) == sorted(
        [
            "not an Avro single-object message (bad header)",
            "timestamp before 2000-01-01",
            "unknown compressor_id: not in the fleet",
        ]
    )
    ours = f"{topic}/".encode()
    copies = _read_topic(
        conn, conn.dead_letter_topic, lambda m: dict(m.headers())["source"].startswith(ours)
    )
    assert {m.value() for m in copies} == set(bad)  # at least once: a replay may repeat them
    hourly = read_table(lakehouse, "hourly_aggregates")
    assert hourly["reading_count"].sum() > 0
    assert (checkpoint / "commits" / "0").exists()  # the replayed batch is checkpointed now


def _landed(lakehouse: Path) -> int:
    """Rows in bronze; 0 while Spark is still creating the table."""
    from deltalake.exceptions import TableNotFoundError

    try:
        return read_table(lakehouse, "sensor_readings").height
    except TableNotFoundError:
        return 0
