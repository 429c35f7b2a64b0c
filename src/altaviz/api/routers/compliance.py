"""``/compliance``: the rod-packing programme, operating-mode hours and the annual Subpart W
report pack (generate, list, download)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from altaviz.api.deps import ActorDep, ServedDep
from altaviz.core.errors import InputError, NotFoundError

router = APIRouter(tags=["compliance"])
Short = Annotated[str | None, Query(max_length=64)]


class Programme(BaseModel):
    as_of: datetime
    count: int
    overdue: int
    exceedances: int
    units: list[dict[str, Any]]


class MeasurementRequest(BaseModel):
    compressor_id: str = Field(max_length=64)
    measured_at: datetime
    vent_scfm: list[float] = Field(
        default=[], max_length=64, description="one per cylinder, in order"
    )
    kind: Literal["measurement", "replacement"] = "measurement"
    instrument: str | None = Field(None, max_length=200)
    measured_by: str | None = Field(None, max_length=200)
    unit_operating_hours: float | None = Field(None, ge=0)
    note: str | None = Field(None, max_length=2000)


class Recorded(BaseModel):
    measurement_id: str
    recorded_by: str


class ReportRequest(BaseModel):
    facility: str = Field(max_length=64, description="a basin's name or code")
    year: int = Field(ge=2000, le=2100)


class Report(BaseModel):
    report_id: str
    facility: str
    year: int
    co2e_t: float
    over_threshold: bool
    inputs: dict[str, int | None]
    files: dict[str, str]  # name -> SHA-256


@router.get("/compliance/packing")
async def packing_programme(
    served: ServedDep,
    basin: Short = None,
    due_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 500,
) -> Programme:
    """Every unit's place in the rod-packing programme, soonest due first: its NSPS rule,
    last measurement and replacement, operating hours since, the next due date, whether it
    is overdue and whether an exceedance awaits repair (with its deadline)."""
    from altaviz.pipeline.compliance import due_list

    try:
        as_of, units = await run_in_threadpool(
            due_list, served.engine, served.config, basin, due_within_days
        )
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Programme(
        as_of=as_of,
        count=units.height,
        overdue=int(units["overdue"].sum()),
        exceedances=int(units["exceedance_open"].sum()),
        units=units.head(limit).to_dicts(),
    )


@router.post("/compliance/packing/measurements", status_code=201)
async def record(request: MeasurementRequest, served: ServedDep, who: ActorDep) -> Recorded:
    """Record a rod-packing vent-flow measurement (one value per cylinder) or a packing
    replacement; records are append-only. Engineers and admins; viewers get 403."""
    from altaviz.pipeline.compliance import record_measurement

    if not who.may_triage:
        raise HTTPException(403, f"{who.name} ({who.role}) may read, not record measurements")
    try:
        measurement_id = await run_in_threadpool(
            record_measurement,
            served.engine,
            request.compressor_id,
            request.vent_scfm,
            request.measured_at,
            who.name,
            request.kind,
            request.instrument,
            request.measured_by,
            request.unit_operating_hours,
            request.note,
        )
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except InputError as exc:
        raise HTTPException(400, str(exc)) from exc
    return Recorded(measurement_id=measurement_id, recorded_by=who.name)


@router.get("/compliance/operating-modes")
async def operating_modes(
    served: ServedDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    by: Literal["unit", "station", "basin"] = "basin",
) -> dict[str, Any]:
    """Hours in each operating mode (operating, pressurised standby, depressurised, not
    reporting) per unit, station or basin over a calendar year."""
    from altaviz.pipeline.compliance import mode_hours

    rows = await run_in_threadpool(mode_hours, served.engine, year, by)
    return {"year": year, "by": by, "count": rows.height, "rows": rows.to_dicts()}


@router.post("/compliance/reports", status_code=201)
async def generate(request: ReportRequest, served: ServedDep, who: ActorDep) -> Report:
    """Generate a facility's Subpart W report pack for a year (CSV files and a PDF), keep it
    with the lakehouse and record who made it from which inputs. Engineers and admins."""
    from altaviz.pipeline.subpart_w import generate_report

    if not who.may_triage:
        raise HTTPException(403, f"{who.name} ({who.role}) may read, not generate reports")
    try:
        pack = await run_in_threadpool(
            generate_report,
            served.engine,
            served.config,
            request.facility,
            request.year,
            who.name,
            None,
        )
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Report(
        report_id=pack.report_id,
        facility=pack.facility,
        year=pack.year,
        co2e_t=pack.co2e_t,
        over_threshold=pack.over_threshold,
        inputs=pack.inputs,
        files=pack.digests(),
    )


@router.get("/compliance/reports")
async def reports(served: ServedDep, facility: Short = None) -> dict[str, Any]:
    """Every recorded generation of a report pack, newest first (the audit trail)."""
    from altaviz.pipeline.subpart_w import generations

    rows = await run_in_threadpool(generations, served.engine, facility)
    return {"count": rows.height, "generations": rows.to_dicts()}


@router.get("/compliance/reports/{report_id}/{name}")
def report_file(report_id: str, name: str, served: ServedDep) -> Response:
    """One file of a generated pack, as kept with the lakehouse."""
    from altaviz.pipeline.subpart_w import stored_file

    try:
        data, kind = stored_file(served.engine, report_id, name)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(
        data, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
