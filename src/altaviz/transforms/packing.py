"""The rod-packing programme: which rule each unit is under, when its packing was last
measured or replaced, how many operating hours have run since, when the next measurement or
replacement is due, and the compliance alerts all of this raises.

- NSPS OOOOb/OOOOc (40 CFR 60.5385b): measure the packing vent flow within every 8,760
  operating hours; above 2 scf/min per cylinder, repair or replace within ``repair_days``.
- NSPS OOOO/OOOOa (40 CFR 60.5385a): replace the packing every 26,000 operating hours or
  36 months, whichever comes first.

Operating hours come from the telemetry (``operating_mode_days``), added to each unit's hour
meter as registered; a record from before the data carries the meter reading it was taken
at. A measured exceedance, and an estimated one, are alerts: they join the worklist's cases
like any other.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

from altaviz.config.schema import PackingProgramme

EXCEEDANCE = "packing_exceedance"
ESTIMATE = "packing_estimate"
ALERT_TYPES = (EXCEEDANCE, ESTIMATE)
RULE_NAMES = {"oooob": "OOOOb", "ooooa": "OOOOa"}
MODE_HOURS = ("operating_hours", "standby_hours", "depressurised_hours", "not_reporting_hours")
SENSOR = "packing_vent_scfm"
DAY = timedelta(days=1)
MONTHS_36 = timedelta(days=round(36 * 365.25 / 12))


def unit_rules(units: pl.DataFrame, programme: PackingProgramme) -> pl.DataFrame:
    """``units`` (compressor_id, install_date, ...) with ``rule``: the unit's own entry in the
    configuration, else the rule of the install-date window it falls in, else the default.

    >>> from altaviz.config import load_config
    >>> p = load_config().models.packing
    >>> u = pl.DataFrame({"compressor_id": ["A", "B"], "install_date": [date(2018, 5, 1),
    ...     date(2024, 1, 1)]})
    >>> unit_rules(u, p)["rule"].to_list()
    ['ooooa', 'oooob']
    """
    rule = pl.lit(programme.default_rule)
    for window in reversed(programme.by_install_date):
        inside = pl.col("install_date") >= window.installed_from
        if window.installed_until is not None:
            inside = inside & (pl.col("install_date") <= window.installed_until)
        rule = pl.when(inside).then(pl.lit(window.rule)).otherwise(rule)
    named = pl.col("compressor_id").replace_strict(programme.units, default=None)
    return units.with_columns(pl.coalesce(named, rule).alias("rule"))


def operating_clock(units: pl.DataFrame, mode_days: pl.DataFrame, data_start: date) -> pl.DataFrame:
    """Per unit and day of the data, its hour meter at the end of the day: the meter as
    registered (``operating_hours`` of ``units``, read at ``data_start``) plus the operating
    hours the telemetry counted since."""
    return (
        mode_days.filter(pl.col("date") >= data_start)
        .select("compressor_id", "date", "operating_hours")
        .sort("compressor_id", "date")
        .with_columns(pl.col("operating_hours").cum_sum().over("compressor_id").alias("_run"))
        .join(
            units.select("compressor_id", pl.col("operating_hours").alias("_meter")),
            on="compressor_id",
            how="inner",
        )
        .select("compressor_id", "date", (pl.col("_meter") + pl.col("_run")).alias("meter"))
    )


def programme_status(
    units: pl.DataFrame,
    records: pl.DataFrame,
    mode_days: pl.DataFrame,
    programme: PackingProgramme,
    limit_scfm: float,
    interval_hours: float,
    as_of: datetime,
) -> pl.DataFrame:
    """One row per unit: its rule, its last measurement and replacement, the operating hours
    since the one its rule counts from, when the next is due and whether it is overdue or an
    exceedance awaits repair.

    ``units``: compressor_id, station_id, basin, install_date, operating_hours (the meter as
    registered); ``records``: ``packing_measurements``; ``mode_days``: ``operating_mode_days``.
    A due date still ahead is forecast from the last week's running; one passed is the day
    the hours ran out (the data's first day when they had run out before it).
    """
    data_start = mode_days["date"].min() if mode_days.height else as_of.date()
    start_at = datetime.combine(data_start, datetime.min.time(), UTC)
    clock = operating_clock(units, mode_days, data_start)
    registered = units.select("compressor_id", pl.col("operating_hours").alias("_registered"))
    meter_now = (
        clock.group_by("compressor_id")
        .agg(pl.col("meter").sort_by("date").last().alias("meter_now"))
        .join(registered, on="compressor_id", how="right")
        .select("compressor_id", pl.col("meter_now").fill_null(pl.col("_registered")))
    )
    rate = (
        mode_days.filter(pl.col("date") > as_of.date() - 7 * DAY)
        .group_by("compressor_id")
        .agg((pl.col("operating_hours").sum() / (pl.len() * 24.0)).clip(0.05, 1.0).alias("_rate"))
    )
    per_record = _per_record(records, limit_scfm)
    last = {
        kind: per_record.filter(pl.col("kind") == kind)
        .sort("measured_at")
        .group_by("compressor_id")
        .agg(
            pl.col("measured_at").last().alias(f"last_{kind}_at"),
            pl.col("max_scfm").last().alias(f"last_{kind}_scfm"),
            pl.col("unit_operating_hours").last().alias(f"_{kind}_meter"),
        )
        for kind in ("measurement", "replacement")
    }
    status = (
        unit_rules(units, programme)
        .select("compressor_id", "station_id", "basin", "rule")
        .join(meter_now, on="compressor_id", how="left")
        .join(registered, on="compressor_id", how="left")
        .join(rate, on="compressor_id", how="left")
        .join(last["measurement"], on="compressor_id", how="left")
        .join(last["replacement"], on="compressor_id", how="left")
        .with_columns(pl.col("_rate").fill_null(0.9))
    )
    # Each record's meter: as recorded; else the clock the day before it; else (before the
    # data, no reading) the registered meter less the calendar hours between.
    day_meter = clock.select("compressor_id", (pl.col("date") + DAY).alias("_day"), "meter")
    for kind in ("measurement", "replacement"):
        at = pl.col(f"last_{kind}_at")
        before_data = pl.col("_registered") - (pl.lit(start_at) - at).dt.total_seconds() / 3600.0
        status = (
            status.with_columns(at.dt.date().alias("_day"))
            .join(day_meter, on=["compressor_id", "_day"], how="left")
            .with_columns(
                pl.when(at.is_null())
                .then(None)
                .otherwise(
                    pl.coalesce(
                        pl.col(f"_{kind}_meter"),
                        pl.col("meter"),
                        pl.when(at.dt.date() <= data_start)
                        .then(before_data)
                        .otherwise(pl.col("_registered")),
                    )
                )
                .alias(f"_{kind}_base")
            )
            .with_columns(
                (pl.col("meter_now") - pl.col(f"_{kind}_base"))
                .clip(lower_bound=0.0)
                .alias(f"hours_since_{kind}")
            )
            .drop("_day", "meter")
        )
    oooob = pl.col("rule") == "oooob"
    status = status.with_columns(
        pl.when(oooob).then(interval_hours).otherwise(programme.replacement_hours).alias("_limit"),
        pl.when(oooob)
        .then(pl.col("_measurement_base"))
        .otherwise(pl.col("_replacement_base"))
        .alias("_base"),
    ).with_columns(
        (pl.col("_limit") - (pl.col("meter_now") - pl.col("_base"))).alias("hours_remaining")
    )
    crossed = (
        clock.join(status.select("compressor_id", "_base", "_limit"), on="compressor_id")
        .filter(pl.col("meter") - pl.col("_base") >= pl.col("_limit"))
        .group_by("compressor_id")
        .agg(pl.col("date").min().alias("_crossed"))
    )
    at_start = pl.col("_registered") - pl.col("_base") >= pl.col("_limit")
    by_hours = (
        pl.when(pl.col("_base").is_null() | at_start)
        .then(pl.lit(start_at))
        .when(pl.col("_crossed").is_not_null())
        .then(pl.col("_crossed").cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + DAY)
        .otherwise(
            pl.lit(as_of)
            + pl.duration(
                seconds=(pl.col("hours_remaining") / pl.col("_rate") * 3600).clip(lower_bound=0)
            )
        )
    )
    by_months = pl.col("last_replacement_at") + MONTHS_36
    due = (
        pl.when(oooob)
        .then(by_hours)
        .otherwise(pl.min_horizontal(by_hours, pl.coalesce(by_months, by_hours)))
    )
    reason = (
        pl.when(oooob)
        .then(pl.lit(f"{interval_hours:,.0f} operating hours"))
        .when(by_months < by_hours)
        .then(pl.lit("36 months"))
        .otherwise(pl.lit(f"{programme.replacement_hours:,.0f} operating hours"))
    )
    exceeded = (
        oooob
        & (pl.col("last_measurement_scfm") > limit_scfm)
        & (
            pl.col("last_replacement_at").is_null()
            | (pl.col("last_replacement_at") < pl.col("last_measurement_at"))
        )
    )
    return (
        status.join(crossed, on="compressor_id", how="left")
        .with_columns(due.alias("due_at"), reason.alias("due_by"))
        .with_columns(
            pl.col("due_at").dt.date().alias("next_due"),
            (pl.col("due_at") <= pl.lit(as_of)).alias("overdue"),
            exceeded.fill_null(False).alias("exceedance_open"),
            pl.when(oooob)
            .then(pl.lit("vent-flow measurement"))
            .otherwise(pl.lit("packing replacement"))
            .alias("next_action"),
        )
        .with_columns(
            pl.when(pl.col("exceedance_open"))
            .then((pl.col("last_measurement_at") + timedelta(days=programme.repair_days)).dt.date())
            .alias("repair_due"),
        )
        .select(
            "compressor_id",
            "station_id",
            "basin",
            "rule",
            "next_action",
            "due_at",
            "next_due",
            "due_by",
            "overdue",
            "hours_remaining",
            "meter_now",
            "last_measurement_at",
            "last_measurement_scfm",
            "hours_since_measurement",
            "last_replacement_at",
            "hours_since_replacement",
            "exceedance_open",
            "repair_due",
        )
        .sort("due_at", "compressor_id")
    )


def _per_record(records: pl.DataFrame, limit_scfm: float) -> pl.DataFrame:
    """One row per measurement or replacement: its highest cylinder and how many exceed."""
    return records.group_by("measurement_id", "compressor_id", "measured_at", "kind").agg(
        pl.col("vent_scfm").max().alias("max_scfm"),
        (pl.col("vent_scfm") > limit_scfm).sum().cast(pl.Int32).alias("cylinders_over"),
        pl.col("unit_operating_hours").first(),
        pl.col("recorded_by").first(),
    )


def compliance_alerts(
    units: pl.DataFrame,
    records: pl.DataFrame,
    flags: pl.DataFrame,
    repairs: pl.DataFrame,
    programme: PackingProgramme,
    limit_scfm: float,
) -> pl.DataFrame:
    """``alert_history`` rows of the packing programme, from the whole record each run.

    - exceedance (critical): an OOOOb measurement above the limit; resolved by the unit's
      next packing record at or under it, a replacement, or a packing repair;
    - estimate (warning): the estimated vent flow over the limit for a day (``flags``:
      compressor_id, hour, packing_over_limit, packing_vent_scfm_per_cylinder) - measure it.

    Due and overdue units are the programme's list (:func:`programme_status`), not alerts: a
    measurement falling due is routine work, not a sick unit.
    """
    per_record = _per_record(records, limit_scfm).sort("measured_at")
    ruled = unit_rules(units, programme).select("compressor_id", "rule", "station_id", "region")
    # What ends an exceedance: any later record without one, or a finished packing repair.
    endings = pl.concat(
        [
            per_record.filter(
                (pl.col("kind") == "replacement") | (pl.col("cylinders_over") == 0)
            ).select("compressor_id", pl.col("measured_at").alias("ends_at")),
            repairs.select("compressor_id", pl.col("repaired_at").alias("ends_at")),
        ]
    )
    exceedances = (
        per_record.filter((pl.col("kind") == "measurement") & (pl.col("cylinders_over") > 0))
        .join(ruled.filter(pl.col("rule") == "oooob"), on="compressor_id", how="inner")
        .select(
            "compressor_id",
            "station_id",
            "region",
            pl.lit(EXCEEDANCE).alias("alert_type"),
            pl.lit("critical").alias("severity"),
            pl.col("measured_at").alias("opened_at"),
            pl.col("measured_at").alias("last_abnormal_at"),
            pl.col("max_scfm").alias("trigger_value"),
            pl.col("max_scfm").alias("peak_value"),
            pl.format(
                "Rod packing vent {} scf/min on {} cylinder(s), above the OOOOb limit of {}: "
                "repair or replace the packing by {} (measured {} by {})",
                pl.col("max_scfm").round(2),
                "cylinders_over",
                pl.lit(limit_scfm),
                (pl.col("measured_at") + timedelta(days=programme.repair_days)).dt.date(),
                pl.col("measured_at").dt.strftime("%Y-%m-%d"),
                pl.col("recorded_by"),
            ).alias("message"),
        )
    )
    exceedances = _resolved_by(exceedances, endings)
    estimates = _flag_runs(flags, ruled, limit_scfm)
    alerts = pl.concat([exceedances, estimates], how="diagonal_relaxed")
    return alerts.select(
        pl.format(
            "ALR-{}-{}-{}",
            "alert_type",
            "compressor_id",
            pl.col("opened_at").dt.strftime("%Y%m%dT%H%MZ"),
        ).alias("alert_id"),
        "compressor_id",
        "station_id",
        "region",
        "alert_type",
        pl.lit(SENSOR).alias("sensor"),
        "severity",
        pl.when(pl.col("resolved_at").is_null())
        .then(pl.lit("open"))
        .otherwise(pl.lit("resolved"))
        .alias("state"),
        "opened_at",
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("escalated_at"),
        "resolved_at",
        "last_abnormal_at",
        "trigger_value",
        "peak_value",
        pl.lit(limit_scfm).alias("limit_value"),
        pl.lit(True).alias("notify"),  # warnings and criticals notify, as every alert
        "message",
        pl.col("opened_at").dt.date().alias("date"),
    ).sort("opened_at", "alert_id")


def _resolved_by(alerts: pl.DataFrame, endings: pl.DataFrame) -> pl.DataFrame:
    """``alerts`` with ``resolved_at``: the first of the unit's ``endings`` after it opened."""
    first_end = (
        alerts.select("compressor_id", "opened_at")
        .join(endings, on="compressor_id", how="inner")
        .filter(pl.col("ends_at") > pl.col("opened_at"))
        .group_by("compressor_id", "opened_at")
        .agg(pl.col("ends_at").min().alias("resolved_at"))
    )
    return alerts.join(first_end, on=["compressor_id", "opened_at"], how="left")


def _flag_runs(flags: pl.DataFrame, ruled: pl.DataFrame, limit_scfm: float) -> pl.DataFrame:
    """One alert per unbroken run of flagged hours (a unit's consecutive estimated hours)."""
    ordered = flags.sort("compressor_id", "hour").with_columns(
        (
            pl.col("packing_over_limit")
            != pl.col("packing_over_limit").shift(1).over("compressor_id")
        )
        .fill_null(True)
        .cum_sum()
        .over("compressor_id")
        .alias("_run")
    )
    runs = ordered.group_by("compressor_id", "_run").agg(
        pl.col("packing_over_limit").first().alias("_flagged"),
        pl.col("hour").min().alias("opened_at"),
        pl.col("hour").max().alias("last_abnormal_at"),
        pl.col("packing_vent_scfm_per_cylinder").first().alias("trigger_value"),
        pl.col("packing_vent_scfm_per_cylinder").max().alias("peak_value"),
    )
    ends = runs.select(
        "compressor_id",
        (pl.col("_run") - 1).alias("_run"),
        pl.col("opened_at").alias("resolved_at"),
    )
    return (
        runs.filter(pl.col("_flagged"))
        .join(ends, on=["compressor_id", "_run"], how="left")
        .join(ruled, on="compressor_id", how="inner")
        .select(
            "compressor_id",
            "station_id",
            "region",
            pl.lit(ESTIMATE).alias("alert_type"),
            pl.lit("warning").alias("severity"),
            "opened_at",
            "resolved_at",
            "last_abnormal_at",
            "trigger_value",
            "peak_value",
            pl.format(
                "Estimated rod-packing vent {} scf/min per cylinder for a day (limit {}): "
                "measure the vent flow",
                pl.col("trigger_value").round(2),
                pl.lit(limit_scfm),
            ).alias("message"),
        )
    )
