"""What every stage of one run shares: the engine, the configuration, the request, and
what the run has counted and timed so far."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import narwhals as nw

from altaviz.config import AppConfig
from altaviz.core.errors import AltavizError
from altaviz.core.frames import Frame
from altaviz.core.results import RowCounts
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.transforms.repairs import repairs_from


class PipelineError(AltavizError):
    """The pipeline cannot run; the message says why in one line."""


@dataclass(frozen=True)
class PipelineRequest:
    """One run's options: where from, where to, what to skip, on which engine."""

    source: Path | None = None
    lakehouse: Path | None = None
    skip_quality: bool = False
    skip_ml: bool = False
    skip_db: bool = False
    engine: str = "polars"
    accept_fleet_change: bool = False  # the source's fleet really changed (new units, moves)


@dataclass
class RunContext:
    """One run in progress."""

    engine: Engine
    config: AppConfig
    request: PipelineRequest
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    durations: dict[str, float] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)  # Spark jobs per stage (Spark only)
    rows: RowCounts = field(default_factory=RowCounts)
    notes: list[str] = field(default_factory=list)
    refused_files: list[str] = field(default_factory=list)  # landing files that could not be read
    say: Callable[[str], None] = field(default=lambda _message: None)  # progress, for a person
    _repairs: Frame | None = None
    _downtime: Frame | None = None

    def repairs(self) -> Frame:
        """The fleet's finished repairs (compressor_id, repaired_at), read once a run."""
        if self._repairs is None:
            self._repairs = repairs_from(self.engine.read_local(lake.MAINTENANCE_EVENTS))
        return self._repairs

    def downtime(self) -> Frame:
        """When each unit was down for maintenance (compressor_id, started_at, completed_at),
        read once a run."""
        if self._downtime is None:
            self._downtime = self.engine.read_local(
                lake.MAINTENANCE_EVENTS, ~nw.col("started_at").is_null()
            ).select("compressor_id", "started_at", "completed_at")
        return self._downtime

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage (and count its Spark jobs); a stage entered more than once (batch by
        batch) adds up."""
        began = time.perf_counter()
        count = getattr(self.engine, "jobs_run", None)
        jobs_before = count() if count else 0
        try:
            yield
        finally:
            self.durations[name] = round(
                self.durations.get(name, 0.0) + time.perf_counter() - began, 3
            )
            if count:
                self.jobs[name] = self.jobs.get(name, 0) + count() - jobs_before
