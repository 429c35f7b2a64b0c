"""The pipeline's own progress, kept in the ``pipeline_state`` table: the bronze version
silver last consumed, and the dates gold and the models still owe."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from altaviz.core.frames import rows
from altaviz.engines import Engine
from altaviz.lake import catalog as lake


@dataclass(frozen=True)
class StageState:
    version: int | None = None
    pending: set[date] = field(default_factory=set)


def read_state(engine: Engine) -> dict[str, StageState]:
    """Every stage's recorded state, by stage name."""
    return {
        r["stage"]: StageState(
            r["source_version"], {date.fromisoformat(d) for d in json.loads(r["pending_dates"])}
        )
        for r in rows(engine.read_local(lake.PIPELINE_STATE))
    }


def save_state(engine: Engine, stage: str, version: int | None, pending: set[date]) -> None:
    """Record a stage's state; the same state again writes nothing (a rerun changes no
    table, even while a date stays held back)."""
    if read_state(engine).get(stage) == StageState(version, set(pending)):
        return
    row = {
        "stage": [stage],
        "source_version": [version],
        "pending_dates": [json.dumps(sorted(d.isoformat() for d in pending))],
    }
    engine.merge(lake.PIPELINE_STATE, engine.frame(lake.PIPELINE_STATE, row))
