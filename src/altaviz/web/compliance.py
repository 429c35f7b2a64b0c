"""The emissions page's compliance part: the rod-packing programme, operating-mode hours and
the annual Subpart W report pack (generate, download), and recording a measurement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from altaviz.api.deps import Served, ServedDep
from altaviz.core.errors import InputError, NotFoundError
from altaviz.lake import catalog as lake
from altaviz.pipeline import compliance, subpart_w
from altaviz.web.auth import CheckedDep, PersonDep
from altaviz.web.site import Web

router = APIRouter()
PAGE = "/ui/emissions"
SHOWN = 25  # programme rows on the page; the API and CLI give them all


def compliance_view(request: Request, served: Served, year: int) -> dict[str, Any]:
    """What the emissions page shows of the packing programme, the mode hours of ``year``,
    the facilities and the report generations, recomputed when their tables change."""
    engine = served.engine
    web: Web = request.app.state.web
    versions = tuple(
        engine.version(spec)
        for spec in (
            lake.PACKING_MEASUREMENTS,
            lake.OPERATING_MODE_DAYS,
            lake.SENSOR_CLEANED,
            lake.COMPLIANCE_REPORTS,
        )
    )
    return web.memo.get(("compliance", year), versions, lambda: _view(served, year))


def _view(served: Served, year: int) -> dict[str, Any]:
    engine, config = served.engine, served.config
    if not engine.exists(lake.COMPRESSOR_METADATA):
        return {"programme": None}
    as_of, units = compliance.due_list(engine, config)
    flagged = units.filter(pl.col("exceedance_open"))
    due_soon = units.filter(~pl.col("exceedance_open")).head(SHOWN)
    horizon = as_of.date() + timedelta(days=30)
    facilities = (
        engine.read(lake.COMPRESSOR_METADATA).select("basin", "basin_code").unique().collect()
    )
    return {
        "programme": {
            "as_of": as_of,
            "units": units.height,
            "overdue": int(units["overdue"].sum()),
            "due_30": units.filter(~pl.col("overdue") & (pl.col("next_due") <= horizon)).height,
            "exceedances": flagged.to_dicts(),
            "due": due_soon.to_dicts(),
        },
        "modes": compliance.mode_hours(engine, year, "basin").to_dicts(),
        "facilities": sorted(facilities.rows()),
        "generations": [
            {**g, "names": subpart_w.stored_files(engine, g["report_id"])}
            for g in subpart_w.generations(engine).head(20).to_dicts()
        ],
    }


@router.post("/ui/compliance/reports")
async def generate(
    who: CheckedDep,
    served: ServedDep,
    facility: Annotated[str, Form(max_length=64)],
    year: Annotated[int, Form(ge=2000, le=2100)],
) -> RedirectResponse:
    """Generate a facility's report pack; back to the emissions page with its ID."""
    if not who.may_triage:
        raise HTTPException(403, f"{who.name} ({who.role}) may read, not generate reports")
    try:
        pack = await run_in_threadpool(
            subpart_w.generate_report, served.engine, served.config, facility, year, who.name, None
        )
    except (NotFoundError, InputError) as exc:
        return _back({"error": str(exc)})
    return _back({"report": pack.report_id})


@router.post("/ui/compliance/measurements")
async def record(
    who: CheckedDep,
    served: ServedDep,
    compressor_id: Annotated[str, Form(max_length=64)],
    vent_scfm: Annotated[str, Form(max_length=512)],
    measured_at: Annotated[str, Form(max_length=32)],
    instrument: Annotated[str | None, Form(max_length=200)] = None,
) -> RedirectResponse:
    """Record a vent-flow measurement (one flow per cylinder, comma-separated)."""
    if not who.may_triage:
        raise HTTPException(403, f"{who.name} ({who.role}) may read, not record measurements")
    try:
        values = [float(v) for v in vent_scfm.replace(";", ",").split(",") if v.strip()]
        moment = datetime.fromisoformat(measured_at)
    except ValueError:
        return _back({"error": "give flows as numbers separated by commas, and a date and time"})
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        measurement_id = await run_in_threadpool(
            compliance.record_measurement,
            served.engine,
            compressor_id.strip(),
            values,
            moment,
            who.name,
            "measurement",
            instrument or None,
        )
    except (NotFoundError, InputError) as exc:
        return _back({"error": str(exc)})
    return _back({"recorded": measurement_id})


@router.get("/ui/compliance/reports/{report_id}/{name}")
def download(report_id: str, name: str, who: PersonDep, served: ServedDep) -> Response:
    """A file of a generated pack, as kept with the lakehouse."""
    try:
        data, kind = subpart_w.stored_file(served.engine, report_id, name)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(
        data, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _back(params: dict[str, str]) -> RedirectResponse:
    return RedirectResponse(f"{PAGE}?{urlencode(params)}#compliance", status_code=303)
