"""The rod-packing programme against hand-worked cases: rules per unit, hours since the last
record, due dates, exceedances and the alerts that open compliance cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from altaviz.config.schema import InstallWindow
from altaviz.transforms.packing import (
    ESTIMATE,
    EXCEEDANCE,
    compliance_alerts,
    programme_status,
    unit_rules,
)

START = date(2026, 3, 1)
AS_OF = datetime(2026, 3, 11, tzinfo=UTC)  # ten days of data, 20 h a day running
LIMIT = 2.0


@pytest.fixture
def programme(config):
    return config.models.packing.model_copy(
        update={
            "by_install_date": [
                InstallWindow(
                    rule="ooooa",
                    installed_from=date(2015, 9, 18),
                    installed_until=date(2022, 12, 6),
                )
            ],
            "units": {"NAMED": "oooob"},
        }
    )


def units() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "compressor_id": ["B-SOON", "B-LATE", "B-OVER", "A-OLD", "NAMED"],
            "station_id": ["S"] * 5,
            "basin": ["P"] * 5,
            "region": ["R"] * 5,
            "install_date": [
                date(2024, 1, 1),
                date(2024, 1, 1),
                date(2024, 1, 1),
                date(2018, 1, 1),
                date(2018, 1, 1),
            ],
            "operating_hours": [20_000.0, 20_000.0, 20_000.0, 50_000.0, 50_000.0],
        }
    )


def mode_days() -> pl.DataFrame:
    days = [START + timedelta(days=k) for k in range(10)]
    ids = units()["compressor_id"].to_list()
    return pl.DataFrame(
        {
            "compressor_id": [u for u in ids for _ in days],
            "date": days * len(ids),
            "operating_hours": [20.0] * (len(days) * len(ids)),
        }
    )


def record(unit: str, at: datetime, meter: float | None, scfm: float, kind="measurement"):
    return {
        "measurement_id": f"PK-{unit}-{at:%Y%m%d%H%M}-{kind[0].upper()}",
        "compressor_id": unit,
        "measured_at": at,
        "cylinder": 1,
        "vent_scfm": scfm,
        "kind": kind,
        "unit_operating_hours": meter,
        "recorded_by": "tester",
    }


def records() -> pl.DataFrame:
    before = datetime(2025, 6, 1, tzinfo=UTC)
    rows = [
        record("B-SOON", before, 11_500.0, 0.4),  # 8,500 h since at the start: 60 h left now
        record("B-LATE", before, 11_000.0, 0.4),  # 9,000 h since at the start: overdue
        record("B-OVER", datetime(2026, 3, 5, 12, tzinfo=UTC), None, 3.1),  # in the data
        record("A-OLD", datetime(2023, 1, 2, tzinfo=UTC), 40_000.0, 0.2, "replacement"),
        record("NAMED", before, 45_000.0, 0.3),
    ]
    return pl.DataFrame(rows).with_columns(
        pl.col("measured_at").dt.cast_time_unit("us"),
        pl.col("unit_operating_hours").cast(pl.Float64),
    )


@pytest.fixture
def status(programme) -> dict[str, dict]:
    frame = programme_status(units(), records(), mode_days(), programme, LIMIT, 8760, AS_OF)
    return {r["compressor_id"]: r for r in frame.iter_rows(named=True)}


def test_each_unit_is_under_its_install_window_or_its_own_entry(programme):
    rules = unit_rules(units(), programme)
    assert dict(rules.select("compressor_id", "rule").iter_rows()) == {
        "B-SOON": "oooob",
        "B-LATE": "oooob",
        "B-OVER": "oooob",
        "A-OLD": "ooooa",
        "NAMED": "oooob",
    }


def test_hours_since_a_measurement_count_the_meter_and_the_telemetry(status):
    # 8,500 h before the data, plus 10 days x 20 h in it.
    assert status["B-SOON"]["hours_since_measurement"] == pytest.approx(8_700.0)
    assert status["B-SOON"]["hours_remaining"] == pytest.approx(60.0)
    assert not status["B-SOON"]["overdue"]
    # 60 h left at 20 h a day (5/6 of the hours): due in 72 calendar hours.
    assert status["B-SOON"]["due_at"] == AS_OF + timedelta(hours=72)


def test_hours_run_out_before_the_data_make_it_overdue_from_its_first_day(status):
    assert status["B-LATE"]["overdue"]
    assert status["B-LATE"]["due_at"] == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_measurement_over_the_limit_awaits_repair_with_its_deadline(status, programme):
    over = status["B-OVER"]
    assert over["exceedance_open"]
    assert over["repair_due"] == date(2026, 3, 5) + timedelta(days=programme.repair_days)
    # Measured in the data on day 5: the days after it ran 20 h each (5 days and a half).
    assert over["hours_since_measurement"] == pytest.approx(20.0 * 6)


def test_ooooa_packing_is_due_at_36_months_before_26000_hours(status):
    old = status["A-OLD"]
    assert old["rule"] == "ooooa" and old["next_action"] == "packing replacement"
    assert old["hours_since_replacement"] == pytest.approx(10_200.0)
    assert old["next_due"] == date(2026, 1, 2)  # 36 months after 2023-01-02
    assert old["overdue"]


def test_an_exceedance_is_a_critical_alert_until_the_packing_is_replaced(programme):
    replaced = record("B-OVER", datetime(2026, 3, 8, tzinfo=UTC), None, 0.3, "replacement")
    history = pl.concat([records(), pl.DataFrame([replaced]).cast(records().schema)])
    no_flags = pl.DataFrame(
        schema={
            "compressor_id": pl.String,
            "hour": pl.Datetime("us", "UTC"),
            "packing_over_limit": pl.Boolean,
            "packing_vent_scfm_per_cylinder": pl.Float64,
        }
    )
    repairs = pl.DataFrame(
        schema={"compressor_id": pl.String, "repaired_at": pl.Datetime("us", "UTC")}
    )
    alerts = compliance_alerts(units(), history, no_flags, repairs, programme, LIMIT)
    assert alerts.height == 1
    alert = alerts.row(0, named=True)
    assert alert["alert_type"] == EXCEEDANCE and alert["severity"] == "critical"
    assert alert["resolved_at"] == datetime(2026, 3, 8, tzinfo=UTC)
    assert "by 2026-04-04" in alert["message"]


def test_a_day_of_estimated_vent_over_the_limit_is_one_warning(programme):
    hours = [datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=h) for h in range(40)]
    flagged = [False] * 10 + [True] * 20 + [False] * 10
    flags = pl.DataFrame(
        {
            "compressor_id": ["B-SOON"] * 40,
            "hour": hours,
            "packing_over_limit": flagged,
            "packing_vent_scfm_per_cylinder": [2.5] * 40,
        }
    )
    repairs = pl.DataFrame(
        schema={"compressor_id": pl.String, "repaired_at": pl.Datetime("us", "UTC")}
    )
    alerts = compliance_alerts(units(), records().head(0), flags, repairs, programme, LIMIT)
    assert alerts["alert_type"].to_list() == [ESTIMATE]
    assert alerts.item(0, "opened_at") == hours[10]
    assert alerts.item(0, "resolved_at") == hours[30]
