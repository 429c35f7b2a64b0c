"""Reference data: the fleet's metadata, stations and maintenance log."""

from __future__ import annotations

from pathlib import Path

import narwhals as nw

from altaviz.core.frames import Frame, done, height
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
        changed = done(
            _null_safe(incoming)
            .lazy()
            .join(_null_safe(current).lazy(), on=spec.schema.names, how="anti")
        )
        if height(changed):
            engine.merge(spec, incoming.join(changed.select(*spec.keys), on=list(spec.keys)))


def _null_safe(frame: Frame) -> Frame:
    """Every column as text with nulls spelled out, so rows compare equal null for null."""
    return frame.select(nw.col(c).cast(nw.String).fill_null("\x00null") for c in frame.columns)
