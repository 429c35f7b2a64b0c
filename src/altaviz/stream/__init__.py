"""Streaming ingestion: producer, consumers, Avro registry and dead letter."""

from altaviz.core.errors import AltavizError, ServiceError


class StreamError(AltavizError):
    """The stream cannot be used; the message says why in one line."""


class StreamUnreachable(StreamError, ServiceError):
    """The broker (Kafka, Event Hubs) cannot be reached."""


__all__ = ["StreamError", "StreamUnreachable"]
