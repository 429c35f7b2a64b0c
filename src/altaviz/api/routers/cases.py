"""``/cases``: the worklist, one case per sick unit, and triage (engineers and admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from altaviz.api.deps import ActorDep, ServedDep
from altaviz.api.models import CaseDetail, CaseList, TriageRequest
from altaviz.api.routers.alerts import MAX_LIMIT
from altaviz.core.errors import InputError, NotFoundError
from altaviz.worklist import case_detail, list_cases, triage
from altaviz.worklist.triage import ForbiddenError
from altaviz.worklist.view import CaseFilter

router = APIRouter(tags=["cases"])
CaseState = Literal["worklist", "all", "open", "acknowledged", "snoozed", "resolved", "closed"]
Action = Literal["acknowledge", "assign", "snooze", "note", "close"]
Short = Annotated[str | None, Query(max_length=64)]


@router.get("/cases")
def cases(
    served: ServedDep,
    state: CaseState = "worklist",
    severity: Literal["warning", "critical"] | None = None,
    basin: Short = None,
    station: Short = None,
    assignee: Short = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> CaseList:
    """Cases, critical first and soonest to fail first; by default the worklist (open,
    acknowledged or snoozed)."""
    where = CaseFilter(None if state == "all" else state, severity, basin, station, assignee)
    found = list_cases(served.engine, where)
    return CaseList(count=found.height, cases=found.head(limit).to_dicts())


@router.get("/cases/{case_id}")
def case(case_id: str, served: ServedDep) -> CaseDetail:
    """One case with its alerts, its events (the audit trail) and its evidence."""
    try:
        return CaseDetail(**case_detail(served.engine, case_id))
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.post("/cases/{case_id}/{action}")
async def act(
    case_id: str, action: Action, request: TriageRequest, served: ServedDep, who: ActorDep
) -> CaseDetail:
    """Acknowledge, assign (``assignee``), snooze (``until``), note (``note``) or close
    (``reason``, optionally ``failure_mode`` and ``note``). Viewers get 403."""
    if not who.may_triage:
        raise HTTPException(403, f"{who.name} ({who.role}) may read cases, not triage them")
    modes = tuple(served.config.fleet.failures.modes)
    try:
        detail = await run_in_threadpool(
            triage,
            served.engine,
            case_id,
            action,
            who,
            assignee=request.assignee,
            snoozed_until=request.until,
            note=request.note,
            reason=request.reason,
            failure_mode=request.failure_mode,
            known_modes=modes,
        )
    except ForbiddenError as exc:
        raise HTTPException(403, str(exc)) from exc
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except InputError as exc:
        raise HTTPException(400, str(exc)) from exc
    return CaseDetail(**detail)
