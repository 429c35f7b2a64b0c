"""``altaviz cases``: the worklist, one case per sick unit, and triage with an audit trail."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from altaviz.cli.errors import Group
from altaviz.cli.options import LakehouseOption, open_lakehouse, parse_start
from altaviz.cli.render import num, out
from altaviz.config import load_config
from altaviz.core.errors import InputError

group = Group(help="The worklist: one case per sick unit; acknowledge, assign, snooze, close.")
ListedState = StrEnum(  # type: ignore[misc]
    "ListedState",
    {s: s for s in ("worklist", "all", "open", "acknowledged", "snoozed", "resolved", "closed")},
)
CaseArgument = Annotated[str, typer.Argument(metavar="CASE", help="Case ID, e.g. CASE-COMP-0003-…")]
ByOption = Annotated[str | None, typer.Option("--by", help="Who acts \\[default: $USER].")]


@group.command("list")
def cases_list(
    lakehouse: LakehouseOption = None,
    state: Annotated[
        ListedState,
        typer.Option(help="worklist (open, acknowledged, snoozed), a state, or all."),
    ] = ListedState.worklist,
    severity: Annotated[str | None, typer.Option(help="warning or critical.")] = None,
    basin: Annotated[str | None, typer.Option(help="Basin, e.g. 'Permian Basin'.")] = None,
    station: Annotated[str | None, typer.Option(help="Station ID, e.g. PERM-001.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Assigned person or team.")] = None,
    limit: Annotated[int, typer.Option(help="Cases to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The cases on the worklist (or in a state), critical first, soonest to fail first."""
    from altaviz.worklist.view import CaseFilter, list_cases

    where = CaseFilter(
        state=None if state is ListedState.all else state.value,
        severity=severity,
        basin=basin,
        station_id=station,
        assignee=assignee,
    )
    cases = list_cases(open_lakehouse(lakehouse), where)
    if as_json:
        print(json.dumps(cases.head(limit).to_dicts(), indent=2, default=str))
        return
    if not cases.height:
        out.print(f"no cases ({state.value}); `altaviz pipeline` makes them from alerts")
        return
    shown = cases.head(limit)
    # Who owns it and whether the unit is silent only when some case says so: the list
    # must stay readable on an 80-column terminal.
    extra = [c for c in ("assignee", "offline_since") if shown[c].is_not_null().any()]
    table = Table(
        Column("case", no_wrap=True),  # the ID people type in the next command
        "state",
        "severity",
        "opened",
        "suspected mode",
        "h to fail",
        *(c.replace("_", " ") for c in extra),
        title=f"Cases ({cases.height:,}; {state.value})",
    )
    for c in shown.iter_rows(named=True):
        color = "red" if c["severity"] == "critical" else "yellow"
        table.add_row(
            c["case_id"],
            c["state"],
            f"[{color}]{c['severity']}[/]",
            f"{c['opened_at']:%m-%d %H:%M}",
            c["suspected_failure_mode"] or "-",
            num(c["time_to_failure_hours"], ".0f"),
            *(
                "-" if c[x] is None else (f"{c[x]:%m-%d %H:%M}" if x == "offline_since" else c[x])
                for x in extra
            ),
        )
    out.print(table)


@group.command("show")
def cases_show(
    case_id: CaseArgument,
    lakehouse: LakehouseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """One case: its alerts, its audit trail and the diagnosis' evidence."""
    from altaviz.worklist.view import case_detail

    detail = case_detail(open_lakehouse(lakehouse), case_id)
    if as_json:
        print(json.dumps(detail, indent=2, default=str))
        return
    _print_case(detail)


def _print_case(detail: dict) -> None:
    c = detail["case"]
    out.print(
        f"[bold]{c['case_id']}[/] {c['compressor_id']} at {c['station_id']} ({c['basin']}): "
        f"{c['state']}, {c['severity']}; suspected {c['suspected_failure_mode'] or '-'}, "
        f"{num(c['time_to_failure_hours'], '.0f')} h to failure",
        highlight=False,
    )
    alerts = Table("alert", "type", "severity", "state", "opened", "resolved", title="Alerts")
    for a in detail["alerts"]:
        alerts.add_row(
            a["alert_id"],
            a["alert_type"],
            a["severity"],
            a["state"],
            f"{a['opened_at']:%Y-%m-%d %H:%M}",
            "-" if a["resolved_at"] is None else f"{a['resolved_at']:%Y-%m-%d %H:%M}",
        )
    out.print(alerts)
    events = Table("when", "who", "action", "from", "to", "detail", title="Audit trail")
    for e in detail["events"]:
        what = e["note"] or e["assignee"] or e["reason"] or ""
        if e["snoozed_until"] is not None:
            what = f"until {e['snoozed_until']:%Y-%m-%d %H:%M}"
        events.add_row(
            f"{e['at']:%Y-%m-%d %H:%M:%S}",
            e["actor"],
            e["action"],
            e["from_state"] or "",
            e["to_state"] or "",
            what,
        )
    out.print(events)
    if c["evidence"]:
        out.print(f"[dim]evidence: {c['evidence']}[/]", highlight=False)


def _act(lakehouse: Path | None, case_id: str, action: str, by: str | None, **details: Any) -> None:
    from altaviz.worklist import Actor, Role, triage

    actor = Actor(by or os.environ.get("USER") or "unknown", Role.ENGINEER)
    modes = tuple(load_config().fleet.failures.modes)
    detail = triage(open_lakehouse(lakehouse), case_id, action, actor, known_modes=modes, **details)
    c = detail["case"]
    out.print(f"{c['case_id']}: {action} by {actor.name}; now {c['state']}", highlight=False)


@group.command("ack")
def cases_ack(
    case_id: CaseArgument, lakehouse: LakehouseOption = None, by: ByOption = None
) -> None:
    """Acknowledge a case: someone is on it (its escalation stops)."""
    _act(lakehouse, case_id, "acknowledge", by)


@group.command("assign")
def cases_assign(
    case_id: CaseArgument,
    to: Annotated[str, typer.Option("--to", help="Person or team.")],
    lakehouse: LakehouseOption = None,
    by: ByOption = None,
) -> None:
    """Assign a case to a person or team."""
    _act(lakehouse, case_id, "assign", by, assignee=to)


@group.command("snooze")
def cases_snooze(
    case_id: CaseArgument,
    until: Annotated[
        str | None, typer.Option(help="ISO-8601 moment to snooze until (UTC).")
    ] = None,
    hours: Annotated[float | None, typer.Option(help="Or: hours from now.")] = None,
    lakehouse: LakehouseOption = None,
    by: ByOption = None,
) -> None:
    """Snooze a case until a moment (it stays on the list, quiet)."""
    if (until is None) == (hours is None):
        raise InputError("snooze needs --until or --hours (one of them)")
    moment = parse_start(until) if until else datetime.now(UTC) + timedelta(hours=hours or 0)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    _act(lakehouse, case_id, "snooze", by, snoozed_until=moment)


@group.command("note")
def cases_note(
    case_id: CaseArgument,
    text: Annotated[str, typer.Argument(help="The note.")],
    lakehouse: LakehouseOption = None,
    by: ByOption = None,
) -> None:
    """Add a note to a case's audit trail."""
    _act(lakehouse, case_id, "note", by, note=text)


@group.command("close")
def cases_close(
    case_id: CaseArgument,
    reason: Annotated[
        str,
        typer.Option(
            help="repaired, false_alarm, duplicate, planned_maintenance, sensor_fault or other."
        ),
    ],
    mode: Annotated[
        str | None, typer.Option(help="The confirmed failure mode, e.g. bearing_wear.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Why, in a sentence.")] = None,
    lakehouse: LakehouseOption = None,
    by: ByOption = None,
) -> None:
    """Close a case with a reason code (and the confirmed failure mode): labels that score
    every rule and model."""
    _act(lakehouse, case_id, "close", by, reason=reason, failure_mode=mode, note=note)
