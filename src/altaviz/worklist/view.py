"""Cases as people see them: the pipeline's ``cases`` rows with every action taken since,
so an acknowledgement shows at once, not at the next run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.core.errors import NotFoundError, quoted
from altaviz.core.frames import local
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.transforms.cases import HUMAN_COLUMNS, case_state, human_view

ON_THE_LIST = ("open", "acknowledged", "snoozed")


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None  # a state, or "worklist" (open, acknowledged or snoozed)
    severity: str | None = None
    basin: str | None = None
    station_id: str | None = None
    assignee: str | None = None
    compressor_id: str | None = None


def current_cases(engine: Engine, now: datetime | None = None) -> pl.DataFrame:
    """Every case with its people's actions up to now (``now``: the wall clock)."""
    now = now or datetime.now(UTC)
    cases = nw.to_native(local(engine.read(lake.CASES)))
    events = nw.to_native(local(engine.read(lake.CASE_EVENTS)))
    if not cases.height:
        return cases
    people = human_view(events)
    merged = cases.drop(*HUMAN_COLUMNS).join(people, on="case_id", how="left")
    state = case_state(
        pl.col("alerts_open") > 0,
        pl.col("closed_at").is_not_null(),
        pl.col("snoozed_until"),
        pl.col("acknowledged_at").is_not_null(),
        now,
    )
    return merged.with_columns(state.alias("state"), pl.col("notes").fill_null(0)).select(
        cases.columns
    )


def list_cases(engine: Engine, where: CaseFilter, now: datetime | None = None) -> pl.DataFrame:
    """The cases that match ``where``, worst first (critical, then soonest to fail, then
    oldest)."""
    cases = current_cases(engine, now)
    if not cases.height:
        return cases
    if where.state == "worklist":
        cases = cases.filter(pl.col("state").is_in(ON_THE_LIST))
    elif where.state:
        cases = cases.filter(pl.col("state") == where.state)
    for column in ("severity", "basin", "station_id", "assignee", "compressor_id"):
        wanted = getattr(where, column)
        if wanted:
            cases = cases.filter(pl.col(column) == wanted)
    return cases.sort(
        pl.col("severity") != "critical",
        pl.col("time_to_failure_hours").fill_null(float("inf")),
        "opened_at",
    )


def case_detail(engine: Engine, case_id: str, now: datetime | None = None) -> dict[str, Any]:
    """One case with its alerts and its events (the audit trail), oldest first."""
    found = current_cases(engine, now).filter(pl.col("case_id") == case_id)
    if not found.height:
        raise NotFoundError(f"no case {quoted(case_id, 64)}")
    case = found.row(0, named=True)
    ids = case["alert_ids"].split(",")
    alerts = nw.to_native(
        local(
            engine.read(
                lake.ALERT_HISTORY,
                (nw.col("compressor_id") == case["compressor_id"]) & nw.col("alert_id").is_in(ids),
            )
        )
    ).sort("opened_at")
    events = nw.to_native(local(engine.read(lake.CASE_EVENTS, nw.col("case_id") == case_id))).sort(
        "at", "event_id"
    )
    return {"case": case, "alerts": alerts.to_dicts(), "events": events.to_dicts()}
