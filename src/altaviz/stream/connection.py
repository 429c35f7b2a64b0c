"""Client configuration for a Kafka cluster: the local broker, any Kafka, or Azure Event Hubs
through its Kafka endpoint.

Event Hubs speaks the Kafka protocol on ``<namespace>.servicebus.windows.net:9093`` over
SASL_SSL. With ``EVENTHUB_CONNECTION_STRING`` the mechanism is PLAIN, user
``$ConnectionString`` and the connection string as password; with only
``EVENTHUB_NAMESPACE`` it is OAUTHBEARER with a Microsoft Entra token from
``azure-identity``'s default chain (a managed identity on Fabric or in Azure).

>>> conn = connect("eventhub", Settings(eventhub_connection_string=
...     "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;"
...     "SharedAccessKey=c2VjcmV0;EntityPath=compressor-telemetry"))
>>> conn.config["bootstrap.servers"], conn.config["sasl.username"], conn.topic
('acme.servicebus.windows.net:9093', '$ConnectionString', 'compressor-telemetry')
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from altaviz.config import load_config
from altaviz.config.schema import EventHubSpec
from altaviz.core.errors import ConfigurationError
from altaviz.settings import Settings
from altaviz.stream import StreamError

Target = Literal["kafka", "eventhub"]
EVENTHUB_PORT = 9093
# A broker closing an idle connection is routine; librdkafka would log each one to stderr.
QUIET = {"log.connection.close": False}


class StreamConfigError(StreamError, ConfigurationError):
    """The stream's connection settings are missing or malformed; says which in one line."""


@dataclass(frozen=True)
class Connection:
    """Where the stream lives: librdkafka settings shared by producers and consumers, the
    topic, the consumer group and the dead-letter topic."""

    target: Target
    config: dict[str, Any]
    topic: str
    group: str
    dead_letter_topic: str
    schemas_topic: str
    describe: str = field(default="")  # for messages: never includes a secret

    def with_config(self, **extra: Any) -> dict[str, Any]:
        """The shared settings plus a client's own (dots spelled as underscores)."""
        return {**self.config, **{k.replace("_", "."): v for k, v in extra.items()}}


def connect(target: Target, settings: Settings, hub: EventHubSpec | None = None) -> Connection:
    """The connection for ``target``: ``kafka`` (``KAFKA_BOOTSTRAP_SERVERS``, the local
    broker by default) or ``eventhub`` (the ``EVENTHUB_*`` settings). Topic names come from
    ``EVENTHUB_NAME`` and platform.yaml's hub (dead-letter and schema topics)."""
    hub = hub or load_config().platform.eventhub
    if target == "eventhub":
        return eventhub_connection(settings, hub)
    servers = settings.kafka_bootstrap_servers
    return Connection(
        "kafka",
        {"bootstrap.servers": servers, "client.id": "altaviz", **QUIET},
        settings.eventhub_name,
        _group(settings, hub),
        hub.dead_letter,
        hub.schemas,
        describe=f"Kafka at {servers}",
    )


def _group(settings: Settings, hub: EventHubSpec) -> str:
    """``EVENTHUB_CONSUMER_GROUP``, or platform.yaml's ETL group when left at ``$Default``."""
    group = settings.eventhub_consumer_group
    return hub.consumer_groups["etl"] if group == "$Default" else group


def eventhub_connection(settings: Settings, hub: EventHubSpec) -> Connection:
    """Azure Event Hubs through its Kafka endpoint, from the ``EVENTHUB_*`` settings."""
    secret = settings.eventhub_connection_string
    topic = settings.eventhub_name
    if secret is not None:
        parts = parse_connection_string(secret.get_secret_value())
        endpoint = parts.get("Endpoint", "")
        host = endpoint.removeprefix("sb://").strip("/")
        if not endpoint.startswith("sb://") or not host:
            raise StreamConfigError(
                "EVENTHUB_CONNECTION_STRING has no Endpoint=sb://<namespace>.servicebus.windows.net/"
            )
        topic = parts.get("EntityPath") or topic
        config: dict[str, Any] = {
            "bootstrap.servers": f"{host}:{EVENTHUB_PORT}",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "$ConnectionString",
            "sasl.password": secret.get_secret_value(),
        }
    elif settings.eventhub_namespace:
        host = settings.eventhub_namespace
        if "." not in host:
            host = f"{host}.servicebus.windows.net"
        config = {
            "bootstrap.servers": f"{host}:{EVENTHUB_PORT}",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": _entra_token(f"https://{host}/.default"),
        }
    else:
        raise StreamConfigError(
            "Event Hubs needs EVENTHUB_CONNECTION_STRING or EVENTHUB_NAMESPACE to be set"
        )
    config.update({"client.id": "altaviz", **QUIET})
    return Connection(
        "eventhub",
        config,
        topic,
        settings.eventhub_consumer_group,
        hub.dead_letter,
        hub.schemas,
        describe=f"Event Hubs at {config['bootstrap.servers']}",
    )


def parse_connection_string(text: str) -> dict[str, str]:
    """``Key=Value;...`` pairs of an Azure connection string (values may contain ``=``).

    >>> parse_connection_string("Endpoint=sb://x/;SharedAccessKey=ab==;")["SharedAccessKey"]
    'ab=='
    """
    pairs = {}
    for part in text.strip().split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise StreamConfigError(f"malformed connection string part {key.strip()[:20]!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _entra_token(scope: str) -> Any:
    """librdkafka's OAUTHBEARER callback: (token, expiry in epoch seconds)."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise StreamConfigError(
            "EVENTHUB_NAMESPACE without a connection string authenticates with Microsoft "
            "Entra ID, which needs azure-identity (pip install azure-identity)"
        ) from exc
    credential = DefaultAzureCredential()

    def token(_config: str) -> tuple[str, float]:
        issued = credential.get_token(scope)
        return issued.token, float(issued.expires_on or time.time() + 300)

    return token
