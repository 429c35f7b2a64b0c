"""Triage: what people do to a case. Every action is appended to ``case_events`` (who, when,
what, from which state to which, the note) and never rewritten: the pipeline reads these
events, it does not write them, so a rerun or a backfill keeps every human decision.

>>> Actor("alice", Role.VIEWER).may_triage
False
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import polars as pl

from altaviz.core.errors import InputError, NotFoundError, quoted
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.transforms.cases import ACTIONS, CLOSE_REASONS, EVENT_SCHEMA
from altaviz.worklist.view import case_detail, current_cases


class Role(StrEnum):
    """What a person (or an API key) may do: viewers read, engineers triage, admins also
    manage keys, routes and maintenance windows."""

    VIEWER = "viewer"
    ENGINEER = "engineer"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role

    @property
    def may_triage(self) -> bool:
        return self.role in (Role.ENGINEER, Role.ADMIN)


class ForbiddenError(InputError):
    """The actor's role does not allow the action."""


def triage(
    engine: Engine,
    case_id: str,
    action: str,
    actor: Actor,
    *,
    assignee: str | None = None,
    snoozed_until: datetime | None = None,
    note: str | None = None,
    reason: str | None = None,
    failure_mode: str | None = None,
    known_modes: tuple[str, ...] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record ``action`` on ``case_id`` by ``actor``; returns the case as it is now.

    Actions: ``acknowledge``; ``assign`` (to ``assignee``); ``snooze`` (until
    ``snoozed_until``, ahead of now); ``note``; ``close`` (with a ``reason`` from
    :data:`~altaviz.transforms.cases.CLOSE_REASONS` and, optionally, the confirmed
    ``failure_mode``). A closed case takes notes only.
    """
    now = now or datetime.now(UTC)
    if not actor.may_triage:
        raise ForbiddenError(f"{actor.name} ({actor.role}) may read cases, not triage them")
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    found = current_cases(engine, now).filter(pl.col("case_id") == case_id)
    if not found.height:
        raise NotFoundError(f"no case {quoted(case_id, 64)}")
    case = found.row(0, named=True)
    _check(case, action, assignee, snoozed_until, note, reason, failure_mode, known_modes, now)
    after = {
        "acknowledge": "acknowledged",
        "assign": case["state"],
        "snooze": "snoozed",
        "note": case["state"],
        "close": "closed",
    }[action]
    if action == "acknowledge" and case["state"] in ("resolved", "snoozed"):
        after = case["state"]
    event = {
        "event_id": uuid.uuid4().hex,
        "case_id": case_id,
        "compressor_id": case["compressor_id"],
        "at": now,
        "actor": actor.name,
        "action": action,
        "from_state": case["state"],
        "to_state": after,
        "assignee": assignee,
        "snoozed_until": snoozed_until,
        "reason": reason,
        "failure_mode": failure_mode,
        "note": note,
    }
    rows = pl.DataFrame([event], schema=EVENT_SCHEMA)
    engine.append(lake.CASE_EVENTS, engine.frame(lake.CASE_EVENTS, rows.to_dict(as_series=False)))
    return case_detail(engine, case_id, now)


def _check(
    case: dict[str, Any],
    action: str,
    assignee: str | None,
    until: datetime | None,
    note: str | None,
    reason: str | None,
    mode: str | None,
    known_modes: tuple[str, ...],
    now: datetime,
) -> None:
    """Refuse what cannot be done, in one line that says why."""
    if case["state"] == "closed" and action != "note":
        raise InputError(f"{case['case_id']} is closed; it takes notes only")
    if action == "assign" and not (assignee or "").strip():
        raise InputError("assign needs the person or team to assign to")
    if action == "snooze" and (until is None or until <= now):
        raise InputError("snooze needs a moment ahead of now to snooze until")
    if action == "note" and not (note or "").strip():
        raise InputError("a note needs its text")
    if action == "close":
        if reason not in CLOSE_REASONS:
            raise InputError(f"close needs a reason: one of {', '.join(CLOSE_REASONS)}")
        if mode is not None and known_modes and mode not in known_modes:
            raise InputError(f"unknown failure mode {mode!r}; one of {', '.join(known_modes)}")
