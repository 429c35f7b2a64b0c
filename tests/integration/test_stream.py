"""Streaming ingestion against a real Kafka broker: every message lands exactly once (bronze or
dead letter) through consumer kills and a broker restart, bad messages are dead-lettered with
their reasons, a newer compatible schema is read without a redeploy, and the stream builds the
same gold as the batch pipeline over the same readings (late and out-of-order ones included).
"""

from __future__ import annotations

import base64
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
import yaml

from altaviz.config import load_config, packaged_config_dir
from altaviz.core.sensors import SENSORS
from altaviz.engines import open_engine
from altaviz.fleet import SimulationRequest, simulate
from altaviz.lake import catalog as lake
from altaviz.settings import Settings
from altaviz.stream.producer import produce_fleet
from altaviz.stream.registry import Registry, SchemaError
from altaviz.stream.service import StreamRequest, run_stream, stream_connection
from altaviz.stream.topics import publish_schema
from altaviz.web.reports import stream_positions
from tests.conftest import START, read_table, read_telemetry, run_lake
from tests.lake_parity import differences

pytest.importorskip("confluent_kafka", reason="streaming is an optional extra: make test has it")

BASINS = [b.name for b in load_config().fleet.basins]  # as compressor_metadata names them
READING = [*SENSORS, "timestamp", "compressor_id"]


def settings_for(broker, topic: str, **extra) -> Settings:
    return Settings(
        _env_file=None, kafka_bootstrap_servers=broker.bootstrap, eventhub_name=topic, **extra
    )


def new_topic() -> str:
    return f"telemetry-{uuid.uuid4().hex[:8]}"


def consume(settings: Settings, lakehouse: Path, source: Path | None, **options) -> dict:
    """The embedded consumer until the stream has been idle a few seconds."""
    request = StreamRequest(
        source=source, lakehouse=lakehouse, skip_db=True, idle_exit_s=3.0, **options
    )
    return run_stream(request, load_config(), settings, stop=threading.Event())


def readings(frame: pl.DataFrame) -> pl.DataFrame:
    """Readings as comparable rows: received_at at the millisecond a Kafka timestamp keeps."""
    return frame.select(
        *READING, pl.col("received_at").dt.truncate("1ms").alias("received_at")
    ).sort([*READING, "received_at"], nulls_last=True)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo fleet for three days: two failing units, and the usual dirt (duplicates,
    spikes, dropouts, late arrivals)."""
    out = tmp_path_factory.mktemp("stream_fleet") / "fleet"
    simulate(SimulationRequest(output=out, days=3, seed=5, start=START, demo=True))
    return out


@pytest.fixture(scope="module")
def big_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 units for a day (57,600 readings): long enough a stream to kill consumers in."""
    out = tmp_path_factory.mktemp("stream_big") / "fleet"
    simulate(SimulationRequest(output=out, compressors=200, days=1, seed=8, start=START))
    return out


# ---------------------------------------------------------------------------- exactly once


def test_stream_lands_every_reading_once_and_builds_the_batch_gold(kafka_broker, fleet, tmp_path):
    settings = settings_for(kafka_broker, new_topic())
    conn = stream_connection("kafka", settings, load_config())
    report = produce_fleet(conn, fleet, BASINS)
    sent = read_telemetry(fleet)
    assert report.delivered == sent.height and report.failed == 0

    summary = consume(settings, tmp_path / "stream", fleet)
    bronze = read_table(tmp_path / "stream", "sensor_readings")
    assert summary["consumed"] == sent.height == bronze.height
    assert summary["rejected"] == 0 and read_table(tmp_path / "stream", "dead_letter").height == 0
    # The same readings, duplicates and late arrivals included; none twice.
    assert readings(bronze).equals(readings(sent))
    # The pipeline page's lag: bronze holds every partition up to the topic's end.
    engine = open_engine("polars", tmp_path / "stream", load_config(), settings)
    lag = stream_positions(engine, load_config(), settings)
    assert lag is not None and lag["error"] is None and lag["total_lag"] == 0
    assert sum(p.recorded or 0 for p in lag["partitions"]) == sent.height
    # Each unit's readings came through one partition, one of its basin's share.
    units = pl.read_parquet(fleet / "compressor_metadata.parquet").select("compressor_id", "basin")
    routes = bronze.select("compressor_id", "source").unique().join(units, on="compressor_id")
    assert routes["compressor_id"].is_unique().all()
    for row in routes.iter_rows(named=True):
        partition = int(row["source"].removeprefix(f"{conn.topic}/"))
        assert partition % len(BASINS) == BASINS.index(row["basin"])

    # A second consumer finds nothing new and writes nothing.
    versions = {t: _version(tmp_path / "stream", t) for t in ("sensor_readings", "sensor_cleaned")}
    again = consume(settings, tmp_path / "stream", fleet)
    assert again["consumed"] == 0
    assert versions == {t: _version(tmp_path / "stream", t) for t in versions}

    # Gold, alerts and quality equal the batch pipeline's over the same readings: late and
    # out-of-order events land in the hours they were taken.
    run_lake(fleet, tmp_path / "batch", skip_ml=True, skip_db=True)
    gold = (
        lake.HOURLY_AGGREGATES,
        lake.DAILY_AGGREGATES,
        lake.ALERT_HISTORY,
        lake.FLEET_HEALTH,
        lake.UNIT_BASELINES,
    )
    assert differences(tmp_path / "stream", tmp_path / "batch", tables=gold) == []
    alerts = read_table(tmp_path / "stream", "alert_history")
    assert alerts.height > 0  # the demo fleet's failing units raised alerts


def _version(root: Path, name: str) -> int:
    from deltalake import DeltaTable

    spec = lake.table(name)
    layer = {"bronze": "lh_bronze_raw", "silver": "lh_silver_cleaned"}[spec.layer]
    return DeltaTable(str(root / layer / "Tables" / name)).version()


def test_consumer_killed_repeatedly_loses_and_duplicates_nothing(kafka_broker, big_fleet, tmp_path):
    topic = new_topic()
    settings = settings_for(kafka_broker, topic)
    conn = stream_connection("kafka", settings, load_config())
    sent = read_telemetry(big_fleet)
    # The stream flows while consumers are killed: ~19 s of it at 3,000 readings/s.
    producer = threading.Thread(target=produce_fleet, args=(conn, big_fleet, BASINS),
                                kwargs={"rate": 3000.0})  # fmt: skip
    producer.start()
    # Small batches and quick promotions, so kills land inside writes of either kind.
    config_dir = _config_dir(tmp_path, max_batch_events=1000, max_batch_seconds=0.2)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
        "EVENTHUB_NAME": topic,
        "ALTAVIZ_CONFIG_DIR": str(config_dir),
    }
    command = [
        sys.executable, "-m", "altaviz", "pipeline", "--mode", "stream", "--source",
        str(big_fleet), "--lakehouse", str(tmp_path / "lake"), "--skip-db", "--trigger", "2",
        "--stop-when-idle", "4", "--json",
    ]  # fmt: skip
    rng = random.Random(20261127)
    landed = [0]
    in_bronze = lambda: read_table(tmp_path / "lake", "sensor_readings").height  # noqa: E731
    for _ in range(4):
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Killed once it is landing (its start-up takes ~2 s, more on a busy machine), at a
        # random point of its writes and promotions.
        _wait_for(lambda: in_bronze() > landed[-1] or landed[-1] == sent.height)
        time.sleep(rng.uniform(0.0, 1.5))
        assert process.poll() is None, "the consumer stopped before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        landed.append(in_bronze())
    assert 0 < landed[1] < sent.height, "the first kill did not interrupt a flowing stream"
    assert landed == sorted(landed)
    producer.join(120)
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-2000:]
    bronze = read_table(tmp_path / "lake", "sensor_readings")
    assert bronze.height == sent.height
    assert readings(bronze).equals(readings(sent))
    # Silver and gold caught up with everything too.
    silver = read_table(tmp_path / "lake", "sensor_cleaned")
    assert silver["timestamp"].dt.date().n_unique() == sent["timestamp"].dt.date().n_unique()


def test_ctrl_c_stops_after_the_batch_in_flight(kafka_broker, big_fleet, tmp_path):
    topic = new_topic()
    conn = stream_connection("kafka", settings_for(kafka_broker, topic), load_config())
    producer = threading.Thread(target=produce_fleet, args=(conn, big_fleet, BASINS),
                                kwargs={"rate": 4000.0})  # fmt: skip
    producer.start()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
        "EVENTHUB_NAME": topic,
        "ALTAVIZ_CONFIG_DIR": str(_config_dir(tmp_path, max_batch_events=2000)),
    }
    command = [
        sys.executable, "-m", "altaviz", "pipeline", "--mode", "stream", "--source",
        str(big_fleet), "--lakehouse", str(tmp_path / "lake"), "--skip-db", "--json",
        # What the first batches hold depends on timing: one basin's partition alone fails
        # fleet completeness, and the gate would rightly hold the day. Stopping is the subject.
        "--skip-quality",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: read_table(tmp_path / "lake", "sensor_readings").height > 0)
    process.send_signal(signal.SIGINT)  # Ctrl-C while the stream flows
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()[-2000:]
    summary = json.loads(out)
    # Everything it took from the topic was written, and promoted, before it stopped.
    assert summary["consumed"] == read_table(tmp_path / "lake", "sensor_readings").height
    assert summary["promotions"] >= 1
    assert read_table(tmp_path / "lake", "hourly_aggregates").height > 0
    producer.join(120)
    assert 0 < summary["consumed"] < read_telemetry(big_fleet).height


def _config_dir(tmp_path: Path, **stream) -> Path:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    platform = yaml.safe_load((packaged_config_dir() / "platform.yaml").read_text())
    platform["stream"].update(stream)
    (folder / "platform.yaml").write_text(yaml.safe_dump(platform))
    return folder


def test_broker_restart_mid_stream_loses_nothing(kafka_broker, big_fleet, tmp_path):
    settings = settings_for(kafka_broker, new_topic())
    conn = stream_connection("kafka", settings, load_config())
    sent = read_telemetry(big_fleet)
    first, second = _split_fleet(big_fleet, tmp_path)
    produce_fleet(conn, first, BASINS)
    stop = threading.Event()
    result: dict = {}
    request = StreamRequest(
        source=big_fleet, lakehouse=tmp_path / "lake", skip_db=True, idle_exit_s=30.0
    )

    def run() -> None:
        result.update(run_stream(request, load_config(), settings, stop=stop))

    consumer = threading.Thread(target=run)
    consumer.start()
    _wait_for(lambda: read_table(tmp_path / "lake", "sensor_readings").height > 0)
    kafka_broker.stop(kill=True)  # the broker dies mid-stream
    time.sleep(3)
    kafka_broker.start()
    produce_fleet(conn, second, BASINS)
    _wait_for(lambda: read_table(tmp_path / "lake", "sensor_readings").height >= sent.height)
    stop.set()
    consumer.join(120)
    assert not consumer.is_alive()
    bronze = read_table(tmp_path / "lake", "sensor_readings")
    assert result["consumed"] == sent.height == bronze.height
    assert readings(bronze).equals(readings(sent))


def _split_fleet(fleet: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two simulation folders holding the first and second half of ``fleet``'s readings."""
    import shutil

    parts = []
    for n, name in enumerate(("first", "second")):
        out = tmp_path / name
        for f in fleet.glob("*.parquet"):
            out.mkdir(exist_ok=True)
            shutil.copy(f, out / f.name)
        for f in sorted((fleet / "telemetry").glob("date=*/*.parquet")):
            table = pl.read_parquet(f)
            half = table.height // 2
            piece = table.head(half) if n == 0 else table.tail(table.height - half)
            target = out / "telemetry" / f.parent.name
            target.mkdir(parents=True, exist_ok=True)
            piece.write_parquet(target / f.name)
        parts.append(out)
    return parts[0], parts[1]


def _wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


# ---------------------------------------------------------------------------- the registry


ROGUE_TYPES = {
    "type": "record",
    "name": "CompressorReading",
    "namespace": "dev.altaviz.telemetry",
    "fields": [
        {"name": "timestamp", "type": "long"},
        {"name": "compressor_id", "type": "string"},
        {"name": "vibration_mms", "type": "string"},
    ],
}
ROGUE_MISSING = {
    "type": "record",
    "name": "CompressorReading",
    "namespace": "dev.altaviz.telemetry",
    "fields": [{"name": "timestamp", "type": "long"}],
}


def bad_corpus(registry: Registry, now_us: int) -> list[tuple[bytes | None, str]]:
    """(payload, expected reason) for every kind of bad message."""
    ok = {"timestamp": now_us - 3_600_000_000, "compressor_id": "COMP-0001"}

    def reading(**fields) -> bytes:
        return registry.encode({**ok, **fields})

    valid = reading(vibration_mms=2.0)
    return [
        (os.urandom(40), "bad header"),
        (b'{"compressor_id": "COMP-0001"}', "bad header"),
        (valid[:12], "corrupt Avro record"),
        (valid[:2] + bytes(8) + valid[10:], "unknown schema fingerprint"),
        (valid + b"\x00\x01", "trailing bytes"),
        (registry.encode({"timestamp": ok["timestamp"], "compressor_id": "COMP-0001",
                          "vibration_mms": "loud"}, ROGUE_TYPES), "schema mismatch"),
        (registry.encode({"timestamp": ok["timestamp"]}, ROGUE_MISSING), "schema mismatch"),
        (reading(vibration_mms=math.nan), "vibration_mms is NaN"),
        (reading(horsepower=math.inf), "horsepower is infinite"),
        (reading(gas_flow_mcf=-math.inf), "gas_flow_mcf is infinite"),
        (reading(suction_pressure_psi=-12.0), "suction_pressure_psi -12.0 outside"),
        (reading(discharge_temp_f=9000.0), "discharge_temp_f 9000.0 outside"),
        (registry.encode({**ok, "timestamp": now_us + 10 * 86_400_000_000}), "in the future"),
        (registry.encode({**ok, "timestamp": -86_400_000_000}), "timestamp before 2000"),
        (registry.encode({**ok, "compressor_id": "COMP-9999"}), "unknown compressor_id"),
        (registry.encode({**ok, "compressor_id": "PUMP-12"}), "malformed compressor_id"),
        (valid + bytes(5000), "oversized payload"),
        (None, "empty message"),
    ]  # fmt: skip


def test_bad_messages_are_dead_lettered_with_reasons(kafka_broker, fleet, tmp_path):
    from confluent_kafka import Producer

    settings = settings_for(kafka_broker, new_topic())
    conn = stream_connection("kafka", settings, load_config())
    registry = Registry.packaged()
    for rogue in (ROGUE_TYPES, ROGUE_MISSING):  # published by a misbehaving producer
        registry.learn(rogue)
        publish_schema(conn, conn.schemas_topic, rogue)
    now_us = int(time.time() * 1e6)
    corpus = bad_corpus(registry, now_us)
    good = [registry.encode({"timestamp": now_us - k * 300_000_000, "compressor_id": "COMP-0002",
                             "vibration_mms": 2.5}) for k in range(1, 6)]  # fmt: skip
    producer = Producer(conn.with_config())
    for n, (payload, _) in enumerate(corpus):
        producer.produce(conn.topic, value=payload, key=b"bad", partition=n % 16)
    for payload in good:
        producer.produce(conn.topic, value=payload, key=b"COMP-0002", partition=3)
    assert producer.flush(30) == 0

    summary = consume(settings, tmp_path / "lake", fleet)
    letters = read_table(tmp_path / "lake", "dead_letter").sort("source_partition", "source_offset")
    bronze = read_table(tmp_path / "lake", "sensor_readings")
    assert summary["consumed"] == len(corpus) + len(good) == letters.height + bronze.height
    assert bronze.height == len(good)
    # Every letter carries its reason, its origin and the payload exactly as received.
    by_origin = {
        (r["source_partition"], r["source_offset"]): r for r in letters.iter_rows(named=True)
    }
    offsets: dict[int, int] = {}
    for n, (payload, expected) in enumerate(corpus):
        p = n % 16
        offset = offsets[p] = offsets.get(p, -1) + 1
        letter = by_origin[(p, offset)]
        assert expected in letter["reason"], (expected, letter["reason"])
        raw = json.loads(letter["raw_record"])
        assert raw["source"] == f"{conn.topic}/{p}" and raw["offset"] == offset
        assert (base64.b64decode(raw["payload_base64"]) if raw["payload_base64"] else None) == (
            payload or None
        )
    # The dead-letter topic got a copy of each, with the reason in a header.
    copies = _read_topic(conn, conn.dead_letter_topic, lambda m: m.key() == b"bad")
    assert len(copies) >= len(corpus)
    assert all(dict(m.headers())["reason"] for m in copies)


def _read_topic(conn, topic: str, keep) -> list:
    from confluent_kafka import Consumer

    consumer = Consumer(conn.with_config(group_id=f"check-{uuid.uuid4().hex[:6]}",
                                         auto_offset_reset="earliest"))  # fmt: skip
    consumer.subscribe([topic])
    found, quiet = [], 0
    while quiet < 6:
        batch = consumer.consume(500, timeout=0.5)
        quiet = 0 if batch else quiet + 1
        found += [m for m in batch if m.error() is None and keep(m)]
    consumer.close()
    return found


def test_a_newer_compatible_schema_is_read_without_a_redeploy(kafka_broker, fleet, tmp_path):
    settings = settings_for(kafka_broker, new_topic())
    conn = stream_connection("kafka", settings, load_config())
    registry = Registry.packaged()
    v1 = registry.reader
    v2 = {**v1, "fields": [*v1["fields"], {"name": "ambient_temp_f", "type": ["null", "double"],
                                           "default": None}]}  # fmt: skip
    stop = threading.Event()
    result: dict = {}
    request = StreamRequest(source=fleet, lakehouse=tmp_path / "lake", skip_db=True)

    def run() -> None:
        result.update(run_stream(request, load_config(), settings, stop=stop))

    consumer = threading.Thread(target=run)
    consumer.start()  # running with version 1 only
    time.sleep(3)
    from confluent_kafka import Producer

    sender = Registry.packaged()
    sender.register(v2)
    publish_schema(conn, conn.schemas_topic, v2)
    now_us = int(time.time() * 1e6)
    producer = Producer(conn.with_config())
    for k in range(1, 11):
        record = {"timestamp": now_us - k * 300_000_000, "compressor_id": "COMP-0003",
                  "horsepower": 900.0 + k, "ambient_temp_f": 71.5}  # fmt: skip
        producer.produce(conn.topic, value=sender.encode(record, v2), partition=k % 16)
    assert producer.flush(30) == 0
    _wait_for(lambda: read_table(tmp_path / "lake", "sensor_readings").height >= 10, 60)
    stop.set()
    consumer.join(60)
    bronze = read_table(tmp_path / "lake", "sensor_readings")
    assert bronze.height == 10 and result["rejected"] == 0
    assert sorted(bronze["horsepower"]) == [901.0 + k for k in range(10)]

    # An incompatible one is refused at registration.
    with pytest.raises(SchemaError, match="required field compressor_id missing"):
        sender.register(ROGUE_MISSING)


# ---------------------------------------------------------------------------- the CLI


def test_cli_streams_a_simulation_and_consumes_it(kafka_broker, tmp_path):
    topic = new_topic()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
        "EVENTHUB_NAME": topic,
        "ALTAVIZ_DATA_DIR": str(tmp_path / "data"),
        "ALTAVIZ_KAFKA_HOME": str(kafka_broker.home),
    }
    altaviz = [sys.executable, "-m", "altaviz"]
    status = subprocess.run([*altaviz, "dev", "kafka", "status", "--json"], env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert status.returncode == 0 and json.loads(status.stdout)["running"] is True
    produced = subprocess.run(
        [*altaviz, "simulate", "--demo", "--days", "1", "--start", "2026-03-01T00:00Z",
         "--output", "kafka", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    stream = json.loads(produced.stdout)["stream"]
    assert stream["delivered"] == stream["produced"] > 0 and stream["failed"] == 0
    consumed = subprocess.run(
        [*altaviz, "pipeline", "--mode", "stream", "--lakehouse", str(tmp_path / "lake"),
         "--stop-when-idle", "3", "--skip-db", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stderr
    summary = json.loads(consumed.stdout)
    assert summary["consumed"] == summary["accepted"] == stream["delivered"]
    assert summary["promotions"] >= 1
    assert read_table(tmp_path / "lake", "hourly_aggregates").height > 0


def test_unreachable_broker_is_a_clear_error(tmp_path):
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
           "ALTAVIZ_DATA_DIR": str(tmp_path)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "altaviz", "simulate", "--demo", "--days", "1", "--output",
         "kafka"], env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3  # a service is unreachable
    assert "cannot reach Kafka at 127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr
