"""``/alerts``: the alert history, filtered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import polars as pl
from fastapi import APIRouter, Query

from altaviz.api.deps import ServedDep
from altaviz.api.models import AlertList

MAX_LIMIT = 1000
router = APIRouter(tags=["alerts"])


@router.get("/alerts")
def alerts(
    served: ServedDep,
    severity: Literal["warning", "critical"] | None = None,
    state: Literal["open", "acknowledged", "resolved", "suppressed"] | None = None,
    basin: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> AlertList:
    """Alerts, newest first, filtered by severity, state, basin and opening time."""
    snap = served.store.get()
    rows = snap.alerts
    if severity:
        rows = rows.filter(pl.col("severity") == severity)
    if state:
        rows = rows.filter(pl.col("state") == state)
    if basin:
        in_basin = snap.units.filter(pl.col("basin") == basin).select("compressor_id")
        rows = rows.join(in_basin, on="compressor_id", how="semi")
    if since:
        moment = since if since.tzinfo else since.astimezone()
        rows = rows.filter(pl.col("opened_at") >= moment)
    return AlertList(count=rows.height, alerts=rows.head(limit).to_dicts())
