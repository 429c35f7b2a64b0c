"""Score the alerts and models of a lakehouse against the simulator's ground truth.

Per failure mode and overall: failures caught before their failure time (by any alert, and
by each source - gold rules, anomaly, drift, RUL), lead times, precision, false alerts per
1,000 healthy unit-days, healthy units flagged, the drift model's time-to-threshold error and
the RUL error. A failure counts as caught by an alert opened between its onset and its
failure; a unit counts as healthy when it was degrading at no moment of the run.

This is an analysis of a simulation's files, so it is written in Polars directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from altaviz.core.errors import NotFoundError

SOURCES = {
    "rules": ("threshold", "deviation", "trend"),
    "anomaly": ("anomaly",),
    "drift": ("drift",),
    "rul": ("rul",),
}
DRIFT_MODES = ("cooling_degradation", "fouling")


@dataclass(frozen=True)
class Truth:
    failures: pl.DataFrame
    units: pl.DataFrame
    start: datetime
    end: datetime

    @classmethod
    def read(cls, fleet: Path) -> Truth:
        try:
            manifest = json.loads((fleet / "manifest.json").read_text())
            failures = pl.read_parquet(fleet / "truth" / "failures.parquet")
            units = pl.read_parquet(fleet / "compressor_metadata.parquet")
        except (OSError, ValueError) as exc:
            raise NotFoundError(
                f"--source {fleet}: not a simulator output with truth ({exc})"
            ) from exc
        start = datetime.fromisoformat(manifest["start"])
        return cls(failures, units, start, start + timedelta(days=manifest["days"]))


def evaluate(truth: Truth, alerts: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, Any]:
    """The evaluation as plain data (see the module docstring)."""
    failing = truth.failures.filter(
        pl.col("failure_time").is_between(truth.start, truth.end, closed="left")
    )
    caught = _first_alerts(failing, alerts)
    degrading_units = truth.failures.filter(
        (pl.col("onset_time") < truth.end) & (pl.col("back_online_time") > truth.start)
    ).select("compressor_id")
    healthy = truth.units.select("compressor_id").join(
        degrading_units, on="compressor_id", how="anti"
    )
    flagged = alerts.join(healthy, on="compressor_id", how="semi")
    healthy_days = healthy.height * (truth.end - truth.start).days
    by_source = {}
    for source, types in SOURCES.items():
        mine = alerts.filter(pl.col("alert_type").is_in(types))
        by_source[source] = {
            "alerts": mine.height,
            "failures_caught": int(caught[f"caught_{source}"].sum()),
            "precision": _precision(mine, truth.failures),
            "healthy_units_flagged": flagged.filter(pl.col("alert_type").is_in(types))[
                "compressor_id"
            ].n_unique(),
        }
    overall = _summarise(caught)
    overall.update(
        {
            "precision": _precision(alerts, truth.failures),
            "healthy_units": healthy.height,
            "healthy_units_flagged": flagged["compressor_id"].n_unique(),
            "healthy_units_flagged_share": _share(
                flagged["compressor_id"].n_unique(), healthy.height
            ),
            "false_alerts_per_1000_healthy_unit_days": round(
                1000 * flagged.height / max(healthy_days, 1), 3
            ),
        }
    )
    per_mode = {
        mode: _summarise(group)
        for (mode,), group in caught.sort("failure_mode").group_by(
            "failure_mode", maintain_order=True
        )
    }
    drift_units = caught.filter(pl.col("failure_mode").is_in(DRIFT_MODES))
    later = truth.failures.filter(pl.col("failure_time") >= truth.end)
    return {
        "window": {"start": truth.start.isoformat(), "end": truth.end.isoformat()},
        "failures_after_window": {
            "count": later.height,
            "first": later["failure_time"].min().isoformat() if later.height else None,
            "units": sorted(later["compressor_id"].unique().to_list()),
        },
        "overall": overall,
        "per_mode": per_mode,
        "by_source": by_source,
        "drift": {
            "cooling_and_fouling_failures": drift_units.height,
            "found_by_drift_model": int(drift_units["caught_drift"].sum()),
            "found_share": _share(int(drift_units["caught_drift"].sum()), drift_units.height),
            **_time_to_threshold_error(truth.failures, predictions),
        },
        "rul": _rul_error(failing, predictions),
    }


def _first_alerts(failing: pl.DataFrame, alerts: pl.DataFrame) -> pl.DataFrame:
    """Per failure: the first alert of each source (and of any) opened during its episode."""
    joined = failing.join(
        alerts.select("compressor_id", "opened_at", "alert_type"), on="compressor_id", how="left"
    ).with_columns(
        pl.when(
            (pl.col("opened_at") >= pl.col("onset_time"))
            & (pl.col("opened_at") < pl.col("failure_time"))
        ).then(pl.col("opened_at"))
    )
    firsts = [pl.col("opened_at").min().alias("first_any")] + [
        pl.col("opened_at").filter(pl.col("alert_type").is_in(types)).min().alias(f"first_{s}")
        for s, types in SOURCES.items()
    ]
    keys = ["compressor_id", "failure_mode", "onset_time", "failure_time"]
    return (
        joined.group_by(keys)
        .agg(firsts)
        .with_columns(
            *(pl.col(f"first_{s}").is_not_null().alias(f"caught_{s}") for s in ("any", *SOURCES)),
            ((pl.col("failure_time") - pl.col("first_any")).dt.total_minutes() / 60).alias(
                "lead_h"
            ),
        )
    )


def _summarise(caught: pl.DataFrame) -> dict[str, Any]:
    lead = caught["lead_h"].drop_nulls()
    return {
        "failures": caught.height,
        "caught": int(caught["caught_any"].sum()),
        "caught_share": _share(int(caught["caught_any"].sum()), caught.height),
        "median_lead_h": _round(lead.median()),
        "p10_lead_h": _round(lead.quantile(0.1, "linear")),
    }


def _precision(alerts: pl.DataFrame, failures: pl.DataFrame) -> float | None:
    """Share of alerts opened while their unit was degrading (onset to back online)."""
    if not alerts.height:
        return None
    true = (
        alerts.select("alert_id", "compressor_id", "opened_at")
        .join(failures, on="compressor_id", how="inner")
        .filter(
            (pl.col("opened_at") >= pl.col("onset_time"))
            & (pl.col("opened_at") < pl.col("back_online_time"))
        )["alert_id"]
        .n_unique()
    )
    return _share(true, alerts.height)


def _time_to_threshold_error(failures: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, Any]:
    """When the drift model expected the truth's warning level to be crossed (its fitted
    temperature and rate, projected), against when it was. Scored on drift predictions
    made during the episode before the crossing, with a significant rise."""
    rising = failures.filter(
        pl.col("failure_mode").is_in(DRIFT_MODES) & pl.col("warning_crossed_time").is_not_null()
    )
    made = (
        predictions.filter(pl.col("drift_hours_to_warning").is_not_null())
        .filter(pl.col("drift_rate_f_per_h") > 0)
        .join(rising, on="compressor_id", how="inner")
        .with_columns((pl.col("hour") + pl.duration(hours=1)).alias("_made"))
        .filter(
            (pl.col("_made") >= pl.col("onset_time"))
            & (pl.col("_made") < pl.col("warning_crossed_time"))
            & (pl.col("drift_temperature_f") < pl.col("warning_level"))
        )
        .with_columns(
            (
                (pl.col("warning_level") - pl.col("drift_temperature_f"))
                / pl.col("drift_rate_f_per_h")
                - (pl.col("warning_crossed_time") - pl.col("_made")).dt.total_seconds() / 3600
            ).alias("error_h")
        )
    )
    return {
        "time_to_warning_predictions": made.height,
        "time_to_warning_median_abs_error_h": _round(made["error_h"].abs().median()),
        "time_to_warning_median_error_h": _round(made["error_h"].median()),
    }


def _rul_error(failing: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, Any]:
    """RUL predictions made during an episode against the true time left to failure."""
    made = (
        predictions.filter(pl.col("rul_hours").is_not_null())
        .join(failing.select("compressor_id", "onset_time", "failure_time"), on="compressor_id")
        .with_columns((pl.col("hour") + pl.duration(hours=1)).alias("_made"))
        .filter(
            (pl.col("_made") >= pl.col("onset_time")) & (pl.col("_made") < pl.col("failure_time"))
        )
        .with_columns(
            ((pl.col("failure_time") - pl.col("_made")).dt.total_seconds() / 3600).alias("_left")
        )
        .with_columns((pl.col("rul_hours") - pl.col("_left")).alias("error_h"))
    )
    return {
        "predictions_during_episodes": made.height,
        "failures_with_finite_rul": made["compressor_id"].n_unique(),
        "median_abs_error_h": _round(made["error_h"].abs().median()),
        "median_error_h": _round(made["error_h"].median()),
        "median_abs_error_last_48h": _round(
            made.filter(pl.col("_left") <= 48)["error_h"].abs().median()
        ),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


# ---------------------------------------------------------------------------- report


def write_report(
    result: dict[str, Any],
    truth: Truth,
    alerts: pl.DataFrame,
    hourly: pl.DataFrame,
    folder: Path,
) -> Path:
    """``evaluation.md`` with the tables and two PNG plots (lead times by mode; one caught
    unit's primary sensor with its first alert and failure marked) in ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    failing = truth.failures.filter(
        pl.col("failure_time").is_between(truth.start, truth.end, closed="left")
    )
    caught = _first_alerts(failing, alerts)

    modes = sorted(caught["failure_mode"].unique().to_list())
    if modes:  # no failure inside the window: no lead time to plot
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.boxplot(
            [
                caught.filter(pl.col("failure_mode") == m)["lead_h"].drop_nulls().to_list()
                for m in modes
            ],
            tick_labels=modes,
        )
        ax.axhline(24, linestyle="--", linewidth=1)
        ax.set_ylabel("lead time before failure (h)")
        ax.set_title("Lead time of the first alert, by failure mode")
        ax.tick_params(axis="x", rotation=20)
        fig.tight_layout()
        fig.savefig(folder / "lead_times.png", dpi=100)
        plt.close(fig)

    sample = caught.filter(pl.col("caught_any")).sort("lead_h", descending=True)
    trace_note = "no caught failure to plot"
    if sample.height:
        unit = sample.row(sample.height // 2, named=True)  # a typical lead, not the best
        sensor = failing.filter(pl.col("compressor_id") == unit["compressor_id"])["primary_sensor"][
            0
        ]
        series = hourly.filter(pl.col("compressor_id") == unit["compressor_id"]).sort("hour")
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot(series["hour"].to_list(), series[f"{sensor}_mean"].to_list(), linewidth=1)
        ax.axvline(unit["first_any"], color="tab:orange", label="first alert")
        ax.axvline(unit["failure_time"], color="tab:red", label="failure")
        ax.set_title(f"{unit['compressor_id']} ({unit['failure_mode']}): hourly {sensor}")
        ax.legend()
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(folder / "sample_unit.png", dpi=100)
        plt.close(fig)
        trace_note = f"{unit['compressor_id']}, {unit['failure_mode']}"

    o = result["overall"]
    lines = [
        "# Altaviz evaluation against the simulator's truth",
        "",
        f"Window {result['window']['start']} to {result['window']['end']}.",
        "",
        *([f"{after_window(result)}", ""] if after_window(result) else []),
        f"- Failures caught before failing: **{o['caught']} of {o['failures']}**"
        f" ({_pct(o['caught_share'])}); median lead {o['median_lead_h']} h,"
        f" 10th percentile {o['p10_lead_h']} h.",
        f"- Healthy units flagged: **{o['healthy_units_flagged']} of {o['healthy_units']}**"
        f" ({_pct(o['healthy_units_flagged_share'])}); false alerts per 1,000 healthy"
        f" unit-days: {o['false_alerts_per_1000_healthy_unit_days']}.",
        f"- Alert precision (opened while the unit was degrading): {_pct(o['precision'])}.",
        f"- Drift model: found {result['drift']['found_by_drift_model']} of"
        f" {result['drift']['cooling_and_fouling_failures']} cooling and fouling failures"
        f" ({_pct(result['drift']['found_share'])}); time-to-warning median absolute error"
        f" {result['drift']['time_to_warning_median_abs_error_h']} h.",
        f"- RUL: median absolute error {result['rul']['median_abs_error_h']} h over"
        f" {result['rul']['predictions_during_episodes']} predictions during episodes"
        f" ({result['rul']['median_abs_error_last_48h']} h in the last 48 h).",
        "",
        "| failure mode | failures | caught | median lead (h) | p10 lead (h) |",
        "|---|---|---|---|---|",
        *(
            f"| {m} | {r['failures']} | {_pct(r['caught_share'])} | {r['median_lead_h']} |"
            f" {r['p10_lead_h']} |"
            for m, r in result["per_mode"].items()
        ),
        "",
        "| source | alerts | failures caught | precision | healthy units flagged |",
        "|---|---|---|---|---|",
        *(
            f"| {s} | {r['alerts']} | {r['failures_caught']} | {_pct(r['precision'])} |"
            f" {r['healthy_units_flagged']} |"
            for s, r in result["by_source"].items()
        ),
        "",
        "![lead times](lead_times.png)" if modes else "No failure to plot lead times of.",
        "",
        f"![sample unit](sample_unit.png) ({trace_note})",
        "",
    ]
    path = folder / "evaluation.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def after_window(result: dict[str, Any]) -> str | None:
    """What to say when no planted failure falls inside the data, or some fall after it."""
    later = result["failures_after_window"]
    if not later["count"]:
        return None
    inside = result["overall"]["failures"]
    lead = "No failure falls inside the data" if not inside else f"{inside} fail inside the data"
    return (
        f"{lead}; {later['count']} planted failure(s) ({', '.join(later['units'][:5])}) fall "
        f"after its end, the first at {later['first'][:16]}: their lead times cannot be "
        "scored yet (simulate more days, or `altaviz simulate --continue`)."
    )


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


WORKLIST = ("open", "acknowledged", "snoozed")
PAST_WARNING = ("warning", "critical", "failed", "offline")


def evaluate_worklist(
    truth: Truth, cases: pl.DataFrame, alerts: pl.DataFrame, stale_after_hours: float = 2.0
) -> dict[str, Any]:
    """The worklist at the end of the data, scored against the truth.

    precision: units on the list that truly are degrading or down; recall: units past their
    warning stage (warning, critical, failed, tripped) that are on the list; stale: units
    back from a repair at least ``stale_after_hours`` before the end, not degrading again,
    still on the list; and open cases per unit on the list. With cases people closed, each
    alert type's precision from their reason codes too (a false alarm counts against it).
    """
    from altaviz.fleet.truth import severity_at

    end = truth.end
    listed = cases.filter(pl.col("state").is_in(WORKLIST))
    on_list = set(listed["compressor_id"].to_list())
    now = severity_at(truth.failures, end)
    sick = set(now["compressor_id"].to_list())
    past_warning = set(now.filter(pl.col("severity").is_in(PAST_WARNING))["compressor_id"])
    back = truth.failures.filter(
        pl.col("back_online_time") <= end - timedelta(hours=stale_after_hours)
    )
    repaired = set(back["compressor_id"].to_list()) - sick
    open_alerts = alerts.filter(pl.col("state") == "open")
    result: dict[str, Any] = {
        "units_on_list": len(on_list),
        "open_cases": listed.height,
        "open_alerts": open_alerts.height,
        "precision": _share(len(on_list & sick), len(on_list)),
        "recall_past_warning": _share(len(past_warning & on_list), len(past_warning)),
        "units_past_warning": len(past_warning),
        "stale_units": len(on_list & repaired),
        "repaired_units": len(repaired),
        "open_cases_per_unit": round(listed.height / len(on_list), 3) if on_list else None,
        "open_alerts_per_unit": round(open_alerts.height / len(on_list), 3) if on_list else None,
        "max_open_alerts_per_pair": int(
            open_alerts.group_by("compressor_id", "alert_type", "sensor").len()["len"].max() or 0
        ),
    }
    closed = cases.filter(pl.col("state") == "closed")
    if closed.height:
        by_type = (
            closed.with_columns(pl.col("alert_types").str.split(","))
            .explode("alert_types")
            .group_by("alert_types")
            .agg((pl.col("closed_reason") != "false_alarm").mean().alias("precision"))
        )
        result["precision_by_close_reason"] = {
            r["alert_types"]: round(r["precision"], 4) for r in by_type.iter_rows(named=True)
        }
    return result
