"""Streaming ingestion: producer, consumers, Avro registry and dead letter."""

from altaviz.core.errors import AltavizError


class StreamError(AltavizError):
    """The stream cannot be used; the message says why in one line."""


__all__ = ["StreamError"]
