"""Response models: every route's answer has a shape in the OpenAPI document.

Row models are generated from the catalogue's table schemas (one definition of each
column), so a column added to a table appears in the API's description too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from altaviz.lake import catalog as lake
from altaviz.lake.catalog import TableSpec

_PYTHON = {
    "string": str,
    "float64": float,
    "int32": int,
    "int64": int,
    "bool": bool,
    "timestamp": datetime,
    "date": date,
}


def row_model(spec: TableSpec, name: str) -> type[BaseModel]:
    """A model of one row of ``spec``: every column, typed, null where it may be."""
    fields: dict[str, Any] = {
        c.name: (_PYTHON[c.type] | None, None) if c.nullable else (_PYTHON[c.type], ...)
        for c in spec.schema.columns
    }
    return create_model(name, __config__=ConfigDict(extra="ignore"), **fields)


Compressor = row_model(lake.COMPRESSOR_METADATA, "Compressor")
HourlyReadings = row_model(lake.HOURLY_AGGREGATES, "HourlyReadings")
Alert = row_model(lake.ALERT_HISTORY, "Alert")
Prediction = row_model(lake.ML_PREDICTIONS, "Prediction")
BasinHealth = row_model(lake.FLEET_HEALTH, "BasinHealth")
Case = row_model(lake.CASES, "Case")
CaseEvent = row_model(lake.CASE_EVENTS, "CaseEvent")


class Health(BaseModel):
    status: str
    version: str
    data_as_of: datetime | None
    units: int
    loaded_at: datetime


class FleetHealth(BaseModel):
    date: date | None
    basins: list[BasinHealth]  # type: ignore[valid-type]


class CompressorDetail(BaseModel):
    compressor: Compressor  # type: ignore[valid-type]
    latest_readings: HourlyReadings | None  # type: ignore[valid-type]
    open_alerts: list[Alert]  # type: ignore[valid-type]
    prediction: Prediction | None  # type: ignore[valid-type]


class AlertList(BaseModel):
    count: int
    alerts: list[Alert]  # type: ignore[valid-type]


class PredictionList(BaseModel):
    count: int
    predictions: list[Prediction]  # type: ignore[valid-type]


class DiagnoseRequest(BaseModel):
    compressor_id: str = Field(max_length=32, examples=["COMP-0003"])


class CaseList(BaseModel):
    count: int
    cases: list[Case]  # type: ignore[valid-type]


class CaseDetail(BaseModel):
    case: Case  # type: ignore[valid-type]
    alerts: list[Alert]  # type: ignore[valid-type]
    events: list[CaseEvent]  # type: ignore[valid-type]


class TriageRequest(BaseModel):
    """What an action needs: ``assignee`` to assign, ``until`` to snooze, ``note`` for a
    note, ``reason`` (and optionally ``failure_mode``) to close."""

    assignee: str | None = Field(None, max_length=128)
    until: datetime | None = None
    note: str | None = Field(None, max_length=4000)
    reason: str | None = Field(None, max_length=32)
    failure_mode: str | None = Field(None, max_length=64)
