"""``notifications.yaml``: who hears about which cases, how, and when it escalates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from altaviz.config.schema.base import _Strict

Channel = Literal["email", "webhook", "teams"]
SeverityName = Literal["warning", "critical"]


class EscalationStep(_Strict):
    """Who hears, ``after_minutes`` from the case's opening while nobody acknowledged it.
    ``to``: an e-mail address, or (webhook, teams) the name of the environment variable that
    holds the URL (URLs carry secrets; configuration carries none)."""

    after_minutes: Annotated[int, Field(ge=0)]
    channel: Channel
    to: Annotated[str, Field(min_length=1)]


class RouteMatch(_Strict):
    """Which cases a route takes; an empty list matches every value."""

    severity: tuple[SeverityName, ...] = ()
    basin: tuple[str, ...] = ()
    station: tuple[str, ...] = ()
    alert_type: tuple[str, ...] = ()


class Route(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    match: RouteMatch = RouteMatch()
    escalation: Annotated[list[EscalationStep], Field(min_length=1)]
    repeat_minutes: Annotated[int, Field(gt=0)] | None = None
    """Re-send the last step every this many minutes until someone acknowledges."""

    @model_validator(mode="after")
    def _in_order(self) -> Route:
        times = [s.after_minutes for s in self.escalation]
        if times != sorted(times):
            raise ValueError("escalation steps must be in order of after_minutes")
        return self


class Digest(_Strict):
    """One message a day listing the cases of ``severity`` on the worklist."""

    hour_utc: Annotated[int, Field(ge=0, le=23)]
    severity: tuple[SeverityName, ...] = ("warning",)
    channel: Channel
    to: Annotated[str, Field(min_length=1)]


class MaintenanceWindow(_Strict):
    """Planned work at a station: its cases are still made, but nobody is notified."""

    station: str
    start: datetime
    end: datetime
    reason: str = ""


class NotificationsConfig(_Strict):
    version: Literal[1]
    routes: tuple[Route, ...] = ()
    digest: Digest | None = None
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    max_cases_per_unit_per_day: Annotated[int, Field(ge=1)] = 3
    """Flapping: a unit opening more cases than this within 24 h is notified of no more."""
