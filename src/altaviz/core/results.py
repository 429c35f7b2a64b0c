"""What a pipeline run reports, typed once: the runner fills these, the monitor records them,
the command line and the API show them.

>>> RowCounts(bronze=288).landed(rejected=12)
300
>>> RunStatus.QUALITY_FAILED.value
'quality_failed'
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class RunStatus(StrEnum):
    """How a run ended."""

    SUCCESS = "success"
    QUALITY_FAILED = "quality_failed"  # a critical quality check held dates back from gold
    FILES_REFUSED = "files_refused"  # some landing files could not be read (the rest landed)
    FAILED = "failed"


class RowCounts(BaseModel):
    """Rows a run wrote to each layer."""

    bronze: int = 0
    dead_letter: int = 0
    silver: int = 0
    gold_hourly: int = 0
    gold_daily: int = 0

    def add(self, layer: str, written: Any) -> None:
        """Count the rows a commit (an engine's ``WriteResult``) wrote to ``layer``."""
        setattr(self, layer, getattr(self, layer) + written.rows)

    def landed(self, rejected: int) -> int:
        """Records that reached the lakehouse: accepted into bronze plus ``rejected``."""
        return self.bronze + rejected


class AlertCounts(BaseModel):
    """Alerts a run opened and resolved, how many are open after it, and the cases on the
    worklist (open, acknowledged or snoozed) they make."""

    opened: int = 0
    resolved: int = 0
    open: int = 0
    cases_open: int = 0


class MlResult(BaseModel):
    """What the ML stage did: the dates it scored (or, skipped, how many wait for it)."""

    skipped: bool = False
    pending_dates: int = 0
    dates: list[date] = []
    model_version: str | None = None
    model_name: str | None = None  # the registered anomaly model (named after its fleet)
    trained_version: str | None = None
    predictions: int = 0
    anomalous_predictions: int = 0
    units_at_risk: int = 0
    alerts_opened: int = 0
    alerts_resolved: int = 0
    emissions_rows: int = 0
    drifted_features: list[str] = []
    notes: list[str] = []

    @property
    def models_run(self) -> list[str]:
        return ["anomaly", "drift", "rul", "emissions"] if self.dates else []


__all__ = ["AlertCounts", "MlResult", "RowCounts", "RunStatus"]
