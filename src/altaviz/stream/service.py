"""`altaviz pipeline --mode stream` and `altaviz simulate --output kafka|eventhub`: the
streaming entry points, wiring settings, the connection, the lakehouse and the consumers.

Ctrl-C (SIGINT) or SIGTERM asks the consumer to stop: the batch in flight is written and
promoted first, so stopping loses nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from altaviz.config import AppConfig, load_config
from altaviz.engines import open_engine
from altaviz.lake import catalog as lake
from altaviz.pipeline import PipelineRequest, load_reference, run_pipeline
from altaviz.settings import Settings, get_settings
from altaviz.stream.connection import Connection, Target, connect
from altaviz.stream.topics import ensure_topics


@dataclass(frozen=True)
class StreamRequest:
    target: Target = "kafka"
    source: Path | None = None  # a simulation folder whose reference data registers the fleet
    lakehouse: Path | None = None
    engine: str = "polars"
    trigger_seconds: float | None = None
    idle_exit_s: float | None = None
    max_events: int | None = None
    skip_quality: bool = False
    skip_db: bool = False
    checkpoint: str | None = None  # Spark only: the query's checkpoint folder


def stream_connection(target: Target, settings: Settings, config: AppConfig) -> Connection:
    """The connection for ``target``; on plain Kafka the topics are created when missing."""
    conn = connect(target, settings, config.platform.eventhub)
    if target == "kafka":
        ensure_topics(conn, conn.schemas_topic, config.platform.eventhub.partitions)
    return conn


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (main thread only), the handlers restored after."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def ask(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_stream(
    request: StreamRequest,
    config: AppConfig | None = None,
    settings: Settings | None = None,
    stop: threading.Event | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Consume the telemetry stream into the lakehouse until stopped; the consumer's summary."""
    cfg = config or load_config()
    settings = settings or get_settings()
    conn = stream_connection(request.target, settings, cfg)
    packages: list[str] = []
    if request.engine == "spark":  # a session with Spark's Kafka source
        from altaviz.stream.spark_stream import kafka_package

        packages.append(kafka_package())
    engine = open_engine(request.engine, request.lakehouse, cfg, settings, packages)
    if request.source is not None:
        say(f"registering the fleet from {request.source}")
        load_reference(engine, request.source)

    def promote() -> Any:
        summary = run_pipeline(
            PipelineRequest(
                source=None,
                lakehouse=request.lakehouse,
                skip_quality=request.skip_quality,
                skip_ml=True,  # the models run on their own schedule (platform.yaml)
                skip_db=request.skip_db,
                engine=request.engine,
            ),
            cfg,
            settings,
            engine=engine,
        )
        say(
            f"promoted: silver {summary.rows.silver:,} rows, "
            f"{summary.alerts.opened} alerts opened, {summary.alerts.open} open"
        )
        return summary

    with stop_on_signals() as signalled:
        halt = stop if stop is not None else signalled
        say(f"consuming {conn.topic} from {conn.describe} (Ctrl-C stops after the batch in flight)")
        if request.engine == "spark":
            from altaviz.stream.spark_stream import run_spark_stream

            bronze = engine.uri(lake.SENSOR_READINGS)
            checkpoint = request.checkpoint or (
                f"{bronze.rsplit('/Tables/', 1)[0]}/Files/checkpoints/{conn.topic}"
            )
            return run_spark_stream(
                engine,
                cfg,
                conn,
                checkpoint,
                promote,
                halt,
                trigger_seconds=request.trigger_seconds,
                idle_exit_s=request.idle_exit_s,
            )
        from altaviz.stream.consumer import StreamConsumer

        consumer = StreamConsumer(
            engine, cfg, conn, promote=promote, trigger_seconds=request.trigger_seconds
        )
        stats = consumer.run(halt, idle_exit_s=request.idle_exit_s, max_events=request.max_events)
        return stats.summary()
