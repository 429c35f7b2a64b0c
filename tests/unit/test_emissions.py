"""Emissions against hand-worked examples of the spec's Subpart W method."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import narwhals as nw
import polars as pl
import pytest

from altaviz.config import load_config
from altaviz.ml.emissions import emissions_summary, hourly_emissions

HOUR = datetime(2026, 1, 1, tzinfo=UTC)


def frames(readings: int = 12, checked: datetime | None = HOUR - timedelta(hours=100)):
    hourly = nw.from_native(
        pl.DataFrame(
            {
                "compressor_id": ["COMP-0001"],
                "hour": [HOUR],
                "horsepower_mean": [1000.0],
                "suction_pressure_psi_mean": [35.3],  # 50 psia
                "discharge_pressure_psi_mean": [135.3],  # 150 psia: compression ratio 3
                "reading_count": [readings],
                "date": [date(2026, 1, 1)],
            }
        )
    )
    units = nw.from_native(
        pl.DataFrame(
            {
                "compressor_id": ["COMP-0001"],
                "station_id": ["ST-1"],
                "basin": ["Permian"],
                "cylinders": [4],
            }
        )
    )
    checks = nw.from_native(
        pl.DataFrame(
            {"compressor_id": ["COMP-0001"], "hour": [HOUR], "checked_at": [checked]},
            schema={
                "compressor_id": pl.String,
                "hour": pl.Datetime("us", "UTC"),
                "checked_at": pl.Datetime("us", "UTC"),
            },
        )
    )
    return hourly, units, checks


def test_one_full_hour_matches_the_hand_worked_figures():
    factors = load_config().models.emissions
    row = hourly_emissions(*frames(), factors, readings_per_hour=12).rows(named=True)[0]
    # fuel 1000 hp x 0.007 = 7 MMBtu; CH4 7 x 0.0023 = 0.0161 lb; CO2 7 x 117 = 819 lb
    assert row["fuel_mmbtu"] == pytest.approx(7.0)
    assert row["ch4_combustion_lb"] == pytest.approx(0.0161)
    assert row["co2_combustion_lb"] == pytest.approx(819.0)
    # packing: 8.01 scf/h at ratio 3 (the reference) -> 8.01 x 0.0423 x 0.93 = 0.315105 lb CH4
    assert row["compression_ratio"] == pytest.approx(3.0)
    assert row["packing_leak_scf"] == pytest.approx(8.01)
    assert row["ch4_packing_lb"] == pytest.approx(0.3151053)
    # CO2e: ((0.0161 + 0.315105) x 28 + 819) / 2204.62 t
    assert row["co2e_t"] == pytest.approx((0.3312053 * 28 + 819) / 2204.62)
    # OOOOb: 8.01 scf/h / 60 / 4 cylinders = 0.0334 scf/min per cylinder, under 2
    assert row["packing_vent_scfm_per_cylinder"] == pytest.approx(8.01 / 60 / 4)
    assert row["packing_over_limit"] is False
    assert row["hours_since_packing_check"] == pytest.approx(100.0)
    assert row["packing_check_due"] is False


def test_half_an_hour_running_emits_half_and_an_unmeasured_unit_is_due():
    factors = load_config().models.emissions
    full = hourly_emissions(*frames(), factors, 12).rows(named=True)[0]
    half = hourly_emissions(*frames(readings=6, checked=None), factors, 12).rows(named=True)[0]
    assert half["co2e_t"] == pytest.approx(full["co2e_t"] / 2)
    assert half["packing_vent_scfm_per_cylinder"] == pytest.approx(
        full["packing_vent_scfm_per_cylinder"]
    )  # the vent's rate while running does not halve
    assert half["packing_check_due"] is True


def test_a_check_older_than_8760_operating_hours_is_due():
    factors = load_config().models.emissions
    old = HOUR - timedelta(hours=8760)
    row = hourly_emissions(*frames(checked=old), factors, 12).rows(named=True)[0]
    assert row["packing_check_due"] is True


def test_station_totals_annualise_and_flag_the_reporting_threshold():
    factors = load_config().models.emissions
    rows = pl.DataFrame(
        {
            "compressor_id": ["A", "B", "A", "B"],
            "station_id": ["S1", "S1", "S1", "S1"],
            "basin": ["P"] * 4,
            "hour": [HOUR, HOUR, HOUR + timedelta(hours=1), HOUR + timedelta(hours=1)],
            "ch4_lb": [10.0] * 4,
            "co2_combustion_lb": [100.0] * 4,
            "co2e_t": [2.0, 1.0, 2.0, 1.0],
            "packing_over_limit": [False, False, False, True],
            "packing_check_due": [False] * 4,
        }
    )
    station = emissions_summary(nw.from_native(rows), "station", factors).rows(named=True)[0]
    assert station["units"] == 2
    assert station["co2e_t"] == pytest.approx(6.0)
    assert station["annualised_co2e_t"] == pytest.approx(6.0 * 8760 / 2)
    assert station["over_reporting_threshold"] is True  # 26,280 t >= 25,000 t
    assert station["packing_over_limit"] is True
    unit = emissions_summary(nw.from_native(rows), "unit", factors)
    assert unit.get_column("co2e_t").to_list() == [4.0, 2.0]
    assert "over_reporting_threshold" not in unit.columns  # a threshold per facility only
