"""The bronze stage: every landing file not yet ingested is appended exactly once.

Landing files are Parquet, CSV or JSON Lines (``engines.base.LANDING_FORMATS``), typed by the
same schema. A file that cannot be read at all goes to the dead letter as one record with
its reason and the other files still land; anything else in the landing zone (another kind
of file, a folder) is named in the run's summary, never skipped in silence.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import narwhals as nw

from altaviz.core.frames import Frame, same_kind
from altaviz.engines import Txn
from altaviz.engines.base import landing_format
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


def landing_entries(source: Path) -> tuple[list[Path], list[Path]]:
    """The landing files to read under ``telemetry/``, and every other entry found there."""
    found = sorted(p for p in (source / "telemetry").rglob("*") if p.is_file() or _empty_dir(p))
    readable = [
        p
        for p in found
        if p.is_file() and landing_format(p.name) and p.parent.name.startswith("date=")
    ]
    read = set(readable)
    return readable, [p for p in found if p not in read]


def ingest(run: RunContext, source: Path) -> int:
    """Append every landing file not yet ingested; returns the number of rejected records."""
    files, others = landing_entries(source)
    if others:
        shown = ", ".join(p.relative_to(source).as_posix() for p in others[:5])
        more = ", ..." if len(others) > 5 else ""
        run.notes.append(
            f"not read: {len(others)} landing entries that are not Parquet, CSV or JSON Lines "
            f"files in a telemetry/date=YYYY-MM-DD/ folder ({shown}{more})"
        )
    if not files:
        return 0
    names = {f: f.relative_to(source).as_posix() for f in files}
    ids = {f: landing_file_id(f, names[f]) for f in files}
    ingested = run.engine.txn_versions(lake.SENSOR_READINGS, list(ids.values()))
    dead = run.engine.txn_versions(lake.DEAD_LETTER, [*ids.values(), *map(_refused, ids.values())])
    pending = [f for f in files if ingested[ids[f]] is None and dead[_refused(ids[f])] is None]
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
            records, refused = _read_landing_files(run, group, names)
            for f, reason in refused.items():
                _refuse_file(run, writer, names[f], _refused(ids[f]), reason, landed_on)
                rejected += 1
            group = [f for f in group if f not in refused]
            if records is None:
                continue
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


def _read_landing_files(
    run: RunContext, group: list[Path], names: dict[Path, str]
) -> tuple[Frame | None, dict[Path, str]]:
    """The readable files' records (None when there is none) and why each other one could
    not be read."""
    frames, refused = [], {}
    for f in group:
        kind = landing_format(f.name)
        try:
            if f.stat().st_size == 0:
                raise ValueError("the file is empty")
            frame = run.engine.read_source(
                str(f), lake.RAW_TELEMETRY, required=("timestamp", "compressor_id")
            )
        except Exception as exc:  # the reader's own kinds: a file it cannot parse at all
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            refused[f] = f"unreadable landing file: not a readable {kind} file ({detail[:300]})"
            log.warning("%s: %s", names[f], refused[f])
            continue
        frames.append(frame.with_columns(nw.lit(names[f]).alias("source")))
    return (nw.concat(same_kind(frames)) if frames else None), refused


def _refused(file_id: str) -> str:
    """The transaction that records a landing file as refused (read once, never again)."""
    return "refused:" + file_id


def _refuse_file(
    run: RunContext, writer: WriteBehind, name: str, txn: str, reason: str, landed_on: date
) -> None:
    """One dead-letter record for a landing file that cannot be read."""
    row = {
        "source": [name],
        "source_partition": [None],
        "source_offset": [None],
        "raw_record": [json.dumps({"file": name})],
        "reason": [reason],
        "batch_id": [name],
        "ingested_at": [run.started],
        "ingestion_date": [landed_on],
    }
    frame = run.engine.frame(lake.DEAD_LETTER, row)
    writer.submit(run.engine.append, lake.DEAD_LETTER, frame, [Txn(txn, 1)])
    run.rows.dead_letter += 1
    run.refused_files.append(name)


def _empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())
