"""The diagnostic report: what is wrong with a unit, how sure, how long it has, what to do,
and the evidence - which tool, which value - each finding rests on."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["healthy", "warning", "critical", "emergency"]
Tool = Literal[
    "compressor", "latest_readings", "alert_history", "predictions", "maintenance_history"
]


class Evidence(BaseModel):
    tool: Tool = Field(description="The tool whose data shows it.")
    item: str = Field(description="What was read: a sensor, an alert, a model output.")
    value: str = Field(description="The value, with its unit.")
    note: str = Field(description="What it means.")


class Action(BaseModel):
    action: str
    priority: Literal["immediate", "high", "medium", "low"]
    estimated_downtime_hours: float | None = Field(default=None, ge=0)
    rationale: str


class DiagnosticReport(BaseModel):
    """A diagnosis of one compressor, grounded in its own data."""

    compressor_id: str
    severity: Severity
    failure_mode: str | None = Field(
        description="bearing_wear, cooling_degradation, valve_failure, ring_wear, "
        "packing_leak, fouling; None when healthy or unclear."
    )
    root_cause: str
    contributing_factors: list[str]
    recommended_actions: list[Action]
    time_to_failure_hours: float | None = Field(default=None, ge=0)
    confidence: float = Field(ge=0, le=1)
    data_summary: str
    evidence: list[Evidence] = Field(min_length=1)
    diagnosed_by: str = Field(description="'offline' (rules) or the model that wrote it.")
    data_as_of: datetime | None = None
