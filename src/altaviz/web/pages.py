"""The pages people look at: the fleet overview, a unit, emissions, pipeline health (the
worklist and cases are in :mod:`altaviz.web.worklist`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from altaviz.agent.diagnostics import DiagnosisError, diagnose
from altaviz.api.deps import Served, ServedDep, unit_id
from altaviz.core.errors import quoted
from altaviz.lake import catalog as lake
from altaviz.pipeline.reports import emissions_totals
from altaviz.web import overview, reports
from altaviz.web.auth import PersonDep
from altaviz.web.charts import SPANS, UnitContext, fleet_limits, unit_charts
from altaviz.web.compliance import compliance_view
from altaviz.web.map import outline
from altaviz.web.site import Web, options, render, stamp
from altaviz.worklist.view import CaseFilter, current_cases, list_cases

router = APIRouter(include_in_schema=False)
Short = Annotated[str | None, Query(max_length=64)]


@router.get("/", response_class=HTMLResponse)
def fleet_page(
    request: Request,
    who: PersonDep,
    served: ServedDep,
    basin: Short = None,
    station: Short = None,
    model: Short = None,
) -> HTMLResponse:
    """The fleet overview: headline figures, the map, health by basin, the worst units."""
    snapshot = served.store.get()
    where = overview.FleetFilter(basin or None, station or None, model or None)
    units = where.apply(snapshot.units)
    conditions = overview.unit_conditions(
        units,
        snapshot.latest,
        snapshot.predictions,
        current_cases(served.engine),
        timedelta(minutes=served.config.thresholds.alerts.offline_after_minutes),
    )
    newest = snapshot.latest["hour"].max() if snapshot.latest.height else None
    placed = overview.stations(conditions, outline())
    in_basin = snapshot.units.filter(pl.col("basin") == basin) if basin else snapshot.units
    health = snapshot.fleet.filter(pl.col("basin") == basin) if basin else snapshot.fleet
    return render(
        request,
        "fleet.html",
        who,
        where=where,
        headline=overview.headline(conditions, newest),
        stations=placed,
        basins=overview.basins(placed),
        map_height=outline().height,
        health=health.to_dicts(),
        health_date=snapshot.fleet["date"].max() if snapshot.fleet.height else None,
        worst=overview.worst_units(conditions),
        choices={
            "basin": options(snapshot.units, "basin"),
            "station": options(in_basin, "station_id"),
            "model": options(snapshot.units, "model"),
        },
    )


@router.get("/ui/units/{compressor_id}", response_class=HTMLResponse)
def unit_page(
    compressor_id: str,
    request: Request,
    who: PersonDep,
    served: ServedDep,
    days: int = 7,
) -> HTMLResponse:
    """One unit: its trends with limits and markers, models, diagnosis, history, metadata."""
    _check_span(days)
    found = _unit(served, compressor_id)
    uid = found["compressor"]["compressor_id"]
    cases = list_cases(served.engine, CaseFilter(compressor_id=uid))
    snapshot = served.store.get()
    alerts = snapshot.alerts.filter(pl.col("compressor_id") == uid)
    events = _all_maintenance(served, request.app.state.web)
    history = events.filter(pl.col("compressor_id") == uid).sort("started_at", descending=True)
    return render(
        request,
        "unit.html",
        who,
        unit=found["compressor"],
        latest=found["latest_readings"],
        prediction=found["prediction"],
        cases=cases.head(10).to_dicts(),
        alerts=alerts.head(20).to_dicts(),
        maintenance=history.to_dicts(),
        days=days,
        spans=SPANS,
    )


@router.get("/ui/units/{compressor_id}/charts")
def unit_chart_data(
    compressor_id: str,
    request: Request,
    who: PersonDep,
    served: ServedDep,
    days: int = 7,
) -> JSONResponse:
    """The unit page's chart data (hourly from gold; 5-minute readings for one day)."""
    _check_span(days)
    found = _unit(served, compressor_id)
    unit = found["compressor"]
    snapshot = served.store.get()
    if not snapshot.latest.height:
        raise HTTPException(404, "no readings in gold yet: run `altaviz pipeline` first")
    until = snapshot.latest["hour"].max()
    web: Web = request.app.state.web
    maintenance = _all_maintenance(served, web)
    limits = web.memo.get(
        "limits",
        (snapshot.versions, served.engine.version(lake.UNIT_BASELINES), until),
        lambda: fleet_limits(served.engine, served.config, snapshot.units, maintenance, until),
    )
    context = UnitContext(
        alerts=snapshot.alerts.filter(pl.col("compressor_id") == unit["compressor_id"]),
        maintenance=maintenance.filter(pl.col("compressor_id") == unit["compressor_id"]),
        limits=limits.get(unit["compressor_id"], {}),
    )
    return JSONResponse(unit_charts(served.engine, served.config, unit, context, days, until))


@router.get("/ui/units/{compressor_id}/diagnosis", response_class=HTMLResponse)
async def unit_diagnosis(
    compressor_id: str, request: Request, who: PersonDep, served: ServedDep
) -> HTMLResponse:
    """The unit's diagnosis, as a fragment the unit and case pages load after they show."""
    found = _unit(served, compressor_id)
    try:
        report, note = await run_in_threadpool(
            diagnose,
            found["compressor"]["compressor_id"],
            served.data,
            served.config,
            served.settings,
        )
    except DiagnosisError as exc:
        return render(request, "_diagnosis.html", who, report=None, error=str(exc), note=None)
    return render(request, "_diagnosis.html", who, report=report, error=None, note=note)


@dataclass
class Period:
    """What the emissions page and its CSV total: per basin, station or unit, from ``since``
    to ``until`` (both included; default every date on record)."""

    by: Literal["basin", "station", "unit"] = "basin"
    since: date | None = None
    until: date | None = None


PeriodDep = Annotated[Period, Depends()]


@router.get("/ui/emissions", response_class=HTMLResponse)
def emissions_page(
    request: Request, who: PersonDep, served: ServedDep, period: PeriodDep
) -> HTMLResponse:
    """Methane and CO2e by basin, station or unit over a period, against the threshold."""
    by, since, until = period.by, period.since, period.until
    error = (
        f"the period starts ({since}) after it ends ({until})"
        if since and until and since > until
        else None
    )
    totals, span = (None, None) if error else _emissions(request, served, period)
    threshold = served.config.models.emissions.reporting_threshold_t_co2e
    year = (span[1] if span else until or datetime.now(UTC).date()).year
    return render(
        request,
        "emissions.html",
        who,
        by=by,
        since=since,
        until=until,
        span=span,
        totals=totals.head(200).to_dicts() if totals is not None and totals.height else [],
        count=totals.height if totals is not None else 0,
        sums=_sums(totals),
        threshold=threshold,
        error=error,
        query=request.url.query,
        year=year,
        compliance=compliance_view(request, served, year),
        message={k: request.query_params.get(k) for k in ("report", "recorded", "error")},
    )


@router.get("/ui/emissions.csv")
def emissions_csv(
    request: Request, who: PersonDep, served: ServedDep, period: PeriodDep
) -> Response:
    """The emissions page's table as CSV (every row, not only the ones shown)."""
    totals, span = _emissions(request, served, period)
    if span is None:
        raise HTTPException(404, "no emissions estimates for those dates")
    name = f"altaviz-emissions-by-{period.by}-{span[0]}-{span[1]}.csv"
    return Response(
        reports.as_csv(totals),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/ui/pipeline", response_class=HTMLResponse)
def pipeline_page(request: Request, who: PersonDep, served: ServedDep) -> HTMLResponse:
    """Pipeline health: recent runs, quality per date, dead letters, streaming lag."""
    engine = served.engine
    return render(
        request,
        "pipeline.html",
        who,
        runs=reports.recent_runs(engine),
        quality=reports.quality_by_date(engine),
        dead=reports.dead_letters(engine),
        stream=reports.stream_positions(engine, served.config, served.settings),
    )


@router.get("/ui/stamp")
def live_stamp(who: PersonDep, served: ServedDep) -> JSONResponse:
    """What open pages poll: a stamp that changes when the pipeline or stream lands data or
    someone triages a case."""
    return JSONResponse({"stamp": stamp(served)}, headers={"Cache-Control": "no-store"})


@router.get("/ui/map/states.svg")
def states_svg() -> Response:
    """The map's outline (the same for every fleet: cached by the browser for a day)."""
    shape = outline()
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 960 {shape.height}">'
        f'<path d="{shape.path}" fill="#eef1f4" stroke="#9aa5b1" stroke-width="0.6"/></svg>'
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


def _check_span(days: int) -> None:
    if days not in SPANS:
        raise HTTPException(422, f"days: one of {', '.join(map(str, SPANS))}")


def _unit(served: Served, compressor_id: str) -> dict:
    unit = served.store.get().by_unit.get(unit_id(compressor_id, served.config))
    if unit is None:
        raise HTTPException(404, f"{quoted(compressor_id)} is not in the registered fleet")
    return unit


def _all_maintenance(served: Served, web: Web) -> pl.DataFrame:
    engine = served.engine
    return web.memo.get(
        "maintenance",
        engine.version(lake.MAINTENANCE_EVENTS),
        lambda: reports.table(engine, lake.MAINTENANCE_EVENTS),
    )


def _emissions(request: Request, served: Served, period: Period):
    web: Web = request.app.state.web
    p = period
    return web.memo.get(
        ("emissions", p.by, p.since, p.until),
        # A recorded measurement changes which units are due.
        (
            served.engine.version(lake.EMISSIONS_ESTIMATES),
            served.engine.version(lake.PACKING_MEASUREMENTS),
        ),
        lambda: emissions_totals(served.engine, served.config, p.by, p.since, p.until),
    )


def _sums(totals: pl.DataFrame | None) -> dict | None:
    if totals is None or not totals.height:
        return None
    return {
        "units": int(totals["units"].sum()),
        "ch4_t": totals["ch4_t"].sum(),
        "co2e_t": totals["co2e_t"].sum(),
        "annualised_co2e_t": totals["annualised_co2e_t"].sum(),
        "packing_over_limit": int(totals["packing_over_limit"].sum()),
        "packing_check_due": int(totals["packing_check_due"].sum()),
    }
