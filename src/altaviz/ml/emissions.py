"""Methane and CO2e per unit and hour (the spec's EPA Subpart W method), NSPS OOOOb rod-packing
tracking, and totals per unit, station (facility) and basin.

Per hour of operation (the share of the hour's readings that arrived):

- fuel (MMBtu) = horsepower x ``fuel_mmbtu_per_hp_hour``;
- combustion CH4 and CO2 (lb) = fuel x their factors;
- rod-packing leak (scf) = ``packing_leak_scf_per_hour`` x compression ratio / reference ratio,
  compression ratio = (discharge + 14.7) / (suction + 14.7) in absolute pressure;
- packing CH4 (lb) = leak x gas density x methane fraction;
- CO2e (t) = (CH4 x GWP + CO2) / 2,204.62.
"""

from __future__ import annotations

from typing import Any, Literal

import narwhals as nw

from altaviz.config.schema import EmissionFactors

LB_PER_TONNE = 2204.62
ATMOSPHERE_PSI = 14.7
HOURS_PER_YEAR = 8760.0

Level = Literal["unit", "station", "basin"]


def hourly_emissions(
    hourly: nw.DataFrame[Any],
    units: nw.DataFrame[Any],
    last_packing_check: nw.DataFrame[Any],
    factors: EmissionFactors,
    readings_per_hour: int,
) -> nw.DataFrame[Any]:
    """``emissions_estimates`` rows from gold hourly rows.

    ``units``: compressor_id, station_id, basin, cylinders. ``last_packing_check``:
    compressor_id, hour, checked_at - the latest packing measurement (service or repair)
    before each hour, null if none is on record.

    >>> import polars as pl
    >>> from datetime import datetime, date
    >>> from altaviz.config import load_config
    >>> hourly = nw.from_native(pl.DataFrame({"compressor_id": ["C"], "hour": [datetime(2026,
    ...     1, 1)], "horsepower_mean": [1000.0], "suction_pressure_psi_mean": [35.3],
    ...     "discharge_pressure_psi_mean": [135.3], "reading_count": [12],
    ...     "date": [date(2026, 1, 1)]}))
    >>> units = nw.from_native(pl.DataFrame({"compressor_id": ["C"], "station_id": ["S"],
    ...     "basin": ["B"], "cylinders": [4]}))
    >>> checks = hourly.select("compressor_id", "hour", nw.col("hour").alias("checked_at"))
    >>> row = hourly_emissions(hourly, units, checks, load_config().models.emissions, 12)
    >>> round(row.item(0, "fuel_mmbtu"), 3), round(row.item(0, "compression_ratio"), 3)
    (7.0, 3.0)
    >>> round(row.item(0, "packing_leak_scf"), 2)
    8.01
    """
    f = factors
    running = (nw.col("reading_count") / readings_per_hour).clip(0.0, 1.0)
    ratio = (nw.col("discharge_pressure_psi_mean") + ATMOSPHERE_PSI) / (
        nw.col("suction_pressure_psi_mean") + ATMOSPHERE_PSI
    )
    leak_rate = f.packing_leak_scf_per_hour * ratio / f.reference_compression_ratio
    fuel = nw.col("horsepower_mean") * f.fuel_mmbtu_per_hp_hour * running
    ch4_combustion = nw.col("fuel_mmbtu") * f.combustion_ch4_lb_per_mmbtu
    co2 = nw.col("fuel_mmbtu") * f.combustion_co2_lb_per_mmbtu
    ch4_packing = nw.col("packing_leak_scf") * f.gas_density_lb_per_scf * f.methane_fraction
    since_check = (nw.col("hour") - nw.col("checked_at")).dt.total_seconds() / 3600.0
    return (
        hourly.select(
            "compressor_id",
            "hour",
            "date",
            "reading_count",
            ratio.alias("compression_ratio"),
            fuel.alias("fuel_mmbtu"),
            (leak_rate * running).alias("packing_leak_scf"),
            running.alias("_running"),
        )
        .join(
            units.select("compressor_id", "station_id", "basin", "cylinders"),
            on="compressor_id",
            how="left",
        )
        .join(
            last_packing_check.select("compressor_id", "hour", "checked_at"),
            on=["compressor_id", "hour"],
            how="left",
        )
        .with_columns(
            ch4_combustion.alias("ch4_combustion_lb"),
            co2.alias("co2_combustion_lb"),
            ch4_packing.alias("ch4_packing_lb"),
            # The vent's flow while running, per cylinder, as OOOOb measures it.
            nw.when((nw.col("cylinders") > 0) & (nw.col("_running") > 0))
            .then(nw.col("packing_leak_scf") / nw.col("_running") / 60.0 / nw.col("cylinders"))
            .alias("packing_vent_scfm_per_cylinder"),
            since_check.alias("hours_since_packing_check"),
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
            (nw.col("packing_vent_scfm_per_cylinder") > f.packing_vent_limit_scfm_per_cylinder)
            .fill_null(False)
            .alias("packing_over_limit"),
            (
                nw.col("hours_since_packing_check").is_null()
                | (nw.col("hours_since_packing_check") >= f.packing_measurement_interval_hours)
            ).alias("packing_check_due"),
        )
        .drop("_running", "checked_at", "cylinders")
        .sort("compressor_id", "hour")
    )


def emissions_summary(
    emissions: nw.DataFrame[Any], level: Level, factors: EmissionFactors
) -> nw.DataFrame[Any]:
    """Totals per unit, station (the reporting facility) or basin over the rows given:
    CH4 and CO2e in tonnes, hours covered, the annualised CO2e, and - per station - whether
    the annualised total reaches the Subpart W reporting threshold."""
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
    if level == "station":
        totals = totals.with_columns(
            (nw.col("annualised_co2e_t") >= factors.reporting_threshold_t_co2e).alias(
                "over_reporting_threshold"
            )
        )
    return totals.sort(key)
