"""Data quality: the specification's checks on one day of silver, plus what cleaning changed.

Checks (thresholds.yaml ``quality``): fleet completeness against the registered fleet,
freshness against the data's own clock (so a backfill is judged fairly), sensor completeness,
volume consistency, pressure consistency and late arrivals. Each yields pass, warning or
critical; a critical result stops the day's promotion to gold unless quality is skipped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.config.schema import QualityRules
from altaviz.core.frames import Frame, local
from altaviz.transforms.silver import CleaningCounts
from altaviz.transforms.windows import with_epoch_micros


@dataclass(frozen=True)
class CheckResult:
    check: str
    value: float | None
    threshold: float | None
    severity: str  # pass, info, warning or critical
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.severity in ("pass", "info")


@dataclass(frozen=True)
class QualityReport:
    day: date
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        """False only when a check is critical: warnings are reported but do not block."""
        return all(c.severity != "critical" for c in self.checks)

    def rows(self) -> dict[str, list[Any]]:
        cols: dict[str, list[Any]] = {
            k: [] for k in ("date", "check", "value", "threshold", "severity", "passed", "detail")
        }
        for c in self.checks:
            for k, v in asdict(c).items():
                cols[k].append(v)
            cols["passed"].append(c.passed)
            cols["date"].append(self.day)
        return cols


def _below(
    name: str, value: float | None, warning: float, critical: float | None, detail: str
) -> CheckResult:
    if value is None:
        return CheckResult(name, None, warning, "critical", detail + " (no data)")
    if critical is not None and value < critical:
        return CheckResult(name, value, critical, "critical", detail)
    return CheckResult(name, value, warning, "warning" if value < warning else "pass", detail)


def _above(
    name: str, value: float | None, warning: float, critical: float | None, detail: str
) -> CheckResult:
    if value is None:
        return CheckResult(name, None, warning, "critical", detail + " (no data)")
    if critical is not None and value > critical:
        return CheckResult(name, value, critical, "critical", detail)
    return CheckResult(name, value, warning, "warning" if value > warning else "pass", detail)


def reports_of(
    figures: Frame,
    counts: dict[date, CleaningCounts],
    registered_units: int,
    rules: QualityRules,
    critical_sensors: list[str],
) -> list[QualityReport]:
    """One report per day of ``counts`` from its silver's figures per unit and day (see
    :func:`unit_day_figures`; cleaning computes them in its own pass, so no later pass
    reads the rows): each day's checks are computed from those few thousand rows."""
    per_day = _day_figures(nw.to_native(local(figures)), critical_sensors)
    by_day = {r["date"]: r for r in per_day}
    return [
        _report(day, by_day.get(day), counts[day], registered_units, rules, critical_sensors)
        for day in counts
    ]


def unit_day_figures(silver: Frame, late_after_minutes: float, sensors: list[str]) -> Frame:
    """Per unit and day: its rows, its newest reading and arrival (microseconds since 1970:
    their differences are exact on every engine), and the counts the checks divide - present
    values of each of ``sensors``, readings with discharge above suction, late arrivals
    (each with how many rows could say)."""
    timed = with_epoch_micros(silver, {"_t": "timestamp", "_r": "received_at"})
    pressure_ok = nw.col("discharge_pressure_psi") > nw.col("suction_pressure_psi")
    late = (nw.col("_r") - nw.col("_t")) > late_after_minutes * 60e6
    return timed.group_by("date", "compressor_id").agg(
        nw.len().alias("n"),
        nw.col("_t").max().alias("newest"),
        nw.col("_r").max().alias("newest_arrival"),
        *((~nw.col(s).is_null()).cast(nw.Int64).sum().alias(f"present_{s}") for s in sensors),
        pressure_ok.cast(nw.Int64).sum().alias("pressure_ok"),
        (~pressure_ok.is_null()).cast(nw.Int64).sum().alias("pressure_known"),
        late.cast(nw.Int64).sum().alias("late"),
        (~late.is_null()).cast(nw.Int64).sum().alias("late_known"),
    )


def _day_figures(figures: pl.DataFrame, sensors: list[str]) -> list[dict[str, Any]]:
    """Each day's figures from its units' (see :func:`unit_day_figures`): units reporting,
    rows, sensor completeness, pressure consistency, late share, the median unit's
    freshness against the data's own clock, and the rows per unit's 5th percentile and
    mean."""
    per_day = figures.group_by("date").agg(
        pl.len().alias("units"),
        pl.col("n").sum().alias("rows"),
        # The data's own clock: the latest arrival, but never past the day's end.
        pl.min_horizontal(
            pl.col("newest_arrival").max(),
            (pl.col("date").first().cast(pl.Datetime("us")) + timedelta(days=1)).dt.epoch("us"),
        ).alias("_clock"),
        *(
            (pl.col(f"present_{s}").sum() / pl.col("n").sum()).alias(f"complete_{s}")
            for s in sensors
        ),
        _share("pressure_ok", "pressure_known").alias("pressure_ok"),
        _share("late", "late_known").alias("late"),
        pl.col("n").quantile(0.05, "linear").alias("_p05"),
        pl.col("n").mean().alias("_avg"),
    )
    freshness = (
        figures.join(per_day.select("date", "_clock"), on="date")
        .group_by("date")
        .agg(((pl.col("_clock") - pl.col("newest")) / 60e6).median().alias("freshness"))
    )
    return per_day.join(freshness, on="date").to_dicts()


def _share(part: str, whole: str) -> pl.Expr:
    """``part``'s total over ``whole``'s, null when ``whole`` totals 0 (no row could say)."""
    total = pl.col(whole).sum()
    return pl.when(total > 0).then(pl.col(part).sum() / total)


def quality_report(
    silver: Frame,
    counts: CleaningCounts,
    registered_units: int,
    rules: QualityRules,
    critical_sensors: list[str],
    day: date,
) -> QualityReport:
    """Checks for one day of silver rows (``silver`` holds exactly that day)."""
    dated = silver if "date" in silver.columns else silver.with_columns(nw.lit(day).alias("date"))
    late_after = rules.late_arrivals.late_after_minutes
    figures = unit_day_figures(dated, late_after, critical_sensors)
    (report,) = reports_of(figures, {day: counts}, registered_units, rules, critical_sensors)
    return report


def _report(
    day: date,
    stats: dict[str, Any] | None,
    counts: CleaningCounts,
    registered_units: int,
    rules: QualityRules,
    critical_sensors: list[str],
) -> QualityReport:
    """The day's checks from its figures (None: the day has no silver rows)."""
    late_after = rules.late_arrivals.late_after_minutes
    stats = stats or {"units": 0, "rows": 0, "pressure_ok": None, "late": None}
    freshness = stats.get("freshness")
    freshness = float(freshness) if freshness is not None else None
    volume = None
    if stats.get("_avg"):
        volume = float(stats["_p05"] / stats["_avg"])
    completeness = {s: stats.get(f"complete_{s}") for s in critical_sensors}
    worst_sensor = min(
        completeness, key=lambda s: completeness[s] if completeness[s] is not None else -1
    )
    fleet = stats["units"] / registered_units if registered_units else None
    checks = [
        _below(
            "fleet_completeness",
            fleet,
            rules.fleet_completeness.warning_below,
            rules.fleet_completeness.critical_below,
            f"{stats['units']} of {registered_units} registered units reported",
        ),
        _above(
            "freshness_minutes",
            freshness,
            rules.freshness_minutes.warning_above,
            rules.freshness_minutes.critical_above,
            "median minutes from a unit's newest reading to the data's clock",
        ),
        _below(
            "sensor_completeness",
            completeness[worst_sensor],
            rules.sensor_completeness.warning_below,
            rules.sensor_completeness.critical_below,
            f"worst sensor: {worst_sensor}",
        ),
        _below(
            "volume_consistency",
            volume,
            rules.volume_consistency.warning_below,
            rules.volume_consistency.critical_below,
            "5th-percentile rows per unit / mean rows per unit",
        ),
        _below(
            "pressure_consistency",
            stats["pressure_ok"],
            rules.pressure_consistency.warning_below,
            rules.pressure_consistency.critical_below,
            "share of rows with discharge > suction",
        ),
        _above(
            "late_arrivals",
            stats["late"],
            rules.late_arrivals.warning_above,
            rules.late_arrivals.critical_above,
            f"share arriving more than {late_after:g} min late",
        ),
    ]
    info = [
        ("rows_in", counts.rows_in, "bronze readings of the day"),
        ("duplicates_removed", counts.duplicates, "resent readings dropped"),
        (
            "rows_dropped_all_null",
            counts.rows_dropped_all_null,
            "readings with every critical sensor null",
        ),
        ("rows_out", counts.rows_out, "silver readings"),
        *((f"spikes_nulled_{s}", n, "isolated spikes nulled") for s, n in counts.spikes.items()),
        *(
            (f"out_of_bounds_nulled_{s}", n, "physically impossible values nulled")
            for s, n in counts.out_of_bounds.items()
        ),
    ]
    checks += [CheckResult(name, float(v), None, "info", d) for name, v, d in info]
    return QualityReport(day, checks)
