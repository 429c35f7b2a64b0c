"""Reference data: the fleet's metadata, stations and maintenance log."""

from __future__ import annotations

from pathlib import Path

from altaviz.core.frames import differing_rows, height
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import PipelineError

REFERENCE_FILES = (
    (lake.COMPRESSOR_METADATA, "compressor_metadata.parquet"),
    (lake.STATIONS, "stations.parquet"),
    (lake.MAINTENANCE_EVENTS, "maintenance_events.parquet"),
)


def load_reference(engine: Engine, source: Path) -> None:
    """Upsert the fleet's metadata, stations and maintenance log from a simulation folder;
    unchanged rows write nothing. The fleet must be registered before telemetry is ingested."""
    for spec, name in REFERENCE_FILES:
        path = source / name
        if not path.exists():
            if spec is lake.COMPRESSOR_METADATA and not engine.exists(spec):
                raise PipelineError(
                    f"--source {source}: no {name}; the fleet must be registered first"
                )
            continue
        incoming = engine.read_file(str(path), spec)
        current = engine.read(spec)
        changed = differing_rows(incoming, current, spec.schema.names)
        if height(changed):
            engine.merge(spec, incoming.join(changed.select(*spec.keys), on=list(spec.keys)))
