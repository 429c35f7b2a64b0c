"""Reference data: the fleet's metadata, stations and maintenance log.

The lakehouse is registered to one fleet: metadata that would change a unit's identity (its
model, install date, station, ...) or add units is refused as another fleet unless the run
says it is a real change (``accept_fleet_change``); an accepted change is versioned in
``compressor_metadata_history``, the old version closed, never overwritten.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import narwhals as nw
import polars as pl

from altaviz.core.errors import InputError
from altaviz.core.frames import differing_rows, height, local
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import PipelineError
from altaviz.transforms.fleet_identity import describe, fingerprint, history_rows, identity_changes

REFERENCE_FILES = (
    (lake.COMPRESSOR_METADATA, "compressor_metadata.parquet"),
    (lake.STATIONS, "stations.parquet"),
    (lake.MAINTENANCE_EVENTS, "maintenance_events.parquet"),
)


class FleetMismatch(InputError):
    """The landing data's fleet is not the lakehouse's."""


def load_reference(engine: Engine, source: Path, accept_fleet_change: bool = False) -> None:
    """Upsert the fleet's metadata, stations and maintenance log from a simulation folder;
    unchanged rows write nothing. The fleet must be registered before telemetry is ingested;
    another fleet's metadata is refused (see the module's docstring)."""
    for spec, name in REFERENCE_FILES:
        path = source / name
        if not path.exists():
            if spec is lake.COMPRESSOR_METADATA and not engine.exists(spec):
                raise PipelineError(
                    f"--source {source}: no {name}; the fleet must be registered first"
                )
            continue
        # Tables of the fleet's size: compared on the driver (on Spark, a few rows each way
        # instead of a join, a checkpoint and a count as Spark jobs).
        incoming = local(engine.read_file(str(path), spec))
        current = engine.read_local(spec)
        if spec is lake.COMPRESSOR_METADATA:
            _check_fleet(engine, source, incoming, accept_fleet_change)
        changed = differing_rows(incoming, current, spec.schema.names)
        if height(changed):
            engine.merge(spec, incoming.join(changed.select(*spec.keys), on=list(spec.keys)))


def fleet_id(engine: Engine) -> str | None:
    """The lakehouse's fleet ID: the hash of its units' identities as first registered (an
    accepted change later keeps the ID); None before the first run."""
    history = nw.to_native(engine.read_local(lake.COMPRESSOR_METADATA_HISTORY))
    registered = history.filter(pl.col("change") == "registered")
    if registered.height:
        return fingerprint(registered.select(lake.COMPRESSOR_METADATA.schema.names))
    metadata = nw.to_native(engine.read_local(lake.COMPRESSOR_METADATA))
    return fingerprint(metadata) if metadata.height else None


def _check_fleet(engine: Engine, source: Path, incoming: nw.DataFrame, accept: bool) -> None:
    """Refuse another fleet; version an accepted change (and the first registration) in the
    metadata's history."""
    new = nw.to_native(local(incoming))
    current = nw.to_native(engine.read_local(lake.COMPRESSOR_METADATA))
    history = nw.to_native(engine.read_local(lake.COMPRESSOR_METADATA_HISTORY))
    if current.height and not history.height:  # registered before versions were kept
        _record(
            engine,
            current,
            history,
            current.select("compressor_id").with_columns(pl.lit("registered").alias("change")),
        )
        history = nw.to_native(engine.read_local(lake.COMPRESSOR_METADATA_HISTORY))
    if not current.height:
        changes = new.select("compressor_id", pl.lit("registered").alias("change"))
    else:
        changes = identity_changes(new, current)
        if changes.height and not accept:
            raise FleetMismatch(
                f"{engine.location.root} holds fleet {fleet_id(engine)} "
                f"({current.height:,} units); --source {source} is not that fleet: "
                f"{describe(changes)}. If the fleet really changed (new units, a unit moved), "
                "rerun with --accept-fleet-change"
            )
    if changes.height:
        _record(engine, new, history, changes)


def _record(
    engine: Engine, metadata: pl.DataFrame, history: pl.DataFrame, changes: pl.DataFrame
) -> None:
    rows = history_rows(metadata, history, changes, datetime.now(UTC))
    engine.merge(
        lake.COMPRESSOR_METADATA_HISTORY,
        engine.frame(lake.COMPRESSOR_METADATA_HISTORY, rows.to_dict(as_series=False)),
    )
