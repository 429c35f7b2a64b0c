"""``/predictions``: every unit's newest prediction."""

from __future__ import annotations

from typing import Annotated

import narwhals as nw
from fastapi import APIRouter, Query

from altaviz.api.deps import ServedDep
from altaviz.api.models import PredictionList
from altaviz.api.routers.alerts import MAX_LIMIT
from altaviz.ml.risk import at_risk as flagged

router = APIRouter(tags=["models"])


@router.get("/predictions")
def predictions(
    served: ServedDep,
    at_risk: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> PredictionList:
    """The newest prediction of every unit; ``at_risk`` keeps those any model flags."""
    rows = served.store.get().predictions
    if at_risk and rows.height:
        rows = nw.from_native(rows).filter(flagged()).to_native()
    return PredictionList(count=rows.height, predictions=rows.head(limit).to_dicts())
