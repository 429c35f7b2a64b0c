"""One error hierarchy: everything a user can cause or fix is an :class:`AltavizError`.

Each kind carries the exit code the command line gives it; the message is one line that
says what went wrong and, where it can, what to do. Any other exception is a bug and is
reported as one (see :mod:`altaviz.cli.errors`), never dressed up as a user error.

Exit codes, one meaning each (the README's table): 0 done; 1 a critical quality check held
a date back from gold; 2 the input, an option or the configuration cannot be used; 3 a
service is unreachable or refused (Kafka, PostgreSQL, MLflow, a language model, a port);
4 some landing files could not be read (dead-lettered; the rest landed); 5 the lakehouse
cannot be written or read (read-only, disk full, no permission); 70 a bug in Altaviz.

>>> try:
...     raise InputError("--date '2026-13-01' is not a date (YYYY-MM-DD)")
... except AltavizError as exc:
...     print(exc.exit_code, exc)
2 --date '2026-13-01' is not a date (YYYY-MM-DD)
"""

from __future__ import annotations

from typing import ClassVar


class AltavizError(Exception):
    """The base of every error a user can cause or fix."""

    exit_code: ClassVar[int] = 2


class InputError(AltavizError):
    """Bad input: an option, a file, a folder, an identifier, a date."""


class ConfigurationError(InputError):
    """Settings or YAML configuration that cannot be used as they are."""


class NotFoundError(InputError):
    """Something asked for does not exist (yet): a unit, a table, a report, a lakehouse."""


class DataError(AltavizError):
    """The data on record cannot support what was asked (too little history, empty tables)."""


class ServiceError(AltavizError):
    """A service the command needs is unreachable or refused: a database, a broker, MLflow,
    a language model, a Spark session, a port to listen on."""

    exit_code: ClassVar[int] = 3


class StorageError(AltavizError):
    """The lakehouse's storage refused: a read-only folder, a full disk, no permission."""

    exit_code: ClassVar[int] = 5


def quoted(value: object, limit: int = 32) -> str:
    """A value as a message quotes it: repr'd (so control characters show as escapes) and cut
    to ``limit`` characters, so a hostile 5,000-character ID is never echoed back whole.

    >>> quoted("COMP-0001"), quoted("x" * 40)
    ("'COMP-0001'", "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'")
    """
    text = str(value)
    return repr(text[:limit] + "…") if len(text) > limit else repr(text)


EXIT_QUALITY_HELD = 1
EXIT_FILES_REFUSED = 4


__all__ = [
    "AltavizError",
    "ConfigurationError",
    "DataError",
    "InputError",
    "NotFoundError",
    "ServiceError",
    "StorageError",
    "quoted",
]
