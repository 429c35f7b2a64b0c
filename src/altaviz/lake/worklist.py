"""The worklist's tables: cases (one per sick unit's episode), what people did to them
(append-only), and the notifications sent about them."""

from __future__ import annotations

from altaviz.lake.schema import Column, TableSpec, columns

CASES = TableSpec(
    "cases",
    "gold",
    columns(
        Column("case_id", "string", False, "CASE-<unit>-<first alert's opening, UTC>"),
        Column("compressor_id", "string", False),
        ("station_id", "string"),
        ("basin", "string"),
        Column("state", "string", False, "open, acknowledged, snoozed, resolved or closed"),
        Column("severity", "string", False, "worst of its open alerts (or reached, if none)"),
        Column("opened_at", "timestamp", False, "its first alert's opening"),
        Column("last_alert_at", "timestamp", False),
        ("resolved_at", "timestamp"),
        Column("resolution", "string", True, "repaired or recovered, once every alert resolved"),
        Column("alerts_open", "int32", False),
        Column("alert_count", "int32", False),
        Column("alert_ids", "string", False, "comma-separated"),
        ("alert_types", "string"),
        ("sensors", "string"),
        ("suspected_failure_mode", "string"),
        ("time_to_failure_hours", "float64"),
        Column("evidence", "string", True, "the diagnosis' evidence, as JSON"),
        Column("offline_since", "timestamp", True, "the unit's last reading, when silent"),
        ("acknowledged_at", "timestamp"),
        ("acknowledged_by", "string"),
        ("assignee", "string"),
        ("snoozed_until", "timestamp"),
        ("closed_at", "timestamp"),
        ("closed_by", "string"),
        ("closed_reason", "string"),
        ("confirmed_failure_mode", "string"),
        Column("notes", "int32", False),
        ("last_action_at", "timestamp"),
    ),
    keys=("case_id",),
    description="Cases: one per sick unit's episode, its alerts of every kind grouped under it.",
)

CASE_EVENTS = TableSpec(
    "case_events",
    "gold",
    columns(
        Column("event_id", "string", False),
        Column("case_id", "string", False),
        Column("compressor_id", "string", False),
        Column("at", "timestamp", False),
        Column("actor", "string", False, "the API key's name or the user"),
        Column("action", "string", False, "acknowledge, assign, snooze, note or close"),
        ("from_state", "string"),
        ("to_state", "string"),
        ("assignee", "string"),
        ("snoozed_until", "timestamp"),
        Column("reason", "string", True, "a close's reason code"),
        Column("failure_mode", "string", True, "a close's confirmed failure mode"),
        ("note", "string"),
    ),
    keys=("event_id",),
    description="What people did to cases: append-only, never rewritten by the pipeline.",
)

NOTIFICATIONS = TableSpec(
    "notifications",
    "gold",
    columns(
        Column("notification_id", "string", False, "case, route, step: sent once"),
        Column("case_id", "string", False),
        Column("route", "string", False),
        Column("step", "int32", False, "escalation step (0: first notice); -1: daily digest"),
        Column("channel", "string", False, "teams, email or webhook"),
        Column("target", "string", False, "where it went (address or URL host)"),
        Column("severity", "string", False),
        Column("due_at", "timestamp", False),
        Column("sent_at", "timestamp", False),
        Column("status", "string", False, "sent or failed"),
        ("error", "string"),
    ),
    keys=("notification_id",),
    description="Notifications sent about cases, one per case, route and escalation step.",
)
