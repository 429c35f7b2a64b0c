"""Emissions and operating modes scored against the simulator's truth (``truth/emissions``):

- OOOOb flags: of the units whose true vent flow stayed above the limit for at least a day,
  the share flagged (recall); of the flagged units, the share that truly did (precision);
- methane: the fleet's estimate against the truth, and the units that leaked (true vent flow
  above ``leak_scfm`` per cylinder at some hour), together and one by one;
- operating modes: per unit, each mode's estimated hours against the truth.

Only the hours the estimates cover are compared (the data's first and last hours may be
partial).
"""

from __future__ import annotations

from typing import Any

import polars as pl

MODES = ("operating", "standby", "depressurised")


def score_emissions(
    truth: pl.DataFrame,
    estimates: pl.DataFrame,
    mode_days: pl.DataFrame,
    limit_scfm: float,
    over_hours: int = 24,
    leak_scfm: float = 0.5,
) -> dict[str, Any]:
    """The scores as plain data. ``truth``: ``truth/emissions`` rows; ``estimates``:
    ``emissions_estimates``; ``mode_days``: ``operating_mode_days``."""
    first, last = estimates["hour"].min(), estimates["hour"].max()
    truth = truth.filter(pl.col("hour").is_between(first, last))
    exceeded = set(
        truth.filter(pl.col("vent_scfm_per_cylinder") > limit_scfm)
        .group_by("compressor_id")
        .len()
        .filter(pl.col("len") >= over_hours)["compressor_id"]
        .to_list()
    )
    flagged = set(estimates.filter(pl.col("packing_over_limit"))["compressor_id"].unique())
    caught = exceeded & flagged

    true_ch4, est_ch4 = float(truth["ch4_lb"].sum()), float(estimates["ch4_lb"].sum())
    leaking = truth.filter(pl.col("vent_scfm_per_cylinder") > leak_scfm)["compressor_id"].unique()
    per_unit = (
        truth.filter(pl.col("compressor_id").is_in(leaking.implode()))
        .group_by("compressor_id")
        .agg(pl.col("ch4_lb").sum().alias("true"))
        .join(
            estimates.group_by("compressor_id").agg(pl.col("ch4_lb").sum().alias("est")),
            on="compressor_id",
            how="left",
        )
        .with_columns(((pl.col("est").fill_null(0) - pl.col("true")) / pl.col("true")).alias("err"))
    )
    return {
        "hours": [str(first), str(last)],
        "oooob": {
            "units_exceeding": len(exceeded),
            "units_flagged": len(flagged),
            "caught": len(caught),
            "recall": _share(len(caught), len(exceeded)),
            "precision": _share(len(caught), len(flagged)),
        },
        "methane": {
            "fleet_true_t": round(true_ch4 / 2204.62, 3),
            "fleet_estimated_t": round(est_ch4 / 2204.62, 3),
            "fleet_error": _round((est_ch4 - true_ch4) / true_ch4 if true_ch4 else None),
            "leaking_units": per_unit.height,
            "leaking_error": _round(
                (per_unit["est"].sum() - per_unit["true"].sum()) / per_unit["true"].sum()
                if per_unit.height
                else None
            ),
            "leaking_units_within_25pct": _share(
                per_unit.filter(pl.col("err").abs() <= 0.25).height, per_unit.height
            ),
            "leaking_unit_error_median": _round(per_unit["err"].median()),
            # The leaks OOOOb is about: units over the limit for a day.
            "exceeding_units_within_25pct": _share(
                per_unit.filter(
                    pl.col("compressor_id").is_in(sorted(exceeded)) & (pl.col("err").abs() <= 0.25)
                ).height,
                len(exceeded),
            ),
        },
        "modes": _modes(truth, mode_days, first, last),
    }


def _modes(truth: pl.DataFrame, mode_days: pl.DataFrame, first: Any, last: Any) -> dict[str, Any]:
    hours = [f"{m}_hours" for m in MODES]
    true = truth.group_by("compressor_id").agg(*(pl.col(h).sum() for h in hours))
    est = (
        mode_days.filter(pl.col("date").is_between(first.date(), last.date()))
        .group_by("compressor_id")
        .agg(*(pl.col(h).sum() for h in hours))
    )
    joined = true.join(est, on="compressor_id", suffix="_est")
    total = joined.select(pl.sum_horizontal(*hours)).to_series()
    result: dict[str, Any] = {"units": joined.height}
    for m, h in zip(MODES, hours, strict=True):
        error = (joined[f"{h}_est"] - joined[h]).abs()
        result[m] = {
            "true_h": round(float(joined[h].sum()), 1),
            "estimated_h": round(float(joined[f"{h}_est"].sum()), 1),
            "max_abs_error_h": _round(error.max()),
            # The error as a share of the unit's hours in the period.
            "max_error_share": _round((error / total).max()),
            "units_within_2pct": _share(int((error <= 0.02 * total).sum()), joined.height),
            "units_within_2pct_of_truth": _share(
                int((error <= 0.02 * joined[h].clip(lower_bound=1.0)).sum()), joined.height
            ),
        }
    return result


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)
