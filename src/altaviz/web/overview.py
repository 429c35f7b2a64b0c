"""The fleet overview's figures: each unit's condition now, stations coloured by their worst
unit, open cases by severity, units at risk, data freshness - pure functions of the served
snapshot and the current cases.

A unit's *condition* is the worse of its latest hourly status and the severity of its open
case (a unit whose readings calmed down but whose case is still open is not "normal" yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.ml.risk import at_risk
from altaviz.web.map import Outline, hull, svg_polygon

CONDITIONS = ("normal", "warning", "critical", "not reporting")
_RANK = {"normal": 0, "warning": 1, "critical": 2}
AT_RISK_HOURS = 48.0


@dataclass(frozen=True)
class FleetFilter:
    """What the overview is narrowed to (empty: the whole fleet)."""

    basin: str | None = None
    station: str | None = None
    model: str | None = None

    def apply(self, units: pl.DataFrame) -> pl.DataFrame:
        for column, wanted in (
            ("basin", self.basin),
            ("station_id", self.station),
            ("model", self.model),
        ):
            if wanted:
                units = units.filter(pl.col(column) == wanted)
        return units


def unit_conditions(
    units: pl.DataFrame,
    latest: pl.DataFrame,
    predictions: pl.DataFrame,
    cases: pl.DataFrame,
    offline_after: timedelta,
) -> pl.DataFrame:
    """One row per unit: its metadata, ``status`` now, ``case_severity``, ``condition``,
    ``last_hour``, ``at_risk`` (a model flags it and it may fail within 48 h) and
    ``hours_to_failure``."""
    newest = latest["hour"].max() if latest.height else None
    status = (
        latest.select("compressor_id", pl.col("hour").alias("last_hour"), "worst_status")
        if latest.height
        else pl.DataFrame(
            schema={
                "compressor_id": pl.String,
                "last_hour": pl.Datetime("us", "UTC"),
                "worst_status": pl.String,
            }
        )
    )
    open_cases = (
        cases.filter(pl.col("state").is_in(("open", "acknowledged", "snoozed")))
        .sort(pl.col("severity") != "critical")
        .group_by("compressor_id", maintain_order=True)
        .first()
        .select(
            "compressor_id",
            "case_id",
            pl.col("severity").alias("case_severity"),
            "suspected_failure_mode",
            "time_to_failure_hours",
        )
        if cases.height
        else pl.DataFrame(
            schema={
                "compressor_id": pl.String,
                "case_id": pl.String,
                "case_severity": pl.String,
                "suspected_failure_mode": pl.String,
                "time_to_failure_hours": pl.Float64,
            }
        )
    )
    risk = _risk(predictions)
    frame = (
        units.join(status, on="compressor_id", how="left")
        .join(open_cases, on="compressor_id", how="left")
        .join(risk, on="compressor_id", how="left")
    )
    reporting = (
        pl.col("last_hour").is_not_null() & (pl.col("last_hour") >= newest - offline_after)
        if newest is not None
        else pl.lit(False)
    )
    rank = pl.max_horizontal(
        pl.col("worst_status").replace_strict(_RANK, default=0, return_dtype=pl.Int8),
        pl.col("case_severity").replace_strict(_RANK, default=0, return_dtype=pl.Int8),
    )
    return frame.with_columns(
        reporting.alias("reporting"),
        rank.alias("rank"),
        pl.when(~reporting)
        .then(pl.lit("not reporting"))
        .when(rank == 2)
        .then(pl.lit("critical"))
        .when(rank == 1)
        .then(pl.lit("warning"))
        .otherwise(pl.lit("normal"))
        .alias("condition"),
        pl.col("at_risk").fill_null(False),
    )


def _risk(predictions: pl.DataFrame) -> pl.DataFrame:
    """Per unit: flagged by a model with a failure expected within 48 h (or an anomaly now)."""
    if not predictions.height:
        return pl.DataFrame(
            schema={
                "compressor_id": pl.String,
                "at_risk": pl.Boolean,
                "hours_to_failure": pl.Float64,
            }
        )
    flagged = nw.to_native(nw.from_native(predictions).with_columns(at_risk().alias("_flag")))
    soonest = pl.min_horizontal("rul_hours", "drift_hours_to_critical")
    return flagged.select(
        "compressor_id",
        (
            pl.col("_flag") & (soonest.fill_null(float("inf")) <= AT_RISK_HOURS)
            | (pl.col("anomaly_level").fill_null(0) >= 1)
        ).alias("at_risk"),
        soonest.alias("hours_to_failure"),
    )


def headline(conditions: pl.DataFrame, newest_hour: datetime | None) -> dict[str, Any]:
    """The figures at the top of the overview."""
    counts = dict.fromkeys(CONDITIONS, 0) | dict(conditions.group_by("condition").len().iter_rows())
    cases = conditions.filter(pl.col("case_id").is_not_null())
    now = datetime.now(UTC)
    # Gold covers its newest hour up to that hour's end - or up to now, while it is current.
    as_of = min(newest_hour + timedelta(hours=1), now) if newest_hour is not None else None
    freshness = (now - as_of).total_seconds() / 60.0 if as_of is not None else None
    return {
        "units": conditions.height,
        "reporting": int(conditions["reporting"].sum()),
        "conditions": counts,
        "cases_critical": cases.filter(pl.col("case_severity") == "critical").height,
        "cases_warning": cases.filter(pl.col("case_severity") == "warning").height,
        "at_risk": int(conditions["at_risk"].sum()),
        "data_as_of": as_of,
        "freshness_minutes": freshness,
    }


def worst_units(conditions: pl.DataFrame, limit: int = 25) -> list[dict[str, Any]]:
    """The units to look at first: critical before warning, at risk, soonest to fail."""
    sick = conditions.filter((pl.col("rank") > 0) | pl.col("at_risk"))
    return (
        sick.sort(
            pl.col("rank"),
            pl.col("at_risk"),
            pl.coalesce("time_to_failure_hours", "hours_to_failure").fill_null(float("inf")),
            descending=[True, True, False],
        )
        .head(limit)
        .to_dicts()
    )


def stations(conditions: pl.DataFrame, outline: Outline) -> list[dict[str, Any]]:
    """Each station on the map: its place, units and worst unit's condition."""
    worst = (
        pl.when(pl.col("rank").max() == 2)
        .then(pl.lit("critical"))
        .when(pl.col("rank").max() == 1)
        .then(pl.lit("warning"))
        .when(pl.col("reporting").any())
        .then(pl.lit("normal"))
        .otherwise(pl.lit("not reporting"))
    )
    found = conditions.group_by("station_id", "basin").agg(
        pl.len().alias("units"),
        pl.col("latitude").mean(),
        pl.col("longitude").mean(),
        worst.alias("condition"),
        (pl.col("rank") == 2).sum().alias("critical"),
        (pl.col("rank") == 1).sum().alias("warning"),
    )
    placed = []
    for row in found.sort("station_id").iter_rows(named=True):
        row["x"], row["y"] = outline.place(row["longitude"], row["latitude"])
        placed.append(row)
    return placed


def basins(stations_placed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each basin as the hull of its stations on the map, with a label point."""
    grouped: dict[str, list[tuple[float, float]]] = {}
    for s in stations_placed:
        grouped.setdefault(s["basin"], []).append((s["x"], s["y"]))
    shapes = []
    for basin, points in sorted(grouped.items()):
        shape = hull(points)
        cx = sum(x for x, _ in points) / len(points)
        top = min(y for _, y in points)
        shapes.append({"basin": basin, "points": svg_polygon(shape), "x": cx, "y": top - 8})
    return shapes
