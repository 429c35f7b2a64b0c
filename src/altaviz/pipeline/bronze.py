"""The bronze stage: every landing file not yet ingested is appended exactly once.

Landing files are Parquet, CSV or JSON Lines (``engines.base.LANDING_FORMATS``), typed by the
same schema. A file that cannot be read at all goes to the dead letter as one record with
its reason and the other files still land; anything else in the landing zone (another kind
of file, a folder) is named in the run's summary, never skipped in silence.

Each file is landed exactly once: its identity is recorded in bronze's commit as an
application transaction - its own, or (Delta on Spark, one transaction per commit) its
commit group's, the group's members recorded in ``landing_files`` first.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path

import narwhals as nw
import polars as pl
import pyarrow as pa

from altaviz.core.file_sink import WRITTEN_FILES, FileSink
from altaviz.core.frames import Frame, local, rows, same_kind
from altaviz.engines import Engine, Txn
from altaviz.engines.base import landing_format
from altaviz.engines.polars_engine import PolarsEngine
from altaviz.lake import catalog as lake
from altaviz.lake.location import LakeLocation
from altaviz.pipeline.context import PipelineError, RunContext
from altaviz.pipeline.landing import Gate, land_batch
from altaviz.pipeline.promotion import date_batches
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
    engine = run.engine
    group_of = recorded_groups(engine, list(ids.values()))
    known = [*ids.values(), *sorted(set(group_of.values()))]
    ingested = engine.txn_versions(lake.SENSOR_READINGS, known)
    dead = engine.txn_versions(lake.DEAD_LETTER, [*known, *map(_refused, ids.values())])

    def done(f: Path, txns: dict[str, int | None]) -> bool:
        """The file's rows are in the table: under its own transaction or its group's."""
        group = group_of.get(ids[f])
        return txns[ids[f]] is not None or (group is not None and txns[group] is not None)

    pending = [f for f in files if not done(f, ingested) and dead[_refused(ids[f])] is None]
    if not pending:
        return 0
    landed_on = {f: _landing_date(f) for f in pending}  # every folder checked before a write
    gate = Gate.of(engine, run.config)
    task = _landing_task(run, gate)
    lettered = run.rows.dead_letter
    on_record = 0  # rejected records whose letters an earlier, stopped run wrote
    with WriteBehind() as writer:
        for group_id, group in _commits(run, pending, names, ids, landed_on, group_of):
            if task is not None:
                items = [(str(f), names[f], landed_on[f], not done(f, dead)) for f in group]
                staged = dict(zip(group, engine.run_tasks(task, items), strict=True))
                refused = {f: s.refused for f, s in staged.items() if s.refused is not None}
            else:
                records, refused = _read_landing_files(run, group, names, landed_on)
            for f, reason in refused.items():
                log.warning("%s: %s", names[f], reason)
                _refuse_file(run, writer, names[f], _refused(ids[f]), reason, landed_on[f])
            group = [f for f in group if f not in refused]
            if not group:
                continue
            # The letters of files already in the dead letter are not written again.
            due = [f for f in group if not done(f, dead)]
            if group_id is None:
                bronze_txns = [Txn(ids[f], 1) for f in group]
                dead_txns = [Txn(ids[f], 1) for f in due]
            else:
                bronze_txns = [Txn(group_id, 1)]
                dead_txns = [Txn(group_id, 1)] if due else []
            if task is not None:
                on_record += sum(staged[f].rejected for f in group if f not in due)
                _commit_staged(run, writer, [staged[f] for f in group], bronze_txns, dead_txns)
                log.info("bronze: %d landing file(s) queued", len(group))
                continue
            unseen = _letters_of([names[f] for f in due]) if len(due) < len(group) else None
            landed_here = land_batch(
                engine,
                records,
                gate,
                run.started,
                meta=_ingestion_columns(run.started),
                raw_record=partial(_with_raw_record, engine),
                bronze_txns=bronze_txns,
                dead_txns=dead_txns,
                unseen=unseen,
                write=partial(_write, run, writer),
                rereadable=True,
            )
            if not dead_txns:
                on_record += landed_here.rejected
            log.info("bronze: %d landing file(s) queued", len(group))
    # Counted from the commits, which have all landed once the writer is done.
    return run.rows.dead_letter - lettered + on_record


def _ingestion_columns(now: datetime) -> list[nw.Expr]:
    """The columns landing adds to a landing file's records (``ingestion_date`` is added
    as the file is read)."""
    return [nw.lit(now).alias("ingested_at"), nw.col("source").alias("batch_id")]


def _with_raw_record(engine: Engine, letters: Frame) -> Frame:
    """Rejected records with their ``raw_record``: the record as read, as JSON."""
    return engine.fill_json(letters, [*lake.RAW_TELEMETRY], "raw_record").with_columns(
        nw.lit(None).cast(nw.Int32).alias("source_partition")
    )


def _write(
    run: RunContext, writer: WriteBehind, spec: lake.TableSpec, frame: Frame, txns: Sequence[Txn]
) -> None:
    """Queue a commit of landed rows, counted from the commit (on Spark a count of their
    own would read the files once more)."""
    layer = "bronze" if spec is lake.SENSOR_READINGS else "dead_letter"
    writer.submit(run.engine.append, spec, frame, txns, then=partial(run.rows.add, layer))


def _letters_of(sources: list[str]) -> Callable[[Frame, lake.TableSpec], Frame]:
    """Keeps only the dead letters of ``sources`` (the rest are in the table already)."""

    def unseen(frame: Frame, spec: lake.TableSpec) -> Frame:
        if spec is lake.DEAD_LETTER:
            return frame.filter(nw.col("source").is_in(sources))
        return frame

    return unseen


def recorded_groups(engine: Engine, file_ids: list[str]) -> dict[str, str]:
    """The commit group each of ``file_ids`` was recorded in (files committed one by one, or
    many per commit with their own transactions, have none)."""
    if not file_ids or not engine.exists(lake.LANDING_FILES):
        return {}
    recorded = engine.read_local(lake.LANDING_FILES, nw.col("file_id").is_in(file_ids))
    return {r["file_id"]: r["group_id"] for r in rows(recorded.select("file_id", "group_id"))}


def _commits(
    run: RunContext,
    pending: list[Path],
    names: dict[Path, str],
    ids: dict[Path, str],
    landed_on: dict[Path, date],
    group_of: dict[str, str],
) -> Iterator[tuple[str | None, list[Path]]]:
    """The pending files in commits, each with the one transaction it records (None: each
    file's own).

    An engine that records many transactions per commit takes a landing date per commit.
    One that records one per commit (Delta on Spark) takes up to a batch of landing dates
    per commit under a group transaction, the group's members recorded in
    ``landing_files`` before it: a group whose commit never came (the run was stopped) is
    retried as it was, so its files are never ingested twice.
    """
    grouped = run.engine.one_txn_per_commit
    retried: dict[str | None, list[Path]] = {}
    by_date: dict[date, list[Path]] = {}
    for f in pending:
        if grouped and ids[f] in group_of:
            retried.setdefault(group_of[ids[f]], []).append(f)
        else:
            by_date.setdefault(landed_on[f], []).append(f)
    fresh: list[tuple[str | None, list[Path]]] = []
    for days in date_batches(sorted(by_date), run.engine.batch_days if grouped else 1):
        members = [f for d in days for f in by_date[d]]
        digest = hashlib.sha256("\n".join(sorted(ids[f] for f in members)).encode()).hexdigest()
        fresh.append((f"files:{digest[:32]}" if grouped else None, members))
    recorded = [(group, f) for group, members in fresh if group for f in members]
    if recorded:
        run.engine.merge(
            lake.LANDING_FILES,
            run.engine.frame(
                lake.LANDING_FILES,
                {
                    "file_id": [ids[f] for _, f in recorded],
                    "group_id": [group for group, _ in recorded],
                    "path": [names[f] for _, f in recorded],
                    "recorded_at": [run.started] * len(recorded),
                },
            ),
        )
    commits = [*retried.items(), *fresh]
    yield from sorted(commits, key=lambda c: min(landed_on[f] for f in c[1]))


def _landing_date(path: Path) -> date:
    landing = path.parent.name.removeprefix("date=")
    try:
        return date.fromisoformat(landing)
    except ValueError:
        raise PipelineError(f"{path.parent}: partition folder is not date=YYYY-MM-DD") from None


def _read_landing_files(
    run: RunContext, group: list[Path], names: dict[Path, str], landed_on: dict[Path, date]
) -> tuple[Frame | None, dict[Path, str]]:
    """The readable files' records (None when there is none), each with its file and
    landing date, and why each other one could not be read."""
    frames, refused = [], {}
    for f in group:
        read = _read_landing_file(run.engine, f, names[f], landed_on[f])
        if isinstance(read, str):
            refused[f] = read
        else:
            frames.append(read)
    return (nw.concat(same_kind(frames)) if frames else None), refused


def _read_landing_file(engine: Engine, path: Path, name: str, landed_on: date) -> Frame | str:
    """The file's records, each with its file and landing date; or why it cannot be read."""
    kind = landing_format(path.name)
    try:
        if path.stat().st_size == 0:
            raise ValueError("the file is empty")
        frame = engine.read_source(
            str(path), lake.RAW_TELEMETRY, required=("timestamp", "compressor_id")
        )
    except Exception as exc:  # the reader's own kinds: a file it cannot parse at all
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"unreadable landing file: not a readable {kind} file ({detail[:300]})"
    return frame.with_columns(
        nw.lit(name).alias("source"), nw.lit(landed_on).alias("ingestion_date")
    )


@dataclass(frozen=True)
class StagedLanding:
    """What a landing task made of one file: its accepted rows' and its letters' files,
    written and not committed (rows of ``WRITTEN_FILES``), and its rejected records; or why
    it could not be read."""

    bronze: pa.Table | None = None
    letters: pa.Table | None = None
    rejected: int = 0
    refused: str | None = None


@dataclass(frozen=True)
class LandingTask:
    """Lands one landing file where the engine computes, with the embedded engine's reader
    and the same rules: its accepted rows and, when due, its letters are written through the
    sinks, for the driver to commit a group's files at once. Travels to the executors, so
    it holds plain values."""

    location: LakeLocation
    gate: Gate
    now: datetime
    bronze: FileSink
    letters: FileSink

    def __call__(self, item: tuple[str, str, date, bool]) -> StagedLanding:
        path, name, landed_on, letters_due = item
        reader = PolarsEngine(self.location)
        records = _read_landing_file(reader, Path(path), name, landed_on)
        if isinstance(records, str):
            return StagedLanding(refused=records)
        written: dict[str, pa.Table] = {}

        def write(spec: lake.TableSpec, frame: Frame, _txns: Sequence[Txn]) -> None:
            rows = nw.to_native(local(frame))
            if spec is lake.SENSOR_READINGS:  # by unit: a pass reads a range of units' rows
                # (sorted as categories: in text order, half the time of sorting the texts)
                rows = rows.sort(pl.col("compressor_id").cast(pl.Categorical), "timestamp")
            sink = self.bronze if spec is lake.SENSOR_READINGS else self.letters
            written[spec.name] = sink.write(rows)

        landed = land_batch(
            reader,
            records,
            self.gate,
            self.now,
            meta=_ingestion_columns(self.now),
            raw_record=partial(_with_raw_record, reader),
            bronze_txns=[],
            dead_txns=[Txn(name, 1)] if letters_due else [],  # committed by the driver
            write=write,
        )
        return StagedLanding(
            written.get(lake.SENSOR_READINGS.name),
            written.get(lake.DEAD_LETTER.name),
            landed.rejected,
        )


def _landing_task(run: RunContext, gate: Gate) -> LandingTask | None:
    """Landing as a task per file, when the engine stages files (local Spark): Spark's own
    reader and writer spent 40 of ten days' 48 s of bronze on what Polars does in 8."""
    bronze = run.engine.file_sink(lake.SENSOR_READINGS)
    letters = run.engine.file_sink(lake.DEAD_LETTER)
    if bronze is None or letters is None:
        return None
    return LandingTask(run.engine.location, gate, run.started, bronze, letters)


def _commit_staged(
    run: RunContext,
    writer: WriteBehind,
    landed: list[StagedLanding],
    bronze_txns: list[Txn],
    dead_txns: list[Txn],
) -> None:
    """Queue the commits of a group's staged files: letters first, as :func:`land_batch`
    writes them (a run stopped between the two lands the accepted rows again, never the
    letters)."""
    engine = run.engine
    letters = [s.letters for s in landed if s.letters is not None]
    if dead_txns and letters:
        files = pa.concat_tables(letters)
        writer.submit(
            engine.append_files,
            lake.DEAD_LETTER,
            files,
            dead_txns,
            then=partial(run.rows.add, "dead_letter"),
        )
    accepted = [s.bronze for s in landed if s.bronze is not None]
    files = pa.concat_tables(accepted) if accepted else WRITTEN_FILES.empty_table()
    writer.submit(
        engine.append_files,
        lake.SENSOR_READINGS,
        files,
        bronze_txns,
        then=partial(run.rows.add, "bronze"),
    )


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
