"""The worklist page, a case's page, and triage from the browser (the same
:func:`altaviz.worklist.triage` the API and the CLI use: one audit trail)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from altaviz.api.deps import ServedDep
from altaviz.core.errors import InputError, NotFoundError
from altaviz.transforms.cases import CLOSE_REASONS
from altaviz.web.auth import CheckedDep, PersonDep, safe_next
from altaviz.web.site import options, render
from altaviz.worklist import case_detail, list_cases, triage
from altaviz.worklist.view import CaseFilter

router = APIRouter(include_in_schema=False)
Short = Annotated[str | None, Query(max_length=64)]
SORTS = {
    "severity": None,  # the worklist's own order: critical, soonest to fail, oldest
    "ttf": "time_to_failure_hours",
    "opened": "opened_at",
    "unit": "compressor_id",
    "basin": "basin",
    "station": "station_id",
    "assignee": "assignee",
    "mode": "suspected_failure_mode",
    "state": "state",
}
Sort = Literal["severity", "ttf", "opened", "unit", "basin", "station", "assignee", "mode", "state"]
SHOWN = 300


@router.get("/ui/worklist", response_class=HTMLResponse)
def worklist_page(
    request: Request,
    who: PersonDep,
    served: ServedDep,
    state: Literal["worklist", "open", "acknowledged", "snoozed", "resolved", "closed", "all"] = (
        "worklist"
    ),
    severity: Literal["", "warning", "critical"] = "",
    basin: Short = None,
    station: Short = None,
    assignee: Short = None,
    mode: Short = None,
    within: Annotated[float | None, Query(ge=0, le=10_000)] = None,
    sort: Sort = "severity",
    desc: bool = False,
) -> HTMLResponse:
    """The open cases, filtered and sorted, with triage and bulk acknowledge."""
    where = CaseFilter(
        None if state == "all" else state,
        severity or None,
        basin or None,
        station or None,
        assignee or None,
    )
    everything = list_cases(served.engine, CaseFilter("worklist"))
    cases = list_cases(served.engine, where)
    if cases.height and mode:
        cases = cases.filter(pl.col("suspected_failure_mode") == mode)
    if cases.height and within is not None:
        cases = cases.filter(pl.col("time_to_failure_hours") <= within)
    if cases.height and SORTS[sort]:
        cases = cases.sort(SORTS[sort], descending=desc, nulls_last=True)
    elif cases.height and desc:
        cases = cases.reverse()
    filters = {
        "state": state,
        "severity": severity,
        "basin": basin or "",
        "station": station or "",
        "assignee": assignee or "",
        "mode": mode or "",
        "within": "" if within is None else f"{within:g}",
    }
    return render(
        request,
        "worklist.html",
        who,
        cases=cases.head(SHOWN).to_dicts(),
        count=cases.height,
        shown=SHOWN,
        filters=filters,
        sort=sort,
        desc=desc,
        query=urlencode({k: v for k, v in filters.items() if v}),
        back=str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
        choices={
            "basin": options(everything, "basin"),
            "station": options(everything, "station_id"),
            "assignee": options(everything, "assignee"),
            "mode": sorted(served.config.fleet.failures.modes),
        },
    )


@router.get("/ui/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, request: Request, who: PersonDep, served: ServedDep) -> HTMLResponse:
    """One case: its alerts, its audit trail, its evidence and diagnosis, and triage."""
    try:
        detail = case_detail(served.engine, case_id[:64])
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return render(
        request,
        "case.html",
        who,
        case=detail["case"],
        alerts=detail["alerts"],
        events=detail["events"],
        reasons=CLOSE_REASONS,
        modes=sorted(served.config.fleet.failures.modes),
        done=request.query_params.get("done"),
        error=request.query_params.get("error"),
    )


@router.post("/ui/cases/{case_id}/{action}")
async def triage_case(
    case_id: str,
    action: Literal["acknowledge", "assign", "snooze", "note", "close"],
    who: CheckedDep,
    served: ServedDep,
    assignee: Annotated[str | None, Form(max_length=128)] = None,
    until: Annotated[str | None, Form(max_length=32)] = None,
    note: Annotated[str | None, Form(max_length=4000)] = None,
    reason: Annotated[str | None, Form(max_length=32)] = None,
    failure_mode: Annotated[str | None, Form(max_length=64)] = None,
) -> RedirectResponse:
    """Triage from the case page; back to it with what was done (or why not)."""
    if not who.may_triage:
        raise HTTPException(403, f"{who.name} ({who.role}) may read cases, not triage them")
    page = f"/ui/cases/{case_id[:64]}"
    try:
        await run_in_threadpool(
            triage,
            served.engine,
            case_id[:64],
            action,
            who.actor,
            assignee=assignee or None,
            snoozed_until=_moment(until),
            note=note or None,
            reason=reason or None,
            failure_mode=failure_mode or None,
            known_modes=tuple(served.config.fleet.failures.modes),
        )
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except InputError as exc:
        return RedirectResponse(f"{page}?{urlencode({'error': str(exc)})}", status_code=303)
    return RedirectResponse(f"{page}?{urlencode({'done': action})}", status_code=303)


@router.post("/ui/worklist/acknowledge")
async def acknowledge_many(
    who: CheckedDep,
    served: ServedDep,
    case_ids: Annotated[list[str], Form(max_length=500)],
    back: Annotated[str, Form(max_length=2048)] = "/ui/worklist",
) -> RedirectResponse:
    """Acknowledge every case ticked on the worklist; back to it, filters kept."""
    if not who.may_triage:
        raise HTTPException(403, f"{who.name} ({who.role}) may read cases, not triage them")
    done = 0
    for case_id in case_ids:
        try:
            await run_in_threadpool(triage, served.engine, case_id[:64], "acknowledge", who.actor)
            done += 1
        except (NotFoundError, InputError):
            continue  # closed meanwhile, or gone: the others still count
    target = safe_next(back)
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}acknowledged={done}", status_code=303)


def _moment(text: str | None) -> datetime | None:
    """A snooze's end from the form (``datetime-local``, taken as UTC)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise HTTPException(400, f"until: not a date and time: {text[:32]!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
