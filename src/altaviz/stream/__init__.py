"""Streaming ingestion: the Kafka / Event Hubs producer, the Avro schema registry with its
dead letter, and the consumers that land the stream in bronze exactly once."""


class StreamError(RuntimeError):
    """The stream cannot be used; the message says why in one line."""


__all__ = ["StreamError"]
