"""Emissions against hand-worked examples: the spec's Subpart W method, a worn packing's
extra vent, standby hours, the OOOOb flag and the facility totals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import narwhals as nw
import polars as pl
import pytest

from altaviz.config import load_config
from altaviz.ml.emissions import emissions_summary, hourly_emissions, over_limit, packing_leak

HOUR = datetime(2026, 1, 1, tzinfo=UTC)
UNIT = "COMP-0001"
CONFIG = load_config().models
FACTORS = CONFIG.emissions


def frames(operating: float = 1.0, standby: float = 0.0, checked: datetime | None = HOUR):
    """One hour of one 4-cylinder unit at compression ratio 3 (50 psia in, 150 psia out)."""
    key = {"compressor_id": [UNIT], "hour": [HOUR]}
    hourly = pl.DataFrame(
        {
            **key,
            "horsepower_mean": [1000.0],
            "suction_pressure_psi_mean": [35.3],
            "discharge_pressure_psi_mean": [135.3],
            "reading_count": [round(12 * operating)],
        }
    )
    modes = pl.DataFrame(
        {
            **key,
            "date": [date(2026, 1, 1)],
            "operating_hours": [operating],
            "standby_hours": [standby],
            "readings": [12],
            "standby_compression_ratio": [1.5 if standby else None],
        }
    )
    units = pl.DataFrame(
        {"compressor_id": [UNIT], "station_id": ["ST-1"], "basin": ["Permian"], "cylinders": [4]}
    )
    checks = pl.DataFrame(
        {**key, "checked_at": [checked]},
        schema={
            "compressor_id": pl.String,
            "hour": pl.Datetime("us", "UTC"),
            "checked_at": pl.Datetime("us", "UTC"),
        },
    )
    leak = pl.DataFrame(
        {**key, "packing_leak_scfm_per_cylinder": [0.0], "packing_leak_sd_scfm": [0.0]}
    )
    return [nw.from_native(f) for f in (hourly, modes, units, checks, leak)]


def estimate(**kwargs) -> dict:
    return hourly_emissions(*frames(**kwargs), FACTORS).rows(named=True)[0]


def test_one_full_hour_matches_the_hand_worked_figures():
    row = estimate(checked=HOUR - timedelta(hours=100))
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
    assert row["hours_since_packing_check"] == pytest.approx(100.0)
    assert row["packing_check_due"] is False


def test_standby_vents_at_its_settle_out_ratio_and_burns_no_fuel():
    row = estimate(operating=0.5, standby=0.5)
    # Half an hour at ratio 3 (4.005 scf) and half in standby at ratio 1.5 (2.0025 scf).
    assert row["packing_leak_scf"] == pytest.approx(8.01 * 0.5 + 8.01 / 2 * 0.5)
    assert row["fuel_mmbtu"] == pytest.approx(3.5)
    assert row["operating_hours"] == 0.5 and row["standby_hours"] == 0.5


def test_a_unit_never_measured_is_due():
    assert estimate(checked=None)["packing_check_due"] is True
    assert estimate(checked=HOUR - timedelta(hours=8760))["packing_check_due"] is True


def hours_of(suction: list[float], discharge: list[float]) -> nw.DataFrame:
    n = len(suction)
    return nw.from_native(
        pl.DataFrame(
            {
                "compressor_id": [UNIT] * n,
                "hour": [HOUR + timedelta(hours=h) for h in range(n)],
                "suction_pressure_psi_mean": suction,
                "discharge_pressure_psi_mean": discharge,
                "discharge_pressure_psi_std": [30.0] * n,
                "reading_count": [12] * n,
            }
        )
    )


BANDS = nw.from_native(
    pl.DataFrame(
        {
            "compressor_id": [UNIT, UNIT],
            "sensor": ["suction_pressure_psi", "discharge_pressure_psi"],
            "p50": [60.0, 1000.0],
        }
    )
)


def test_a_leak_signature_adds_vent_flow_for_every_psi_lost():
    # Suction up 10 %, discharge down 60 psi: 60 x 0.05 = 3 scf/min per cylinder.
    leak = packing_leak(hours_of([66.0] * 6, [940.0] * 6), BANDS, FACTORS, CONFIG.diagnostics)
    last = leak.rows(named=True)[-1]
    assert last["packing_leak_scfm_per_cylinder"] == pytest.approx(3.0)
    assert 0 < last["packing_leak_sd_scfm"] < 1.0


def test_pressure_lost_without_suction_rising_is_not_a_packing_leak():
    # Worn rings or a failing valve lose discharge pressure too; suction does not rise.
    leak = packing_leak(hours_of([60.0] * 6, [900.0] * 6), BANDS, FACTORS, CONFIG.diagnostics)
    assert leak["packing_leak_scfm_per_cylinder"].to_list() == [0.0] * 6


def test_a_unit_is_flagged_only_after_a_whole_day_over_the_limit():
    hours = 30
    vents = nw.from_native(
        pl.DataFrame(
            {
                "compressor_id": [UNIT] * hours,
                "hour": [HOUR + timedelta(hours=h) for h in range(hours)],
                "packing_vent_scfm_per_cylinder": [1.0] * 3 + [2.5] * (hours - 3),
            }
        )
    )
    flags = over_limit(vents, FACTORS)["packing_over_limit"].to_list()
    assert flags == [False] * 26 + [True] * 4  # hours 3..26 are the first 24 above 2


def test_basin_totals_annualise_and_flag_the_reporting_threshold():
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
    basin = emissions_summary(nw.from_native(rows), "basin", FACTORS).rows(named=True)[0]
    assert basin["units"] == 2
    assert basin["co2e_t"] == pytest.approx(6.0)
    assert basin["annualised_co2e_t"] == pytest.approx(6.0 * 8760 / 2)
    assert basin["over_reporting_threshold"] is True  # 26,280 t >= 25,000 t: the facility reports
    assert basin["packing_over_limit"] is True
    for level in ("station", "unit"):  # a threshold per facility (basin) only
        assert (
            "over_reporting_threshold"
            not in emissions_summary(nw.from_native(rows), level, FACTORS).columns
        )
