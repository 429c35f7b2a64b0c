"""``altaviz dev``: local services for development and tests."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from altaviz.cli.errors import Group, fail
from altaviz.cli.render import err, out
from altaviz.config import load_config
from altaviz.settings import get_settings

group = Group(help="Local services for development and tests.")
kafka = Group(help="A single-node Apache Kafka broker (KRaft) from Maven Central, no Docker.")
group.add_typer(kafka, name="kafka")


def _local_broker() -> Any:
    from altaviz.stream.broker import LocalBroker

    settings = get_settings()
    servers = settings.kafka_bootstrap_servers.split(",")[0]
    host, _, port = servers.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        fail(f"KAFKA_BOOTSTRAP_SERVERS={servers} is not a local address; the dev broker is local")
    partitions = load_config().platform.eventhub.partitions
    return LocalBroker(settings.altaviz_kafka_home, port=int(port), partitions=partitions)


@kafka.command("start")
def kafka_start() -> None:
    """Start the local broker (its jars are fetched from Maven Central the first time)."""
    broker = _local_broker()
    with err.status("starting Kafka (first run: fetching its jars from Maven Central)"):
        address = broker.start()
    out.print(f"Kafka listening on {address} (data in {broker.home})", highlight=False)


@kafka.command("stop")
def kafka_stop() -> None:
    """Stop the local broker (a clean shutdown; its data is kept)."""
    stopped = _local_broker().stop()
    out.print("Kafka stopped" if stopped else "Kafka was not running")


@kafka.command("status")
def kafka_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Whether the local broker runs; exit code 1 when it does not."""
    status = _local_broker().status()
    if as_json:
        print(
            json.dumps(
                {
                    "running": status.running,
                    "pid": status.pid,
                    "bootstrap": status.bootstrap,
                    "home": str(status.home),
                }
            )
        )
    else:
        state = f"running (pid {status.pid})" if status.running else "stopped"
        out.print(f"Kafka {state} at {status.bootstrap}, data in {status.home}", highlight=False)
    if not status.running:
        raise typer.Exit(1)
