"""Which notifications are due: pure, from the worklist, the routes and what was sent.

Each (case, route, escalation step) is due once, ``after_minutes`` from the case's
opening, while nobody acknowledged, snoozed or closed it; with ``repeat_minutes`` the last
step comes again every so often until someone does. A daily digest lists the cases of its
severities. Cases at a station in a maintenance window are not notified, nor are the cases
of a unit that opened more than ``max_cases_per_unit_per_day`` within a day (flapping).
An ID per notification makes each go out once however often the pipeline runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from altaviz.config.schema.notifications import NotificationsConfig, Route

UNACKNOWLEDGED = ("open",)  # acknowledged, snoozed, resolved or closed cases stop escalating


@dataclass(frozen=True)
class Due:
    notification_id: str
    case_ids: tuple[str, ...]
    route: str
    step: int  # escalation step; repeats count on past the last; -1: a daily digest
    channel: str
    to: str
    severity: str
    due_at: datetime
    subject: str
    lines: tuple[str, ...]


def due_notifications(
    cases: pl.DataFrame, config: NotificationsConfig, now: datetime, sent: set[str]
) -> list[Due]:
    """What should go out at ``now`` and has not (``sent``: IDs already delivered)."""
    quiet = _in_maintenance(cases, config, now) | _flapping(cases, config)
    waiting = cases.filter(
        pl.col("state").is_in(UNACKNOWLEDGED), ~pl.col("case_id").is_in(list(quiet))
    )
    found: list[Due] = []
    for case in waiting.sort("opened_at", "case_id").iter_rows(named=True):
        for route in config.routes:
            if _matches(route, case):
                found += _escalation(route, case, now)
    found += _digest(cases, config, now, quiet)
    return [d for d in found if d.notification_id not in sent]


def _matches(route: Route, case: dict[str, Any]) -> bool:
    m = route.match
    types = set((case["alert_types"] or "").split(","))
    return (
        (not m.severity or case["severity"] in m.severity)
        and (not m.basin or case["basin"] in m.basin)
        and (not m.station or case["station_id"] in m.station)
        and (not m.alert_type or bool(types & set(m.alert_type)))
    )


def _escalation(route: Route, case: dict[str, Any], now: datetime) -> list[Due]:
    opened: datetime = case["opened_at"]
    steps = []
    for n, step in enumerate(route.escalation):
        at = opened + timedelta(minutes=step.after_minutes)
        if at <= now:
            steps.append((n, step, at))
    if route.repeat_minutes and steps and len(steps) == len(route.escalation):
        last, step, at = steps[-1]
        every = timedelta(minutes=route.repeat_minutes)
        repeats = int((now - at) / every)
        if repeats >= 1:  # only the latest repeat: a missed one is not owed twice
            steps.append((last + repeats, step, at + repeats * every))
    return [
        Due(
            notification_id=f"{case['case_id']}/{route.name}/{n}",
            case_ids=(case["case_id"],),
            route=route.name,
            step=n,
            channel=step.channel,
            to=step.to,
            severity=case["severity"],
            due_at=at,
            subject=f"[altaviz] {case['severity']}: {case['compressor_id']} at "
            f"{case['station_id']} ({case['basin']})" + (f", escalation {n}" if n else ""),
            lines=_describe(case),
        )
        for n, step, at in steps
    ]


def _digest(
    cases: pl.DataFrame, config: NotificationsConfig, now: datetime, quiet: set[str]
) -> list[Due]:
    digest = config.digest
    if digest is None:
        return []
    at = now.replace(hour=digest.hour_utc, minute=0, second=0, microsecond=0)
    if at > now:
        return []
    listed = cases.filter(
        pl.col("state").is_in(["open", "acknowledged", "snoozed"]),
        pl.col("severity").is_in(list(digest.severity)),
        ~pl.col("case_id").is_in(list(quiet)),
    ).sort("opened_at", "case_id")
    if not listed.height:
        return []
    rows = listed.iter_rows(named=True)
    return [
        Due(
            notification_id=f"digest/{at:%Y-%m-%d}",
            case_ids=tuple(listed["case_id"]),
            route="digest",
            step=-1,
            channel=digest.channel,
            to=digest.to,
            severity=",".join(digest.severity),
            due_at=at,
            subject=f"[altaviz] daily digest {at:%Y-%m-%d}: {listed.height} cases",
            lines=tuple(line for case in rows for line in _describe(case)[:1]),
        )
    ]


def _describe(case: dict[str, Any]) -> tuple[str, ...]:
    ttf = case["time_to_failure_hours"]
    return (
        f"{case['case_id']}: {case['compressor_id']} at {case['station_id']}, "
        f"{case['severity']}, {case['alerts_open']} open alerts ({case['alert_types']})",
        f"suspected failure mode: {case['suspected_failure_mode'] or 'not yet known'}; "
        f"time to failure: {'unknown' if ttf is None else f'{ttf:.0f} h'}",
        f"opened {case['opened_at']:%Y-%m-%d %H:%M} UTC; acknowledge it to stop escalation: "
        f"altaviz cases ack {case['case_id']}",
    )


def _in_maintenance(cases: pl.DataFrame, config: NotificationsConfig, now: datetime) -> set[str]:
    stations = {w.station for w in config.maintenance_windows if w.start <= now < w.end}
    return set(cases.filter(pl.col("station_id").is_in(list(stations)))["case_id"])


def _flapping(cases: pl.DataFrame, config: NotificationsConfig) -> set[str]:
    """Cases beyond the ``max_cases_per_unit_per_day``-th that their unit opened within
    the 24 hours before them."""
    limit = config.max_cases_per_unit_per_day
    if not cases.height:
        return set()
    ordered = cases.select("case_id", "compressor_id", "opened_at").sort("opened_at")
    pairs = ordered.join(ordered, on="compressor_id", suffix="_other").filter(
        (pl.col("opened_at_other") <= pl.col("opened_at"))
        & (pl.col("opened_at_other") > pl.col("opened_at") - timedelta(hours=24))
    )
    counts = pairs.group_by("case_id").len()
    return set(counts.filter(pl.col("len") > limit)["case_id"])
