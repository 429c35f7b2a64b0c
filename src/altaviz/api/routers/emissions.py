"""``/emissions``: methane and CO2e totals per basin, station or unit over a period."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from altaviz.api.deps import ServedDep
from altaviz.pipeline.reports import emissions_totals

router = APIRouter(tags=["emissions"])


class EmissionsTotals(BaseModel):
    by: str
    since: date
    until: date
    reporting_threshold_t_co2e: float
    count: int
    totals: list[dict[str, Any]]


@router.get("/emissions")
async def emissions(
    served: ServedDep,
    by: Literal["basin", "station", "unit"] = "basin",
    since: date | None = None,
    until: date | None = None,
) -> EmissionsTotals:
    """CH4 and CO2e (t) per basin (the reporting facility), station or unit from ``since`` to
    ``until`` (both included; default: every date on record), annualised, with each one's
    share of the Subpart W threshold and its OOOOb packing flags; largest CO2e first."""
    if since and until and since > until:
        raise HTTPException(400, f"since ({since}) is after until ({until})")
    totals, span = await run_in_threadpool(
        emissions_totals, served.engine, served.config, by, since, until
    )
    if span is None:
        raise HTTPException(404, "no emissions estimates for those dates")
    return EmissionsTotals(
        by=by,
        since=span[0],
        until=span[1],
        reporting_threshold_t_co2e=served.config.models.emissions.reporting_threshold_t_co2e,
        count=totals.height,
        totals=totals.to_dicts(),
    )
