"""Landing a batch of raw records in bronze: the one path every source takes (landing
files, the embedded stream consumer, the Spark stream consumer).

Each record is judged by the bronze rules; accepted ones are appended to ``sensor_readings``
and rejected ones to ``dead_letter`` with their reason, each append recording its Delta
application transactions so a replayed batch is never landed twice. Only the raw record's
encoding and the commit itself differ by source; they come in as arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import narwhals as nw

from altaviz.config import AppConfig
from altaviz.config.schema import CleaningRules
from altaviz.core.frames import Frame, done, height, scanned
from altaviz.engines import Engine, Txn
from altaviz.lake import catalog as lake
from altaviz.lake.catalog import TableSpec
from altaviz.transforms.bronze import compressor_id_pattern, rejection_reasons

Write = Callable[[TableSpec, Frame, Sequence[Txn]], Any]
"""Commits rows with their transactions: ``engine.append``, or a write-behind queue of it."""


@dataclass(frozen=True)
class Gate:
    """What a record must pass to enter bronze: a registered unit, a well-formed ID, the
    cleaning rules' bounds and clock."""

    fleet: frozenset[str]  # the compressor_id of every registered unit
    cleaning: CleaningRules
    pattern: str

    @classmethod
    def of(cls, engine: Engine, config: AppConfig) -> Gate:
        """The gate of the fleet registered in ``engine``'s lakehouse."""
        registered = engine.read_local(lake.COMPRESSOR_METADATA)["compressor_id"]
        return cls(
            frozenset(registered.to_list()),
            config.thresholds.cleaning,
            cls.of_pattern(config),
        )

    @staticmethod
    def of_pattern(config: AppConfig) -> str:
        """The fleet's compressor ID pattern."""
        fleet = config.fleet.telemetry
        return compressor_id_pattern(fleet.id_prefix, fleet.id_min_digits)


@dataclass(frozen=True)
class LandedBatch:
    good: Frame  # the accepted rows as written to sensor_readings
    letters: Frame  # the rejected rows as written to dead_letter (for a dead-letter topic)

    @cached_property
    def accepted(self) -> int:
        """Rows accepted into bronze, counted when first asked (a caller that counts its
        commits' rows never asks: on Spark a count is a job of its own)."""
        return height(self.good)

    @cached_property
    def rejected(self) -> int:
        """Rows rejected, counted when first asked (as :attr:`accepted`)."""
        return height(self.letters)


def land_batch(
    engine: Engine,
    records: Frame,
    gate: Gate,
    now: datetime,
    *,
    meta: Sequence[nw.Expr],
    raw_record: Callable[[Frame], Frame],
    bronze_txns: Sequence[Txn],
    dead_txns: Sequence[Txn],
    unseen: Callable[[Frame, TableSpec], Frame] | None = None,
    write: Write | None = None,
    rereadable: bool = False,
) -> LandedBatch:
    """Judge ``records`` at ``now`` and land them: accepted rows in bronze, rejected rows in
    the dead letter (skipped when ``dead_txns`` is empty: that file's letters are already
    there). The rows are counted only when the returned batch is asked.

    ``meta`` adds the ingestion columns (``ingested_at``, ``batch_id``, ``ingestion_date``);
    ``raw_record`` adds the dead letter's ``raw_record`` to rejected rows; ``unseen`` drops
    rows a table already holds (a consumer replaying after a crash between its two commits);
    ``write`` commits (default ``engine.append``). ``rereadable``: ``records`` can be read
    again (files, not a stream's batch), so Spark judges them once per write rather than
    keeping the judged rows (reading files again costs less than keeping millions of rows).
    """
    write = write or engine.append
    unseen = unseen or (lambda rows, _spec: rows)
    keep = scanned if rereadable else done
    judged = keep(rejection_reasons(records, gate.fleet, gate.cleaning, gate.pattern, now))
    letters = judged.filter(~nw.col("reason").is_null())
    if dead_txns:
        letters = unseen(raw_record(letters).with_columns(*meta), lake.DEAD_LETTER)
    good = unseen(
        judged.filter(nw.col("reason").is_null()).with_columns(*meta), lake.SENSOR_READINGS
    )
    landed = LandedBatch(good, letters)
    # Letters are counted before they are written, and a batch without any writes none:
    # nothing of it can be lost or landed twice. On Spark the count reads only the columns
    # the rules judge, where writing the letters reads every column of every record.
    if dead_txns and landed.rejected:
        write(lake.DEAD_LETTER, letters, list(dead_txns))
    write(lake.SENSOR_READINGS, good, list(bronze_txns))
    return landed
