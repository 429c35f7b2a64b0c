"""The bronze stage: every landing file not yet ingested is appended exactly once."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import narwhals as nw

from altaviz.core.frames import Frame, same_kind
from altaviz.engines import Txn
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import PipelineError, RunContext
from altaviz.pipeline.landing import Gate, land_batch
from altaviz.pipeline.write_behind import WriteBehind

log = logging.getLogger("altaviz.pipeline")


def landing_file_id(path: Path, name: str) -> str:
    """Identity of a landing file: its path, size and modification time. A file rewritten in
    place is a new file; the same file seen again is not."""
    stat = path.stat()
    return f"ingest:{name}:{stat.st_size}:{stat.st_mtime_ns}"


def ingest(run: RunContext, source: Path) -> int:
    """Append every landing file not yet ingested; returns the number of rejected records."""
    files = sorted((source / "telemetry").glob("date=*/*.parquet"))
    if not files:
        return 0
    names = {f: f.relative_to(source).as_posix() for f in files}
    ids = {f: landing_file_id(f, names[f]) for f in files}
    ingested = run.engine.txn_versions(lake.SENSOR_READINGS, list(ids.values()))
    dead = run.engine.txn_versions(lake.DEAD_LETTER, list(ids.values()))
    pending = [f for f in files if ingested[ids[f]] is None]
    if not pending:
        return 0
    gate = Gate.of(run.engine, run.config)
    # One commit per landing date, recording each file's transaction in it; an engine that
    # records one transaction per commit (Delta on Spark) commits file by file instead.
    groups: dict[tuple[str, int], list[Path]] = {}
    for n, f in enumerate(pending):
        key = n if run.engine.one_txn_per_commit else 0
        groups.setdefault((f.parent.name.removeprefix("date="), key), []).append(f)
    rejected = 0
    with WriteBehind() as writer:
        for (landing, _), group in sorted(groups.items()):
            landed_on = _landing_date(landing, group[0])
            records = _read_landing_files(run, group, names)
            landed = land_batch(
                run.engine,
                records,
                gate,
                run.started,
                meta=[
                    nw.lit(run.started).alias("ingested_at"),
                    nw.col("source").alias("batch_id"),
                    nw.lit(landed_on).alias("ingestion_date"),
                ],
                raw_record=lambda letters: run.engine.fill_json(
                    letters, [*lake.RAW_TELEMETRY], "raw_record"
                ).with_columns(nw.lit(None).cast(nw.Int32).alias("source_partition")),
                bronze_txns=[Txn(ids[f], 1) for f in group],
                dead_txns=[Txn(ids[f], 1) for f in group if dead[ids[f]] is None],
                write=lambda spec, frame, txns: writer.submit(run.engine.append, spec, frame, txns),
            )
            run.rows.bronze += landed.accepted
            if any(dead[ids[f]] is None for f in group):
                run.rows.dead_letter += landed.rejected
            rejected += landed.rejected
            log.info(
                "bronze %s: %d accepted, %d rejected", landing, landed.accepted, landed.rejected
            )
    return rejected


def _landing_date(landing: str, first: Path) -> date:
    try:
        return date.fromisoformat(landing)
    except ValueError:
        raise PipelineError(f"{first.parent}: partition folder is not date=YYYY-MM-DD") from None


def _read_landing_files(run: RunContext, group: list[Path], names: dict[Path, str]) -> Frame:
    frames = []
    for f in group:
        try:
            frame = run.engine.read_source(
                str(f), lake.RAW_TELEMETRY, required=("timestamp", "compressor_id")
            )
        except Exception as exc:  # the reader's own kinds: a file it cannot parse at all
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PipelineError(f"{names[f]}: not a readable Parquet file ({detail})") from exc
        frames.append(frame.with_columns(nw.lit(names[f]).alias("source")))
    return nw.concat(same_kind(frames))
