"""The run record: what one pipeline run did, how long each stage took, how it ended."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from altaviz.core.results import RunStatus


class RunRecord(BaseModel):
    """One pipeline run, as stored in ``pipeline_runs`` and sent to every sink."""

    model_config = ConfigDict(use_enum_values=True)  # stored and sent as plain text

    run_id: str
    status: RunStatus
    engine: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    stage_durations: dict[str, float]
    rows_bronze: int = 0
    rows_dead_letter: int = 0
    rows_silver: int = 0
    rows_gold_hourly: int = 0
    rows_gold_daily: int = 0
    rejected: int = 0
    rejection_rate: float | None = None
    quality_passed: bool | None = None
    blocked_dates: list[str] = []
    alerts_opened: int = 0
    alerts_resolved: int = 0
    models_run: list[str] = []
    model_version: str | None = None
    predictions: int = 0
    anomalies: int = 0
    units_at_risk: int = 0
    data_freshness_minutes: float | None = None
    error: str | None = None
    warnings: list[str] = []

    def table_row(self) -> dict[str, list[Any]]:
        """The record as one ``pipeline_runs`` row (nested fields as JSON text)."""
        row = self.model_dump()
        for key in ("stage_durations", "blocked_dates", "models_run", "warnings"):
            row[key] = json.dumps(row[key])
        return {k: [v] for k, v in row.items()}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        data = dict(row)
        for key in ("stage_durations", "blocked_dates", "models_run", "warnings"):
            data[key] = json.loads(data[key] or "null") or ({} if key == "stage_durations" else [])
        return cls.model_validate(data)
