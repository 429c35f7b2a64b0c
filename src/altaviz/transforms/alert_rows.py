"""An alert episode as a row of the alert history: its ID, state, the aggregation cap,
whether it notifies, and the message a person reads."""

from __future__ import annotations

from datetime import timedelta

import narwhals as nw

from altaviz.config.schema import AlertRules
from altaviz.core.frames import Frame

TREND = "trend"  # alert_type of alerts raised by a steady decline rather than a limit


def _compact_utc(moment: nw.Expr) -> nw.Expr:
    """``YYYYMMDDTHHMMZ`` of a UTC timestamp, built from its parts: every backend's own
    formatting differs on the literal ``T`` and ``Z``."""

    def two(part: nw.Expr) -> nw.Expr:
        return part.cast(nw.String).str.zfill(2)

    return nw.concat_str(
        moment.dt.year().cast(nw.String),
        two(moment.dt.month()),
        two(moment.dt.day()),
        nw.lit("T"),
        two(moment.dt.hour()),
        two(moment.dt.minute()),
        nw.lit("Z"),
    )


def alert_rows(
    alerts: Frame, units: Frame, rules: AlertRules, recent: Frame | None = None
) -> Frame:
    """IDs, state, aggregation cap, notification flag and message; the history's columns.

    ``recent`` (compressor_id, alert_id, opened_at): alerts already in the history that may
    fall in the aggregation window of these; they count towards the cap, and are not
    returned.
    """
    window = timedelta(minutes=rules.aggregation_window_minutes)
    stamped = alerts.with_columns(
        nw.concat_str(
            nw.col("compressor_id"),
            nw.lit("/"),
            nw.col("sensor"),
            nw.when(nw.col("alert_type") == TREND).then(nw.lit("~trend")).otherwise(nw.lit("")),
            nw.lit("/"),
            _compact_utc(nw.col("opened_at")),
        ).alias("alert_id")
    )
    # Aggregation: how many alerts of the same unit opened in the window up to this one.
    mine = stamped.lazy().select("compressor_id", "alert_id", "opened_at")
    peers = mine
    if recent is not None:
        earlier = recent.lazy().select(*mine.columns).join(mine, on="alert_id", how="anti")
        peers = nw.concat([mine, earlier])
    pairs = mine.join(
        peers.select(
            "compressor_id", nw.col("alert_id").alias("_other"), nw.col("opened_at").alias("_o_at")
        ),
        on="compressor_id",
    )
    burst = (
        pairs.filter(
            (nw.col("_o_at") <= nw.col("opened_at"))
            & (nw.col("_o_at") > nw.col("opened_at") - window)
            & ((nw.col("_o_at") < nw.col("opened_at")) | (nw.col("_other") <= nw.col("alert_id")))
        )
        .group_by("alert_id")
        .agg(nw.len().alias("_rank"))
    )
    cap = rules.max_alerts_per_compressor_per_window
    state = (
        nw.when(nw.col("_rank") > cap)
        .then(nw.lit("suppressed"))
        .when(nw.col("resolved_at").is_null())
        .then(nw.lit("open"))
        .otherwise(nw.lit("resolved"))
    )
    who = nw.concat_str(nw.col("sensor"), nw.lit(" "), nw.col("severity"), nw.lit(": "))
    opened_with = nw.concat_str(  # the crossing an alert opened with
        nw.col("trigger_value").round(2).cast(nw.String),
        nw.lit(" crossed "),
        nw.col("alert_type"),
        nw.lit(" limit "),
        nw.col("limit_value").round(2).cast(nw.String),
    )
    crossing = nw.concat_str(who, nw.lit("1-hour mean "), opened_with)
    # A critical alert quotes how far it went (its peak) beside the crossing it opened with,
    # so its message never pairs "critical" with only the opening value and limit.
    escalated = nw.concat_str(
        who,
        nw.lit("1-hour mean reached "),
        nw.col("peak_value").round(2).cast(nw.String),
        nw.lit("; it opened when "),
        opened_with,
    )
    falling = nw.concat_str(
        who,
        nw.lit("falling "),
        (nw.col("trigger_value") * -100).round(2).cast(nw.String),
        nw.lit(" %/day, beyond the trend limit of "),
        (nw.col("limit_value") * -100).round(2).cast(nw.String),
        nw.lit(" %/day"),
    )
    value = nw.col("trigger_value").round(3).cast(nw.String)
    limit = nw.col("limit_value").round(3).cast(nw.String)
    anomaly = nw.concat_str(
        nw.lit("anomaly "),
        nw.col("severity"),
        nw.lit(": calibrated score "),
        value,
        nw.lit(" held at or above "),
        limit,
    )
    hours = nw.col("trigger_value").round(1).cast(nw.String)
    drift = nw.concat_str(
        nw.lit("temperature drift "),
        nw.col("severity"),
        nw.lit(": discharge temperature reaches its limit in "),
        hours,
        nw.lit(" h"),
    )
    rul = nw.concat_str(
        nw.lit("remaining useful life "),
        nw.col("severity"),
        nw.lit(": "),
        hours,
        nw.lit(" h (alert below "),
        nw.col("limit_value").round(0).cast(nw.String),
        nw.lit(" h)"),
    )
    kind = nw.col("alert_type")
    message = (
        nw.when(kind == TREND)
        .then(falling)
        .when(kind == "anomaly")
        .then(anomaly)
        .when(kind == "drift")
        .then(drift)
        .when(kind == "rul")
        .then(rul)
        .when(
            (nw.col("severity") == "critical")
            & ~nw.col("peak_value").is_null()
            & (nw.col("peak_value") != nw.col("trigger_value"))
        )
        .then(escalated)
        .otherwise(crossing)
    )
    return (
        stamped.lazy()
        .join(burst.lazy(), on="alert_id", how="left")
        .join(
            units.lazy().select("compressor_id", "station_id", "region"),
            on="compressor_id",
            how="left",
        )
        .with_columns(
            state.alias("state"),
            nw.col("severity")
            .replace_strict(dict(rules.notify), default=False, return_dtype=nw.Boolean)
            .alias("notify"),
            message.alias("message"),
            nw.col("opened_at").dt.date().alias("date"),
        )
        .sort("opened_at", "compressor_id", "sensor")
    )
