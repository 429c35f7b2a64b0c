"""The telemetry schema registry: versioned Avro schemas, message framing, decoding.

Messages use Avro's *single-object encoding*: the bytes ``C3 01``, the schema's 8-byte
CRC-64-AVRO fingerprint (little-endian), then the Avro binary record. A consumer decodes
every message with the schema that wrote it (found by fingerprint) and resolves it to the
schema it reads with, so a producer may move to a compatible newer schema (a new optional
field, say) without the consumer being redeployed.

Schemas come from two places: the versions kept in this package (``schemas/*.avsc``), and the
registry topic, where a producer publishes any schema it writes with before its first
message. :meth:`Registry.register` refuses a schema the packaged reader could not read.

>>> registry = Registry.packaged()
>>> frame = registry.encode({"timestamp": 0, "compressor_id": "COMP-0001"})
>>> frame[:2] == MAGIC, registry.decode(frame)["compressor_id"]
(True, 'COMP-0001')
"""

from __future__ import annotations

import copy
import io
import json
import struct
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from altaviz.core.errors import InputError

MAGIC = b"\xc3\x01"
HEADER = len(MAGIC) + 8
READER_VERSION = 1  # the schema the consumers read with


class SchemaError(InputError):
    """A message or schema the registry cannot accept; the text is the dead-letter reason."""


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    """The 8-byte CRC-64-AVRO fingerprint of a schema's parsing canonical form."""
    canonical = to_parsing_canonical_form(parse_schema(schema))
    return int(fingerprint(canonical, "CRC-64-AVRO"), 16).to_bytes(8, "little")


@cache
def packaged_schemas() -> dict[int, dict[str, Any]]:
    """The schema versions kept in the repository, by version number."""
    found = {}
    for item in resources.files("altaviz.stream.schemas").iterdir():
        name = item.name
        if name.startswith("telemetry-v") and name.endswith(".avsc"):
            found[int(name.removeprefix("telemetry-v").removesuffix(".avsc"))] = json.loads(
                item.read_text()
            )
    return dict(sorted(found.items()))


def _plain(schema: Any) -> Any:
    """The schema without logical types: the same bytes, read as plain longs (a timestamp as
    epoch microseconds), which is several microseconds a message faster than datetimes."""
    if isinstance(schema, dict):
        return {k: _plain(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_plain(s) for s in schema]
    return schema


class Registry:
    """Known writer schemas by fingerprint, and the reader schema they resolve to."""

    def __init__(self, reader: dict[str, Any], writers: Iterable[dict[str, Any]] = ()) -> None:
        self.reader = reader
        self._reader_parsed = parse_schema(_plain(copy.deepcopy(reader)))
        self.fingerprint = schema_fingerprint(reader)
        self._writers: dict[bytes, Any] = {}
        self._schemas: dict[bytes, dict[str, Any]] = {}
        self._add(reader)
        for schema in writers:
            self._add(schema)

    @classmethod
    def packaged(cls, version: int = READER_VERSION) -> Registry:
        """A registry of the packaged versions, reading with ``version``."""
        schemas = packaged_schemas()
        if version not in schemas:
            raise SchemaError(f"no telemetry schema version {version} (have {sorted(schemas)})")
        return cls(schemas[version], schemas.values())

    def knows(self, fp: bytes) -> bool:
        return fp in self._writers

    def schemas(self) -> dict[bytes, dict[str, Any]]:
        return dict(self._schemas)

    def _add(self, schema: dict[str, Any]) -> bytes:
        try:
            fp = schema_fingerprint(schema)
            if fp not in self._writers:
                self._writers[fp] = parse_schema(_plain(copy.deepcopy(schema)))
                self._schemas[fp] = schema
        except Exception as exc:  # fastavro's parse errors have no common base of their own
            raise SchemaError(f"not an Avro schema: {_first_line(exc)}") from None
        return fp

    def register(self, schema: dict[str, Any]) -> bytes:
        """Add a writer schema after checking the reader can read what it writes; its
        fingerprint. Raises :class:`SchemaError` for an incompatible schema."""
        problems = incompatibilities(schema, self.reader)
        if problems:
            raise SchemaError(
                f"schema not compatible with version {READER_VERSION}: {'; '.join(problems)}"
            )
        return self._add(schema)

    def learn(self, schema: dict[str, Any]) -> bytes:
        """Add a writer schema as published (by the registry topic), unchecked: messages
        written with an incompatible one are dead-lettered when decoded."""
        return self._add(schema)

    # ------------------------------------------------------------------ messages

    def encode(self, record: dict[str, Any], schema: dict[str, Any] | None = None) -> bytes:
        """One message: header and the record in Avro binary (``schema`` defaults to the
        reader's; it must be known to the registry)."""
        return self.encoder(schema)(record)

    def encoder(self, schema: dict[str, Any] | None = None) -> Callable[[dict[str, Any]], bytes]:
        """A function encoding records with ``schema`` (for many messages: the schema is
        looked up once)."""
        fp = self.fingerprint if schema is None else schema_fingerprint(schema)
        parsed = self._writers.get(fp)
        if parsed is None:
            raise SchemaError("schema not registered")
        header = MAGIC + fp
        write = fastavro.schemaless_writer

        def encode(record: dict[str, Any]) -> bytes:
            buffer = io.BytesIO()
            buffer.write(header)
            write(buffer, parsed, record)
            return buffer.getvalue()

        return encode

    def decode(self, message: bytes) -> dict[str, Any]:
        """The record a message holds, resolved to the reader schema; :class:`SchemaError`
        with the reason when it cannot be read."""
        if len(message) < HEADER or message[:2] != MAGIC:
            raise SchemaError("not an Avro single-object message (bad header)")
        fp = message[2:HEADER]
        writer = self._writers.get(fp)
        if writer is None:
            raise SchemaError(f"unknown schema fingerprint {fp[::-1].hex()}")
        buffer = io.BytesIO(message)
        buffer.seek(HEADER)
        try:
            record = fastavro.schemaless_reader(buffer, writer, self._reader_parsed)
        except fastavro.read.SchemaResolutionError as exc:
            raise SchemaError(f"schema mismatch: {_first_line(exc)}") from None
        except (EOFError, struct.error, UnicodeDecodeError, ValueError, IndexError) as exc:
            raise SchemaError(f"corrupt Avro record: {_first_line(exc)}") from None
        if buffer.tell() != len(message):
            raise SchemaError(f"corrupt Avro record: {len(message) - buffer.tell()} trailing bytes")
        return record


def incompatibilities(writer: dict[str, Any], reader: dict[str, Any]) -> list[str]:
    """Why data written with ``writer`` could not be read with ``reader`` (empty when it can):
    every reader field must be in the writer with the same type, or have a default."""
    written = {f["name"]: f for f in writer.get("fields", [])}
    problems = []
    if writer.get("type") != "record" or writer.get("name") != reader.get("name"):
        problems.append(f"record name {writer.get('name')!r} is not {reader.get('name')!r}")
    for field in reader.get("fields", []):
        other = written.get(field["name"])
        if other is None:
            if "default" not in field:
                problems.append(f"required field {field['name']} missing")
            continue
        if _bare(other["type"]) != _bare(field["type"]):
            problems.append(f"field {field['name']} changed type")
    return problems


def _bare(kind: Any) -> Any:
    """A field type without logical types, ``{"type": "long"}`` spelled ``"long"``."""
    kind = _plain(kind)
    if isinstance(kind, dict) and set(kind) == {"type"}:
        return _bare(kind["type"])
    if isinstance(kind, list):
        return [_bare(k) for k in kind]
    return kind


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
