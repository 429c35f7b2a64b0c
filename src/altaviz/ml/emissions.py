"""Methane and CO2e per unit and hour (the spec's EPA Subpart W method, made aware of what the
pipeline sees), NSPS OOOOb rod-packing tracking, and totals per unit, station and basin.

Per unit and hour, from the hours it spent operating and in pressurised standby:

- fuel (MMBtu) = horsepower x ``fuel_mmbtu_per_hp_hour`` x operating hours;
- combustion CH4 and CO2 (lb) = fuel x their factors;
- the packing's healthy vent (scf/h per unit) = ``packing_leak_scf_per_hour`` x compression
  ratio / reference ratio, ratio = (discharge + 14.7) / (suction + 14.7) absolute, both while
  operating and (at the settle-out ratio) in standby;
- a worn packing's extra vent (scf/min per cylinder) = ``packing_leak_scfm_per_psi`` x the
  discharge pressure lost below the unit's healthy median, counted only while the
  packing-leak signature holds over the last ``packing_leak_window_hours`` (suction up and
  discharge down by the diagnostician's margins): a failing valve or worn rings lose
  pressure too, but do not raise suction;
- packing CH4 (lb) = vented scf x gas density x methane fraction;
- CO2e (t) = (CH4 x GWP + CO2) / 2,204.62.

A unit is over the OOOOb limit when its estimated vent flow per cylinder has stayed above
``packing_vent_limit_scfm_per_cylinder`` for ``packing_over_limit_hours`` in a row.
"""

from __future__ import annotations

from typing import Any, Literal

import narwhals as nw

from altaviz.config.schema import DiagnosticRules, EmissionFactors
from altaviz.core.sensors import compression_ratio

LB_PER_TONNE = 2204.62
HOURS_PER_YEAR = 8760.0

Level = Literal["unit", "station", "basin"]


def packing_leak(
    hourly: nw.DataFrame[Any],
    baselines: nw.DataFrame[Any],
    factors: EmissionFactors,
    signature: DiagnosticRules,
) -> nw.DataFrame[Any]:
    """Per unit and hour of ``hourly`` (gold rows, sorted by unit and hour, with the history
    the windows need): ``packing_leak_scfm_per_cylinder`` (the worn packing's extra vent flow,
    0 when the signature does not hold) and ``packing_leak_sd_scfm`` (its standard deviation).

    ``baselines``: compressor_id, sensor, p50 (the bands valid on the scored day).

    >>> import polars as pl
    >>> from datetime import datetime, timedelta
    >>> from altaviz.config import load_config
    >>> cfg = load_config().models
    >>> hours = [datetime(2026, 1, 1) + timedelta(hours=h) for h in range(6)]
    >>> hourly = nw.from_native(pl.DataFrame({"compressor_id": ["C"] * 6, "hour": hours,
    ...     "suction_pressure_psi_mean": [66.0] * 6, "discharge_pressure_psi_mean": [940.0] * 6,
    ...     "discharge_pressure_psi_std": [30.0] * 6, "reading_count": [12] * 6}))
    >>> bands = nw.from_native(pl.DataFrame({"compressor_id": ["C", "C"],
    ...     "sensor": ["suction_pressure_psi", "discharge_pressure_psi"], "p50": [60.0, 1000.0]}))
    >>> leak = packing_leak(hourly, bands, cfg.emissions, cfg.diagnostics)
    >>> round(leak["packing_leak_scfm_per_cylinder"][-1], 2)  # 60 psi lost x 0.05
    3.0
    """
    window = factors.packing_leak_window_hours
    median = {
        s: baselines.filter(nw.col("sensor") == s).select(
            "compressor_id", nw.col("p50").alias(f"_p50_{s}")
        )
        for s in ("suction_pressure_psi", "discharge_pressure_psi")
    }

    def trailing(column: str) -> nw.Expr:
        return (
            nw.col(column)
            .rolling_mean(window, min_samples=max(1, window // 2))
            .over("compressor_id", order_by="hour")
        )

    lost = nw.col("_p50_discharge_pressure_psi") - nw.col("_discharge")
    holds = (
        (
            nw.col("_suction") / nw.col("_p50_suction_pressure_psi") - 1.0
            >= signature.packing_suction_rise_above
        )
        & (
            nw.col("_discharge") / nw.col("_p50_discharge_pressure_psi") - 1.0
            <= signature.packing_discharge_fall_below
        )
    ).fill_null(False)
    leak = nw.when(holds).then(lost * factors.packing_leak_scfm_per_psi).otherwise(0.0)
    # The window's mean pressure is known to its readings' spread over their square root.
    spread = nw.col("_std") / (nw.col("_n") * window).sqrt()
    sd = (
        (nw.col("packing_leak_scfm_per_cylinder") * factors.packing_leak_relative_sd) ** 2
        + (spread * factors.packing_leak_scfm_per_psi) ** 2
    ).sqrt()
    return (
        hourly.select(
            "compressor_id",
            "hour",
            trailing("suction_pressure_psi_mean").alias("_suction"),
            trailing("discharge_pressure_psi_mean").alias("_discharge"),
            trailing("discharge_pressure_psi_std").alias("_std"),
            trailing("reading_count").alias("_n"),
        )
        .join(median["suction_pressure_psi"], on="compressor_id", how="left")
        .join(median["discharge_pressure_psi"], on="compressor_id", how="left")
        .with_columns(leak.clip(lower_bound=0.0).alias("packing_leak_scfm_per_cylinder"))
        .with_columns(
            nw.when(nw.col("packing_leak_scfm_per_cylinder") > 0)
            .then(sd)
            .otherwise(0.0)
            .fill_null(0.0)
            .alias("packing_leak_sd_scfm")
        )
        .select("compressor_id", "hour", "packing_leak_scfm_per_cylinder", "packing_leak_sd_scfm")
    )


def hourly_emissions(
    hourly: nw.DataFrame[Any],
    modes: nw.DataFrame[Any],
    units: nw.DataFrame[Any],
    last_packing_check: nw.DataFrame[Any],
    leak: nw.DataFrame[Any],
    factors: EmissionFactors,
) -> nw.DataFrame[Any]:
    """``emissions_estimates`` rows (without the OOOOb flag: see :func:`over_limit`) for the
    unit-hours of ``modes`` with time operating or in standby.

    ``hourly``: gold hourly rows (readings under load); ``modes``: operating_modes rows;
    ``units``: compressor_id, station_id, basin, cylinders; ``last_packing_check``:
    compressor_id, hour, checked_at (the latest packing measurement before the hour);
    ``leak``: :func:`packing_leak` rows.

    >>> import polars as pl
    >>> from datetime import datetime, date
    >>> from altaviz.config import load_config
    >>> key = {"compressor_id": ["C"], "hour": [datetime(2026, 1, 1)]}
    >>> hourly = nw.from_native(pl.DataFrame({**key, "horsepower_mean": [1000.0],
    ...     "suction_pressure_psi_mean": [35.3], "discharge_pressure_psi_mean": [135.3],
    ...     "reading_count": [12]}))
    >>> modes = nw.from_native(pl.DataFrame({**key, "date": [date(2026, 1, 1)],
    ...     "operating_hours": [1.0], "standby_hours": [0.0], "readings": [12],
    ...     "standby_compression_ratio": [None]}))
    >>> units = nw.from_native(pl.DataFrame({"compressor_id": ["C"], "station_id": ["S"],
    ...     "basin": ["B"], "cylinders": [4]}))
    >>> checks = hourly.select("compressor_id", "hour", nw.col("hour").alias("checked_at"))
    >>> leak = hourly.select("compressor_id", "hour", packing_leak_scfm_per_cylinder=nw.lit(0.0),
    ...     packing_leak_sd_scfm=nw.lit(0.0))
    >>> row = hourly_emissions(hourly, modes, units, checks, leak, load_config().models.emissions)
    >>> round(row.item(0, "fuel_mmbtu"), 3), round(row.item(0, "compression_ratio"), 3)
    (7.0, 3.0)
    >>> round(row.item(0, "packing_leak_scf"), 2)
    8.01
    """
    f = factors
    operating, standby = nw.col("operating_hours"), nw.col("standby_hours")
    ratio = compression_ratio(
        nw.col("discharge_pressure_psi_mean"), nw.col("suction_pressure_psi_mean")
    )
    per_ratio = f.packing_leak_scf_per_hour / f.reference_compression_ratio
    healthy_running = (per_ratio * nw.col("compression_ratio")).fill_null(0.0)
    healthy_standby = (per_ratio * nw.col("standby_compression_ratio")).fill_null(0.0)
    worn = nw.col("packing_leak_scfm_per_cylinder") * 60.0 * nw.col("cylinders")
    vented = (healthy_running + worn) * operating + healthy_standby * standby
    per_cylinder = (
        nw.when(operating > 0)
        .then(
            healthy_running / 60.0 / nw.col("cylinders") + nw.col("packing_leak_scfm_per_cylinder")
        )
        .when(standby > 0)
        .then(healthy_standby / 60.0 / nw.col("cylinders"))
    )
    ch4_combustion = nw.col("fuel_mmbtu") * f.combustion_ch4_lb_per_mmbtu
    co2 = nw.col("fuel_mmbtu") * f.combustion_co2_lb_per_mmbtu
    ch4_packing = nw.col("packing_leak_scf") * f.gas_density_lb_per_scf * f.methane_fraction
    since_check = (nw.col("hour") - nw.col("checked_at")).dt.total_seconds() / 3600.0
    key = ["compressor_id", "hour"]
    return (
        modes.filter((operating > 0) | (standby > 0))
        .select(*key, "date", "operating_hours", "standby_hours", "standby_compression_ratio")
        .join(
            hourly.select(
                *key,
                "horsepower_mean",
                "reading_count",
                ratio.alias("compression_ratio"),
            ),
            on=key,
            how="left",
        )
        .join(leak, on=key, how="left")
        .join(
            units.select("compressor_id", "station_id", "basin", "cylinders"),
            on="compressor_id",
            how="left",
        )
        .join(last_packing_check.select(*key, "checked_at"), on=key, how="left")
        .with_columns(
            nw.col("reading_count").fill_null(0).cast(nw.Int32),
            nw.col("packing_leak_scfm_per_cylinder", "packing_leak_sd_scfm").fill_null(0.0),
            (nw.col("horsepower_mean").fill_null(0.0) * f.fuel_mmbtu_per_hp_hour * operating).alias(
                "fuel_mmbtu"
            ),
        )
        .with_columns(
            vented.alias("packing_leak_scf"),
            per_cylinder.alias("packing_vent_scfm_per_cylinder"),
            ch4_combustion.alias("ch4_combustion_lb"),
            co2.alias("co2_combustion_lb"),
        )
        .with_columns(
            ch4_packing.alias("ch4_packing_lb"), since_check.alias("hours_since_packing_check")
        )
        .with_columns(
            (nw.col("ch4_combustion_lb") + nw.col("ch4_packing_lb")).alias("ch4_lb"),
            (
                (
                    (nw.col("ch4_combustion_lb") + nw.col("ch4_packing_lb")) * f.gwp_ch4
                    + nw.col("co2_combustion_lb")
                )
                / LB_PER_TONNE
            ).alias("co2e_t"),
            (
                nw.col("hours_since_packing_check").is_null()
                | (nw.col("hours_since_packing_check") >= f.packing_measurement_interval_hours)
            ).alias("packing_check_due"),
            nw.col("packing_leak_sd_scfm").alias("packing_vent_uncertainty_scfm"),
        )
        .drop(
            "checked_at",
            "cylinders",
            "horsepower_mean",
            "standby_compression_ratio",
            "packing_leak_sd_scfm",
        )
        .sort("compressor_id", "hour")
    )


def over_limit(vents: nw.DataFrame[Any], factors: EmissionFactors) -> nw.DataFrame[Any]:
    """``vents`` (compressor_id, hour, packing_vent_scfm_per_cylinder, over the scored day and
    the hours before it) with ``packing_over_limit``: above the OOOOb limit for each of the
    unit's last ``packing_over_limit_hours`` hours with an estimate."""
    hours = factors.packing_over_limit_hours
    above = (
        (nw.col("packing_vent_scfm_per_cylinder") > factors.packing_vent_limit_scfm_per_cylinder)
        .fill_null(False)
        .cast(nw.Int32)
    )
    return (
        vents.with_columns(above.alias("_above"))
        .with_columns(
            (
                nw.col("_above")
                .rolling_sum(hours, min_samples=hours)
                .over("compressor_id", order_by="hour")
                >= hours
            )
            .fill_null(False)
            .alias("packing_over_limit")
        )
        .drop("_above")
    )


def emissions_summary(
    emissions: nw.DataFrame[Any], level: Level, factors: EmissionFactors
) -> nw.DataFrame[Any]:
    """Totals per unit, station or basin over the rows given: CH4 and CO2e in tonnes, hours
    covered, the annualised CO2e, and - per basin, Subpart W's gathering and boosting
    facility (40 CFR 98.238) - whether the annualised total reaches the reporting threshold."""
    key = {"unit": "compressor_id", "station": "station_id", "basin": "basin"}[level]
    span_hours = emissions.select(nw.col("hour").n_unique()).item()
    totals = (
        emissions.group_by(key)
        .agg(
            nw.col("compressor_id").n_unique().alias("units"),
            (nw.col("ch4_lb").sum() / LB_PER_TONNE).alias("ch4_t"),
            (nw.col("co2_combustion_lb").sum() / LB_PER_TONNE).alias("co2_t"),
            nw.col("co2e_t").sum().alias("co2e_t"),
            nw.col("packing_over_limit").any().alias("packing_over_limit"),
            nw.col("packing_check_due").any().alias("packing_check_due"),
        )
        .with_columns(
            nw.lit(span_hours).cast(nw.Int64).alias("hours"),
            (nw.col("co2e_t") * HOURS_PER_YEAR / max(span_hours, 1)).alias("annualised_co2e_t"),
        )
    )
    if level == "basin":
        totals = totals.with_columns(
            (nw.col("annualised_co2e_t") >= factors.reporting_threshold_t_co2e).alias(
                "over_reporting_threshold"
            )
        )
    return totals.sort(key)
