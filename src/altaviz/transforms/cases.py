"""Cases: one per sick unit's episode, grouping every alert of the unit under it.

A reliability engineer works a list of units, not of alert rows. A unit's alerts of every
kind (threshold, deviation, trend, anomaly, drift, RUL) that overlap in time form one case:
it opens with its first alert and resolves when its last alert resolves. An alert that
opens after the unit's earlier alerts have all resolved, or after a person closed the case,
starts a new case. People act on a case through its events (``case_events``, append-only):
acknowledge, assign, snooze, note, close; the case's state is what its alerts and the
latest of its events make it.

The history of alerts is small (thousands of rows for a fleet), so cases are computed on the
driver, in Polars, from the whole history each run: the same history gives the same cases.

>>> from datetime import UTC, datetime
>>> t = lambda h: datetime(2026, 3, 1, h, tzinfo=UTC)
>>> alerts = pl.DataFrame({"compressor_id": ["C1", "C1", "C1"], "alert_id": ["a", "b", "c"],
...     "opened_at": [t(1), t(2), t(9)], "resolved_at": [t(5), t(4), None]})
>>> case_of(alerts, no_events())["case_id"].to_list()
['CASE-C1-20260301T0100Z', 'CASE-C1-20260301T0100Z', 'CASE-C1-20260301T0900Z']
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import polars as pl

ACTIONS: Final = ("acknowledge", "assign", "snooze", "note", "close")
CLOSE_REASONS: Final = (
    "repaired",
    "false_alarm",
    "duplicate",
    "planned_maintenance",
    "sensor_fault",
    "other",
)
STATES: Final = ("open", "acknowledged", "snoozed", "resolved", "closed")
HUMAN_COLUMNS: Final = (
    "acknowledged_at",
    "acknowledged_by",
    "assignee",
    "snoozed_until",
    "closed_at",
    "closed_by",
    "closed_reason",
    "confirmed_failure_mode",
    "notes",
    "last_action_at",
)
"""A case's columns that people's actions make (see :func:`human_view`)."""
_OPEN_ENDED = datetime(9999, 1, 1, tzinfo=UTC)  # the end of an alert still open

EVENT_SCHEMA: Final = {
    "event_id": pl.String,
    "case_id": pl.String,
    "compressor_id": pl.String,
    "at": pl.Datetime("us", "UTC"),
    "actor": pl.String,
    "action": pl.String,
    "from_state": pl.String,
    "to_state": pl.String,
    "assignee": pl.String,
    "snoozed_until": pl.Datetime("us", "UTC"),
    "reason": pl.String,
    "failure_mode": pl.String,
    "note": pl.String,
}
"""The columns of ``case_events`` (the catalogue's table has the same)."""


def no_events() -> pl.DataFrame:
    """An empty ``case_events`` frame."""
    return pl.DataFrame(schema=EVENT_SCHEMA)


def case_of(alerts: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """``alerts`` (compressor_id, alert_id, opened_at, resolved_at) with the ``case_id`` each
    belongs to.

    Per unit, in order of opening: an alert joins the current case when it opens before
    every earlier alert of the case has resolved; otherwise, or when a person closed a case
    of the unit between the two, it starts a new one. A case's ID is its unit and the
    moment of its first alert, so it is the same on every run.
    """
    closes = (
        events.filter(pl.col("action") == "close")
        .group_by("compressor_id", "at")
        .agg()
        .rename({"at": "_closed_at"})
    )
    ordered = alerts.sort("compressor_id", "opened_at", "alert_id").with_columns(
        pl.col("resolved_at").fill_null(_OPEN_ENDED).alias("_end")
    )
    # How many closes of the unit came before each alert opened: a close is a boundary.
    boundary = (
        ordered.select("alert_id", "compressor_id", "opened_at")
        .join(closes, on="compressor_id", how="inner")
        .filter(pl.col("_closed_at") < pl.col("opened_at"))
        .group_by("alert_id")
        .agg(pl.len().alias("_closes"))
    )
    ordered = ordered.join(boundary, on="alert_id", how="left").with_columns(
        pl.col("_closes").fill_null(0)
    )
    within = ["compressor_id", "_closes"]
    earlier_end = pl.col("_end").cum_max().shift(1).over(within)
    starts = earlier_end.is_null() | (pl.col("opened_at") >= earlier_end)
    first = pl.col("opened_at").min().over([*within, "_island"])
    return (
        ordered.with_columns(starts.cast(pl.Int32).cum_sum().over(within).alias("_island"))
        .with_columns(
            pl.format(
                "CASE-{}-{}", pl.col("compressor_id"), first.dt.strftime("%Y%m%dT%H%MZ")
            ).alias("case_id")
        )
        .drop("_end", "_closes", "_island")
    )


def case_state(
    alerts_open: pl.Expr,
    closed: pl.Expr,
    snoozed_until: pl.Expr,
    acknowledged: pl.Expr,
    now: datetime,
) -> pl.Expr:
    """A case's state: closed by a person; resolved when none of its alerts is open;
    snoozed until a moment still ahead; acknowledged; else open."""
    return (
        pl.when(closed)
        .then(pl.lit("closed"))
        .when(~alerts_open)
        .then(pl.lit("resolved"))
        .when(snoozed_until.fill_null(datetime(1970, 1, 1, tzinfo=UTC)) > pl.lit(now))
        .then(pl.lit("snoozed"))
        .when(acknowledged)
        .then(pl.lit("acknowledged"))
        .otherwise(pl.lit("open"))
    )


def human_view(events: pl.DataFrame) -> pl.DataFrame:
    """Per case, what people did: first acknowledgement, latest assignee, snooze and close,
    and how many notes (every event counts once, in time order)."""
    ordered = events.sort("at", "event_id")
    action = pl.col("action")

    def latest(column: str, of: str) -> pl.Expr:
        return pl.col(column).filter(action == of).last()

    return ordered.group_by("case_id").agg(
        pl.col("at").filter(action == "acknowledge").first().alias("acknowledged_at"),
        pl.col("actor").filter(action == "acknowledge").first().alias("acknowledged_by"),
        latest("assignee", "assign").alias("assignee"),
        latest("snoozed_until", "snooze").alias("snoozed_until"),
        latest("at", "close").alias("closed_at"),
        latest("actor", "close").alias("closed_by"),
        latest("reason", "close").alias("closed_reason"),
        latest("failure_mode", "close").alias("confirmed_failure_mode"),
        (action == "note").sum().cast(pl.Int32).alias("notes"),
        pl.col("at").max().alias("last_action_at"),
    )


def build_cases(
    alerts: pl.DataFrame,
    events: pl.DataFrame,
    units: pl.DataFrame,
    repairs: pl.DataFrame,
    diagnoses: pl.DataFrame,
    last_seen: pl.DataFrame,
    now: datetime,
    offline_after_minutes: float,
) -> pl.DataFrame:
    """The ``cases`` rows of an alert history, as of ``now`` (the data's clock).

    ``alerts``: the alert history; ``events``: ``case_events``; ``units``: compressor_id,
    station_id, basin; ``repairs``: compressor_id, repaired_at; ``diagnoses``: per unit, the
    suspected failure mode, hours to failure and the diagnosis' evidence (for open cases);
    ``last_seen``: per unit, its newest reading (a unit silent for ``offline_after_minutes``
    is offline since then).
    """
    grouped = case_of(alerts, events)
    is_open = pl.col("state") == "open"
    rank = pl.col("severity").replace_strict({"warning": 1, "critical": 2}, default=0)
    cases = (
        grouped.sort("opened_at", "alert_id")
        .group_by("case_id")
        .agg(
            pl.col("compressor_id").first(),
            pl.col("opened_at").min(),
            pl.col("opened_at").max().alias("last_alert_at"),
            is_open.sum().cast(pl.Int32).alias("alerts_open"),
            pl.len().cast(pl.Int32).alias("alert_count"),
            pl.col("resolved_at").max().alias("_last_resolved"),
            rank.filter(is_open).max().alias("_open_rank"),
            rank.max().alias("_rank"),
            pl.col("alert_id").alias("_ids"),
            pl.col("alert_type")
            .unique(maintain_order=True)
            .sort()
            .str.join(",")
            .alias("alert_types"),
            pl.col("sensor").unique(maintain_order=True).sort().str.join(",").alias("sensors"),
        )
    )
    repaired = (
        cases.select("case_id", "compressor_id", "_last_resolved")
        .join(repairs, on="compressor_id", how="inner")
        .filter(pl.col("repaired_at") == pl.col("_last_resolved"))
        .select("case_id", pl.lit(True).alias("_by_repair"))
        .unique()
    )
    silent_since = pl.when(
        pl.col("_last_seen") < pl.lit(now) - pl.duration(minutes=offline_after_minutes)
    ).then(pl.col("_last_seen"))
    cases = (
        cases.join(human_view(events), on="case_id", how="left")
        .join(repaired, on="case_id", how="left")
        .join(units.select("compressor_id", "station_id", "basin"), on="compressor_id", how="left")
        .join(last_seen.rename({"last_seen": "_last_seen"}), on="compressor_id", how="left")
        .join(diagnoses, on="compressor_id", how="left")
    )
    alerts_open = pl.col("alerts_open") > 0
    worst = pl.coalesce(pl.col("_open_rank"), pl.col("_rank"))
    return (
        cases.select(
            "case_id",
            "compressor_id",
            "station_id",
            "basin",
            case_state(
                alerts_open,
                ~pl.col("closed_at").is_null(),
                pl.col("snoozed_until"),
                ~pl.col("acknowledged_at").is_null(),
                now,
            ).alias("state"),
            worst.replace_strict({1: "warning", 2: "critical"}, default="warning").alias(
                "severity"
            ),
            "opened_at",
            "last_alert_at",
            pl.when(~alerts_open).then(pl.col("_last_resolved")).alias("resolved_at"),
            pl.when(alerts_open)
            .then(pl.lit(None, dtype=pl.String))
            .when(pl.col("_by_repair").fill_null(False))
            .then(pl.lit("repaired"))
            .otherwise(pl.lit("recovered"))
            .alias("resolution"),
            "alerts_open",
            "alert_count",
            pl.col("_ids").list.sort().list.join(",").alias("alert_ids"),
            "alert_types",
            "sensors",
            pl.when(alerts_open)
            .then(pl.col("suspected_failure_mode"))
            .alias("suspected_failure_mode"),
            pl.when(alerts_open)
            .then(pl.col("time_to_failure_hours"))
            .alias("time_to_failure_hours"),
            pl.when(alerts_open).then(pl.col("evidence")).alias("evidence"),
            pl.when(alerts_open).then(silent_since).alias("offline_since"),
            *HUMAN_COLUMNS,
        )
        .with_columns(pl.col("notes").fill_null(0))
        .sort("opened_at", "case_id")
    )
