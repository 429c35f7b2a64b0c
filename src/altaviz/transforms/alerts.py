"""Alerts: episodes of abnormal readings per unit and sensor, with their life cycle.

Each reading is judged on the trailing ``evaluation_window_minutes`` mean of its sensor (raw
readings carry 3 % noise; a one-hour mean does not cry wolf) against the unit's limits. An
alert opens at the first abnormal evaluation, takes the worst severity reached, escalates
after ``escalate_after_minutes`` of that severity if still open, and resolves at the
``auto_resolve_consecutive_normal``-th consecutive normal evaluation. At most
``max_alerts_per_compressor_per_window`` alerts per unit open within
``aggregation_window_minutes``; the rest are kept as ``suppressed``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import narwhals as nw

from altaviz.config.schema import AlertRules, TrendRules
from altaviz.core.days import day_bounds
from altaviz.core.frames import Frame, done, same_kind
from altaviz.core.sensors import SENSORS
from altaviz.transforms.alert_rows import TREND, alert_rows
from altaviz.transforms.limits import SEVERITY_RANK, crossed, level, rank, severity
from altaviz.transforms.windows import trailing_mean

PAIR = ("compressor_id", "sensor")
RULE_TYPES = ("threshold", "deviation", TREND)
"""Alert types the gold rules raise (limit kinds and trends)."""
MODEL_TYPES = ("anomaly", "drift", "rul")
"""Alert types the predictive models raise; their ``sensor`` is the model's name."""


def evaluate_readings(
    silver: Frame,
    limits: Frame,
    rules: AlertRules,
    watch: Frame | None = None,
) -> Frame:
    """Long frame of judged readings: compressor_id, sensor, timestamp, value (the trailing
    mean), level (0 normal, 1 warning, 2 critical, -1 normal but inside the deadband next to
    a limit, which neither opens nor resolves an alert; null when not judged), limit_value
    and alert_type of the limit crossed.

    ``limits`` has one row per unit and date (``unit_limits`` keyed on both): each reading is
    judged against its own day's limits. Only units whose trailing means crossed some limit,
    or that are in ``watch`` (units with alerts still open), are judged reading by reading;
    the rest cannot open or close alerts.
    """
    window = timedelta(minutes=rules.evaluation_window_minutes)
    smooth = done(
        trailing_mean(
            silver.select("compressor_id", "timestamp", *SENSORS),
            SENSORS,
            {"_avg": window},
            rules.min_readings,
        )
        .lazy()
        .with_columns(nw.col("timestamp").dt.date().alias("date"))
    )
    keys = ["compressor_id", "date"]
    extremes = (
        smooth.lazy()
        .group_by(*keys)
        .agg(
            *(nw.col(f"{s}_avg").max().alias(f"{s}_avg") for s in SENSORS),
            *(nw.col(f"{s}_avg").min().alias(f"_min_{s}") for s in SENSORS),
        )
    )
    crossed_any = nw.any_horizontal(
        *(
            (nw.col(f"{s}_avg") >= nw.col(f"{s}__warning_high")).fill_null(False)
            | (nw.col(f"_min_{s}") <= nw.col(f"{s}__warning_low")).fill_null(False)
            for s in SENSORS
        ),
        ignore_nulls=True,
    )
    suspects = extremes.join(limits.lazy(), on=keys, how="inner").filter(crossed_any)
    units = suspects.select("compressor_id")
    if watch is not None:
        units = nw.concat([units, watch.lazy().select("compressor_id")])
    judged = (
        smooth.lazy()
        .join(units.unique(), on="compressor_id", how="inner")
        .join(limits.lazy(), on=keys, how="left")
        .with_columns(*(_level(s, rules.resolve_margin).alias(f"{s}__level") for s in SENSORS))
    )
    per_sensor = [
        judged.select(
            "compressor_id",
            nw.lit(s).alias("sensor"),
            "timestamp",
            nw.col(f"{s}_avg").alias("value"),
            nw.col(f"{s}__level").alias("level"),
            _crossed_limit(s).alias("limit_value"),
            _crossed_limit(s, "__kind").alias("alert_type"),
        )
        for s in SENSORS
    ]
    return done(nw.concat(per_sensor).filter(~nw.col("level").is_null()))


def evaluate_trends(hourly: Frame, trends: TrendRules, watch: Frame | None = None) -> Frame:
    """Long frame of judged trends, one row per unit, sensor and hour (stamped at the hour's
    end, when its mean is known), in the shape of :func:`evaluate_readings`.

    Only (unit, sensor) pairs with an abnormal hour, or in ``watch`` (trend alerts still
    open), are kept: the others cannot open or close an alert.
    """
    per_sensor = [
        hourly.select(
            "compressor_id",
            nw.lit(sensor).alias("sensor"),
            (nw.col("hour") + timedelta(hours=1)).alias("timestamp"),
            nw.col(f"{sensor}_trend_per_day").alias("value"),
            nw.when(nw.col(f"{sensor}_trend_per_day") <= limit.warning_below_per_day)
            .then(nw.lit(1))
            .when(~nw.col(f"{sensor}_trend_per_day").is_null())
            .then(nw.lit(0))
            .alias("level"),
            nw.lit(limit.warning_below_per_day).alias("limit_value"),
            nw.lit(TREND).alias("alert_type"),
        )
        for sensor, limit in trends.sensors.items()
    ]
    if not per_sensor:
        return hourly.select("compressor_id").head(0)
    judged = nw.concat(per_sensor).filter(~nw.col("level").is_null())
    pairs = judged.filter(nw.col("level") >= 1).select(*PAIR)
    if watch is not None:
        pairs = nw.concat(same_kind([pairs, watch.select(*PAIR)]))
    return done(judged.join(pairs.unique(), on=list(PAIR), how="inner"))


def _level(sensor: str, margin: float) -> nw.Expr:
    """The severity rank of the trailing mean, or -1 when it is normal but within the deadband
    next to a warning limit (such a reading neither opens nor resolves an alert)."""
    value = nw.col(f"{sensor}_avg")
    near = (value >= nw.col(f"{sensor}__warning_high") * (1 - margin)).fill_null(False) | (
        value <= nw.col(f"{sensor}__warning_low") * (1 + margin)
    ).fill_null(False)
    ranked = level(value, sensor)
    return nw.when((ranked == SEVERITY_RANK["normal"]) & near).then(nw.lit(-1)).otherwise(ranked)


# The limit an abnormal reading is reported against: the most severe one it crossed.
CROSSING_ORDER = ("critical_high", "critical_low", "warning_high", "warning_low")


def _crossed_limit(sensor: str, suffix: str = "") -> nw.Expr:
    """Column ``{sensor}__{limit}{suffix}`` of the most severe limit the trailing mean crossed:
    the limit's value (no suffix) or its kind (``__kind``)."""
    value = nw.col(f"{sensor}_avg")
    first, *rest = CROSSING_ORDER
    expr = nw.when(crossed(value, sensor, first)).then(nw.col(f"{sensor}__{first}{suffix}"))
    for limit in rest:
        expr = expr.when(crossed(value, sensor, limit)).then(nw.col(f"{sensor}__{limit}{suffix}"))
    return expr


def alert_episodes(
    readings: Frame,
    open_alerts: Frame,
    units: Frame,
    rules: AlertRules,
    first: date,
    last: date,
    repairs: Frame | None = None,
    recent: Frame | None = None,
) -> Frame:
    """Alert rows (``alert_history`` schema) for episodes with evaluations on the days from
    ``first`` to ``last``.

    ``readings`` come from :func:`evaluate_readings` over the days and the look-back before
    them (whose readings only feed the quiet rule). ``open_alerts`` are the history's alerts
    still open when the first day began: an episode already under way continues that alert
    rather than opening a new one. ``recent``: the history's alerts of the same kinds that
    opened within the aggregation window before it (they count towards the cap).
    ``repairs`` (compressor_id, repaired_at) end every episode of their unit: an alert open
    at a repair resolves then, and what follows is judged as a new unit's first episode.

    The episodes run across the days as one stream: evaluating the days one at a time (each
    continuing the alerts the one before left open) gives the same alerts.
    """
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    quiet_after = rules.auto_resolve_consecutive_normal
    # Every window runs within one unit, sensor and repair epoch (repairs before the moment).
    within = (*PAIR, "_epoch")
    over: dict[str, Any] = {"order_by": "timestamp"}
    repairs = repairs if repairs is not None else _no_repairs(open_alerts)
    carried = _epoch_of(
        open_alerts.select(
            *PAIR,
            nw.col("opened_at").alias("_h_opened"),
            nw.col("last_abnormal_at").alias("_h_last_abnormal"),
            nw.col("severity").alias("_h_severity"),
            nw.col("trigger_value").alias("_h_trigger"),
            nw.col("peak_value").alias("_h_peak"),
            nw.col("limit_value").alias("_h_limit"),
            nw.col("alert_type").alias("_h_type"),
            nw.col("escalated_at").alias("_h_escalated"),
        ),
        "_h_last_abnormal",
        repairs,
    ).rename({"_epoch": "_h_epoch"})
    rows = _epoch_of(readings, "timestamp", repairs).join(carried, on=list(PAIR), how="left")
    # A carried alert continues only in the epoch it was open in: a repair ended it.
    same_epoch = (nw.col("_h_epoch") == nw.col("_epoch")).fill_null(False)
    rows = rows.with_columns(
        *(
            nw.when(same_epoch).then(nw.col(c)).alias(c)
            for c in (
                "_h_opened",
                "_h_last_abnormal",
                "_h_severity",
                "_h_trigger",
                "_h_peak",
                "_h_limit",
                "_h_type",
                "_h_escalated",
            )
        )
    ).lazy()
    abnormal = nw.col("level") >= 1
    normal = nw.col("level") == 0
    quiet = normal
    for k in range(1, quiet_after):
        quiet = quiet & (nw.col("level").shift(k).over(*within, **over) == 0).fill_null(False)
    # Readings of the look-back serve only as memory (the quiet rule looks back on them):
    # what happened then is in the carried alerts, and the day's episodes begin in the day.
    rows = (
        rows.with_columns(abnormal.alias("_abn"), quiet.alias("_quiet")).filter(
            nw.col("timestamp") >= start
        )
    ).with_columns(
        nw.max_horizontal(
            _running_latest(nw.col("_abn"), within), nw.col("_h_last_abnormal")
        ).alias("_last_abn"),
        _running_latest(nw.col("_quiet"), within).alias("_last_quiet"),
    )
    in_episode = ~nw.col("_last_abn").is_null() & (
        nw.col("_last_quiet").is_null() | (nw.col("_last_abn") > nw.col("_last_quiet"))
    )
    rows = rows.with_columns(in_episode.alias("_in"))
    before = nw.col("_in").shift(1).over(*within, **over).fill_null(~nw.col("_h_opened").is_null())
    rows = rows.with_columns((nw.col("_abn") & ~before).alias("_start")).with_columns(
        nw.col("_start").cast(nw.Int32).cum_sum().over(*within, **over).alias("_episode")
    )
    # Episode 0 exists only for a carried alert; others begin at their first abnormal reading.
    rows = rows.filter((nw.col("_episode") > 0) | ~nw.col("_h_opened").is_null())
    rows = rows.with_columns(
        # A carried alert's last abnormal reading may lie before the look-back.
        nw.max_horizontal(
            nw.when(nw.col("_abn")).then(nw.col("timestamp")).max().over(*within, "_episode"),
            nw.when(nw.col("_episode") == 0).then(nw.col("_h_last_abnormal")),
        ).alias("_ep_last_abn"),
        nw.col("level").max().over(*within, "_episode").alias("_ep_level"),
    )
    carried_ep = nw.col("_episode") == 0
    episodes = rows.group_by(*within, "_episode").agg(
        nw.when(nw.col("_start")).then(nw.col("timestamp")).min().alias("_opened"),
        nw.col("_h_opened").max(),
        nw.col("_h_severity").max(),
        nw.col("_h_trigger").max(),
        nw.col("_h_peak").max(),
        nw.col("_h_limit").max(),
        nw.col("_h_type").max(),
        nw.col("_h_escalated").max(),
        nw.col("_ep_last_abn").max().alias("_last_abnormal"),
        nw.col("_ep_level").max().alias("_level"),
        nw.when(nw.col("_quiet") & (nw.col("timestamp") > nw.col("_ep_last_abn")))
        .then(nw.col("timestamp"))
        .min()
        .alias("resolved_at"),
        nw.when(nw.col("level") == nw.col("_ep_level"))
        .then(nw.col("timestamp"))
        .min()
        .alias("_worst_since"),
        nw.when(nw.col("_start")).then(nw.col("value")).max().alias("_trigger"),
        nw.when(nw.col("_start")).then(nw.col("limit_value")).max().alias("_limit"),
        nw.when(nw.col("_start")).then(nw.col("alert_type")).max().alias("_type"),
        nw.when(nw.col("_abn")).then(nw.col("value")).max().alias("_max"),
        nw.when(nw.col("_abn")).then(nw.col("value")).min().alias("_min"),
        nw.col("timestamp").max().alias("_seen_to"),
        carried_ep.max().alias("_carried"),
    )
    # An episode still open when the next repair of its unit came (within the day) ends then.
    ended_by_repair = _repair_ending(repairs, end)
    episodes = (
        episodes.join(ended_by_repair.lazy(), on=["compressor_id", "_epoch"], how="left")
        .with_columns(
            nw.when(
                ~nw.col("_repaired_at").is_null()
                & (
                    nw.col("resolved_at").is_null()
                    | (nw.col("resolved_at") > nw.col("_repaired_at"))
                )
            )
            .then(nw.col("_repaired_at"))
            .otherwise(nw.col("resolved_at"))
            .alias("resolved_at")
        )
        .drop("_repaired_at")
    )
    worst = nw.max_horizontal(nw.col("_level"), rank(nw.col("_h_severity")))
    escalate = {sev: timedelta(minutes=m) for sev, m in rules.escalate_after_minutes.items()}
    opened_at = nw.when(nw.col("_carried")).then(nw.col("_h_opened")).otherwise(nw.col("_opened"))
    trigger = nw.when(nw.col("_carried")).then(nw.col("_h_trigger")).otherwise(nw.col("_trigger"))
    limit = nw.when(nw.col("_carried")).then(nw.col("_h_limit")).otherwise(nw.col("_limit"))
    high = trigger >= limit
    alerts = (
        episodes.filter(nw.col("_seen_to") >= start)  # episodes that reach into the day
        .with_columns(
            opened_at.alias("opened_at"),
            severity(worst).alias("severity"),
            trigger.alias("trigger_value"),
            limit.alias("limit_value"),
            nw.when(nw.col("_carried"))
            .then(nw.col("_h_type"))
            .otherwise(nw.col("_type"))
            .alias("alert_type"),
            nw.when(high)
            .then(nw.max_horizontal(nw.col("_max"), nw.col("_h_peak")))
            .otherwise(nw.min_horizontal(nw.col("_min"), nw.col("_h_peak")))
            .alias("peak_value"),
            nw.col("_last_abnormal").alias("last_abnormal_at"),
        )
        .with_columns(
            # A carried alert the days took no higher keeps the escalation it had.
            nw.when(
                nw.col("_carried")
                & (rank(nw.col("_h_severity")) >= nw.col("_level"))
                & ~nw.col("_h_escalated").is_null()
            )
            .then(nw.col("_h_escalated"))
            .when(nw.col("severity") == "critical")
            .then(nw.col("_worst_since") + escalate["critical"])
            .otherwise(nw.col("_worst_since") + escalate["warning"])
            .alias("_escalate_at"),
        )
        .with_columns(
            nw.when(
                nw.col("resolved_at").is_null() | (nw.col("resolved_at") > nw.col("_escalate_at"))
            )
            .then(nw.col("_escalate_at"))
            .alias("escalated_at"),
        )
    )
    columns = [*PAIR, *_LIFE_CYCLE]
    closed = _closed_by_repair(carried, episodes, ended_by_repair)
    return done(
        alert_rows(
            nw.concat([alerts.select(columns), closed.select(columns)]), units, rules, recent
        )
    )


_LIFE_CYCLE = (
    "alert_type",
    "severity",
    "opened_at",
    "escalated_at",
    "resolved_at",
    "last_abnormal_at",
    "trigger_value",
    "peak_value",
    "limit_value",
)


def _closed_by_repair(carried: Frame, episodes: Frame, ended_by_repair: Frame) -> Frame:
    """Carried alerts that no evaluation continued (the unit was silent, or came back from a
    repair normal) but that a repair ended: resolved at the repair."""
    continued = episodes.filter(nw.col("_carried")).select(*PAIR)
    return (
        carried.lazy()
        .join(continued, on=list(PAIR), how="anti")
        .join(
            ended_by_repair.lazy().rename({"_epoch": "_h_epoch"}),
            on=["compressor_id", "_h_epoch"],
            how="inner",
        )
        .select(
            *PAIR,
            nw.col("_h_type").alias("alert_type"),
            nw.col("_h_severity").alias("severity"),
            nw.col("_h_opened").alias("opened_at"),
            nw.col("_h_escalated").alias("escalated_at"),
            nw.col("_repaired_at").alias("resolved_at"),
            nw.col("_h_last_abnormal").alias("last_abnormal_at"),
            nw.col("_h_trigger").alias("trigger_value"),
            nw.col("_h_peak").alias("peak_value"),
            nw.col("_h_limit").alias("limit_value"),
        )
    )


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # before any reading: "not yet" in a running max


def _running_latest(condition: nw.Expr, within: tuple[str, ...]) -> nw.Expr:
    """The latest timestamp so far at which ``condition`` held, carried forward over the rows
    where it does not (null until it first holds)."""
    moment = nw.when(condition).then(nw.col("timestamp")).otherwise(nw.lit(_NEVER))
    latest = moment.cum_max().over(*within, order_by="timestamp")
    return nw.when(latest > nw.lit(_NEVER)).then(latest)


def _no_repairs(like: Frame) -> Frame:
    """An empty repairs frame on ``like``'s backend."""
    return like.select("compressor_id", nw.col("opened_at").alias("repaired_at")).head(0)


def _epoch_of(frame: Frame, moment: str, repairs: Frame) -> Frame:
    """``frame`` with ``_epoch``: how many repairs of its unit were done by ``moment``."""
    keys = [*PAIR, moment]
    if isinstance(frame, nw.LazyFrame):
        repairs = repairs.lazy()
    done_by = (
        frame.select(*keys)
        .unique()
        .join(repairs.select("compressor_id", "repaired_at"), on="compressor_id", how="inner")
        .filter(nw.col("repaired_at") <= nw.col(moment))
        .group_by(*keys)
        .agg(nw.len().cast(nw.Int32).alias("_epoch"))
    )
    return frame.join(done_by, on=keys, how="left").with_columns(
        nw.col("_epoch").fill_null(0).cast(nw.Int32)
    )


def _repair_ending(repairs: Frame, until: datetime) -> Frame:
    """Per unit and epoch: the repair (done before ``until``) that ended the epoch."""
    return repairs.filter(nw.col("repaired_at") < until).select(
        "compressor_id",
        (nw.col("repaired_at").rank("ordinal").over("compressor_id") - 1)
        .cast(nw.Int32)
        .alias("_epoch"),
        nw.col("repaired_at").alias("_repaired_at"),
    )
