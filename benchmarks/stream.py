"""Benchmark the stream on this machine, against a real local Kafka broker:

1. the producer: a simulated fleet's readings sent as fast as the broker takes them;
2. the embedded consumer: sustained events/s from the topic into bronze (exactly-once
   commits, dead-letter checks and all; promotion off, as it runs on its own trigger);
3. end-to-end latency: live readings (stamped now) from the whole fleet every few seconds,
   the consumer promoting every ``--trigger`` seconds; the time from a reading's event time
   to the moment gold's hourly rows count it, p50 and p95 over the ticks.

    uv run python benchmarks/stream.py                    # 4,700 units x 1 day, 2 min of live ticks
    uv run python benchmarks/stream.py --compressors 1000 --latency-seconds 60

Needs the `stream` extra, Java 17+ and Maven (the broker's jars come from Maven Central).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from _child import simulate_fleet
from altaviz.config import load_config
from altaviz.core.sensors import SENSORS
from altaviz.engines import get_engine
from altaviz.lake import catalog as lake
from altaviz.lake.location import lake_location
from altaviz.pipeline import PipelineRequest, load_reference, run_pipeline
from altaviz.settings import Settings
from altaviz.stream.broker import LocalBroker, free_port_pair
from altaviz.stream.consumer import StreamConsumer
from altaviz.stream.producer import produce_fleet
from altaviz.stream.registry import Registry
from altaviz.stream.service import stream_connection


def throughput(broker: LocalBroker, fleet: Path, root: Path) -> dict:
    cfg = load_config()
    settings = Settings(_env_file=None, kafka_bootstrap_servers=broker.bootstrap,
                        eventhub_name="bench-throughput")  # fmt: skip
    conn = stream_connection("kafka", settings, cfg)
    sent = produce_fleet(conn, fleet, [b.name for b in cfg.fleet.basins])
    engine = get_engine("polars", lake_location(cfg.lakehouse, settings, root=root / "lake"))
    load_reference(engine, fleet)
    consumer = StreamConsumer(engine, cfg, conn)
    began = time.perf_counter()
    stats = consumer.run(threading.Event(), max_events=sent.delivered)
    elapsed = time.perf_counter() - began
    bronze = pl.read_delta(engine.uri(lake.SENSOR_READINGS)).height
    return {
        "readings": sent.delivered,
        "producer_events_per_s": sent.events_per_s,
        "consumer_events_per_s": round(stats.consumed / elapsed, 1),
        "consumer_s": round(elapsed, 2),
        "batches": stats.batches,
        "bronze_rows": bronze,
    }


def latency(broker: LocalBroker, fleet: Path, root: Path, seconds: float, trigger: float,
            tick_s: float) -> dict:  # fmt: skip
    cfg = load_config()
    settings = Settings(_env_file=None, kafka_bootstrap_servers=broker.bootstrap,
                        eventhub_name="bench-latency")  # fmt: skip
    conn = stream_connection("kafka", settings, cfg)
    lakehouse = root / "live"
    engine = get_engine("polars", lake_location(cfg.lakehouse, settings, root=lakehouse))
    load_reference(engine, fleet)
    units = pl.read_parquet(fleet / "telemetry" / "**" / "*.parquet").group_by(
        "compressor_id").agg(*(pl.col(s).median() for s in SENSORS))  # fmt: skip

    def promote() -> None:  # today's data is partial: completeness checks would hold it back
        run_pipeline(PipelineRequest(lakehouse=lakehouse, skip_ml=True, skip_db=True,
                                     skip_quality=True), cfg, settings, engine=engine)  # fmt: skip

    stop = threading.Event()
    consumer = StreamConsumer(engine, cfg, conn, promote=promote, trigger_seconds=trigger)
    worker = threading.Thread(target=consumer.run, args=(stop,))
    worker.start()
    from confluent_kafka import Producer

    registry = Registry.packaged()
    encode = registry.encoder()
    producer = Producer(conn.with_config(linger_ms=5))
    ticks: list[tuple[datetime, int]] = []  # event time, readings sent so far
    visible: dict[int, float] = {}
    sent = 0
    rows = units.rows(named=True)
    began = time.monotonic()
    next_tick = began
    hourly = engine.uri(lake.HOURLY_AGGREGATES)
    while time.monotonic() - began < seconds or len(visible) < len(ticks):
        now = time.monotonic()
        if now >= next_tick and now - began < seconds:
            stamp = datetime.now(UTC)
            micros = int(stamp.timestamp() * 1e6)
            for row in rows:
                producer.produce(conn.topic, key=row["compressor_id"].encode(),
                                 value=encode({**row, "timestamp": micros}))  # fmt: skip
                sent += 1
            producer.flush(10)
            ticks.append((stamp, sent))
            next_tick += tick_s
        if ticks and os.path.isdir(os.path.join(hourly, "_delta_log")):
            first_hour = ticks[0][0].replace(minute=0, second=0, microsecond=0)
            counted = (
                pl.scan_delta(hourly).filter(pl.col("hour") >= first_hour)
                .select(pl.col("reading_count").sum()).collect().item() or 0
            )  # fmt: skip
            seen = time.time()
            for k, (stamp, total) in enumerate(ticks):
                if k not in visible and counted >= total:
                    visible[k] = seen - stamp.timestamp()
        if time.monotonic() - began > seconds + 10 * trigger + 120:
            break
        time.sleep(0.25)
    stop.set()
    worker.join()
    delays = sorted(visible.values())
    return {
        "ticks": len(ticks),
        "readings": sent,
        "trigger_s": trigger,
        "tick_s": tick_s,
        "visible": len(delays),
        "p50_s": round(statistics.median(delays), 2) if delays else None,
        "p95_s": round(delays[min(len(delays) - 1, int(0.95 * len(delays)))], 2)
        if delays
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compressors", type=int, default=4700)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--latency-seconds", type=float, default=120.0)
    parser.add_argument("--trigger", type=float, default=10.0)
    parser.add_argument("--tick", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="altaviz-stream-bench-") as tmp:
        root = Path(tmp)
        fleet = root / "fleet"
        simulate_fleet(fleet, args.compressors, args.days, start="2026-01-01T00:00Z")
        broker = LocalBroker(root / "kafka", port=free_port_pair())
        broker.start()
        try:
            moved = throughput(broker, fleet, root)
            cores = os.cpu_count()
            print(f"stream, {args.compressors:,} compressors x {args.days} day(s), {cores} cores")
            produced = moved["producer_events_per_s"]
            print(f"  producer: {moved['readings']:,} readings at {produced:,.0f} events/s")
            print(
                f"  embedded consumer into bronze: {moved['consumer_events_per_s']:,.0f} "
                f"events/s ({moved['consumer_s']:.1f} s, {moved['batches']} commits)"
            )
            late = latency(broker, fleet, root, args.latency_seconds, args.trigger, args.tick)
            print(
                f"  event time -> gold: p50 {late['p50_s']} s, p95 {late['p95_s']} s over "
                f"{late['visible']} of {late['ticks']} ticks (trigger {args.trigger:g} s, "
                f"a reading from every unit every {args.tick:g} s)"
            )
            print(json.dumps({"throughput": moved, "latency": late}))
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
