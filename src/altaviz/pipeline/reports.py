"""Reads of what runs left behind, for the run summary and the commands that show it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

import narwhals as nw
import polars as pl

from altaviz.config import AppConfig
from altaviz.core.errors import NotFoundError
from altaviz.core.frames import first_row, height, local, rows
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.ml.emissions import emissions_summary

SEVERITY_ORDER = ("critical", "warning", "pass", "info")
EmissionsLevel = Literal["basin", "station", "unit"]
EMISSION_COLUMNS = (
    "compressor_id",
    "station_id",
    "basin",
    "hour",
    "date",
    "ch4_lb",
    "co2_combustion_lb",
    "co2e_t",
    "packing_over_limit",
    "packing_check_due",
)


def emissions_totals(
    engine: Engine, config: AppConfig, level: EmissionsLevel, since: date | None, until: date | None
) -> tuple[pl.DataFrame, tuple[date, date] | None]:
    """Totals per basin, station or unit over the dates given (both included), largest CO2e
    first, with each one's share of the Subpart W reporting threshold; and the dates the
    estimates cover. Empty when there are none."""
    if not engine.exists(lake.EMISSIONS_ESTIMATES):
        return pl.DataFrame(), None
    bounds = [nw.col("date") >= since] if since else []
    bounds += [nw.col("date") <= until] if until else []
    where = nw.all_horizontal(*bounds, ignore_nulls=False) if bounds else None
    rows = local(engine.read(lake.EMISSIONS_ESTIMATES, where).select(*EMISSION_COLUMNS))
    if not rows.shape[0]:
        return pl.DataFrame(), None
    # A measurement is due by the packing programme's operating hours (as of the data's clock).
    from altaviz.pipeline.compliance import programme

    overdue = programme(engine, config).filter(pl.col("overdue")).select("compressor_id")
    rows = rows.with_columns(
        nw.col("compressor_id").is_in(overdue["compressor_id"].to_list()).alias("packing_check_due")
    )
    totals = nw.to_native(emissions_summary(rows, level, config.models.emissions))
    threshold = config.models.emissions.reporting_threshold_t_co2e
    span = (rows["date"].min(), rows["date"].max())
    totals = totals.with_columns(
        (pl.col("annualised_co2e_t") / threshold).alias("share_of_threshold")
    ).sort("co2e_t", descending=True)
    return totals, span


def open_alerts(engine: Engine) -> int:
    """Alerts open now, of every type (rules and models)."""
    return height(engine.read(lake.ALERT_HISTORY, nw.col("state") == "open"))


def latest_fleet_health(engine: Engine) -> list[dict[str, Any]]:
    """Fleet health by basin for the newest date on record."""
    health = engine.read_local(lake.FLEET_HEALTH)
    latest = first_row(health.select(nw.col("date").max()))["date"] if height(health) else None
    if latest is None:
        return []
    return rows(health.filter(nw.col("date") == latest).sort("basin"))


def freshness_minutes(engine: Engine) -> float | None:
    """Minutes from the newest reading in bronze to now."""
    newest = engine.column_max(lake.SENSOR_READINGS, "timestamp")
    if newest is None:
        return None
    return round((datetime.now(UTC) - newest).total_seconds() / 60.0, 1)


def last_complete_day(engine: Engine) -> tuple[date, bool] | None:
    """The newest gold date whose 24 hours are all behind the data's newest hour, and True;
    or, when no day is complete yet, the newest date and False. None without gold."""
    newest = engine.column_max(lake.HOURLY_AGGREGATES, "hour")
    if newest is None:
        return None
    if newest.hour == 23:
        return newest.date(), True
    dates = [d for d in engine.partition_values(lake.HOURLY_AGGREGATES) if d < newest.date()]
    return (max(dates), True) if dates else (newest.date(), False)


def quality_report_rows(
    engine: Engine, day: date | None = None
) -> tuple[date, list[dict[str, Any]]]:
    """The stored quality checks of ``day`` (default: the last complete day, else the latest
    date with a report), worst first."""
    metrics = engine.read_local(lake.QUALITY_METRICS)
    if not metrics.shape[0]:
        raise NotFoundError("no quality reports yet: run `altaviz pipeline` first")
    complete = last_complete_day(engine) if day is None else None
    when = day or (complete[0] if complete else metrics.get_column("date").max())
    found = metrics.filter(nw.col("date") == when).rows(named=True)
    if not found:
        raise NotFoundError(f"no quality report for {when}")
    found.sort(key=lambda r: (SEVERITY_ORDER.index(r["severity"]), r["check"]))
    return when, found


def gold_dates(engine: Engine, since: date | None = None) -> list[date]:
    """The dates gold holds, from ``since`` on."""
    found = engine.partition_values(lake.HOURLY_AGGREGATES)
    return sorted(d for d in found if since is None or d >= since)
