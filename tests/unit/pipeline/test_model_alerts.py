"""Model alerts judge each prediction once, in the epoch of the unit it describes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from altaviz.config import load_config
from altaviz.lake import catalog as lake
from altaviz.pipeline.unit_ml import JUDGED, ScoringFacts, _model_alerts

DAY = date(2026, 3, 2)


def predictions(hours: list[int]) -> pl.DataFrame:
    """COMP-1 failing by its RUL at each of ``hours`` of DAY: critical, 5 hours left."""
    at = [datetime(2026, 3, 2, h, tzinfo=UTC) for h in hours]
    n = len(at)
    return pl.DataFrame(
        {
            "compressor_id": ["COMP-1"] * n,
            "hour": at,
            "anomaly_score": [None] * n,
            "anomaly_level": [None] * n,
            "drift_hours_to_warning": [None] * n,
            "drift_hours_to_critical": [None] * n,
            "drift_level": [None] * n,
            "rul_hours": [5.0] * n,
            "rul_level": [2] * n,
        },
        schema={
            "compressor_id": pl.String,
            "hour": pl.Datetime("us", "UTC"),
            "anomaly_score": pl.Float64,
            "anomaly_level": pl.Int32,
            "drift_hours_to_warning": pl.Float64,
            "drift_hours_to_critical": pl.Float64,
            "drift_level": pl.Int32,
            "rul_hours": pl.Float64,
            "rul_level": pl.Int32,
        },
    )


@pytest.fixture
def facts() -> ScoringFacts:
    cfg = load_config()
    repaired = datetime(2026, 3, 2, 23, 12, tzinfo=UTC)  # within the day's last scored hour
    return ScoringFacts(
        days=(DAY,),
        emission_days=(DAY,),
        models=cfg.models,
        thresholds=cfg.thresholds,
        interval_minutes=5,
        champion=None,
        run_id="r",
        known=pl.DataFrame(),
        repairs=pl.DataFrame(
            {"compressor_id": ["COMP-1"], "repaired_at": [repaired]},
            schema={"compressor_id": pl.String, "repaired_at": pl.Datetime("us", "UTC")},
        ),
        checks=pl.DataFrame(),
    )


def alerts_of(facts: ScoringFacts, hours: list[int], before: list[int] = ()) -> pl.DataFrame:
    """The alerts of ``facts.days`` from COMP-1's predictions at ``hours`` of DAY (scored in
    the batch) and at ``before`` (of DAY, read back as the batch's previous predictions)."""
    import narwhals as nw

    units = pl.DataFrame(
        {"compressor_id": ["COMP-1"], "model": ["m"], "station_id": ["S"], "region": ["R"]}
    )
    carried = pl.from_arrow(lake.ALERT_HISTORY.schema.arrow().empty_table())
    inputs = {
        "units": nw.from_native(units),
        "carried": nw.from_native(carried),
        "previous": nw.from_native(predictions(list(before)).select(JUDGED)),
    }
    scored = nw.from_native(predictions(hours))
    return nw.to_native(_model_alerts(facts, nw.from_native(units), inputs, scored))


def test_a_failing_unit_alerts_before_its_repair_and_not_after_it(facts):
    alerts = alerts_of(facts, [3, 7, 11, 15, 19, 23])
    assert alerts.height == 1
    alert = alerts.row(0, named=True)
    assert alert["opened_at"] == datetime(2026, 3, 2, 4, tzinfo=UTC)
    assert alert["resolved_at"] == datetime(2026, 3, 2, 23, 12, tzinfo=UTC)  # the repair
    # The 23:00 prediction describes the unit before its 23:12 repair: judged at midnight,
    # by the next day, it opens nothing for the repaired unit.
    next_day = ScoringFacts(**{**facts.__dict__, "days": (DAY + timedelta(days=1),)})
    assert alerts_of(next_day, [], before=[23]).height == 0


def test_the_last_scored_hour_is_judged_at_midnight_by_the_next_day(facts):
    unrepaired = ScoringFacts(**{**facts.__dict__, "repairs": facts.repairs.clear()})
    # Judged at its hour's end, the 23:00 prediction belongs to the next day: not the day's.
    assert alerts_of(unrepaired, [23]).height == 0
    next_day = ScoringFacts(**{**unrepaired.__dict__, "days": (DAY + timedelta(days=1),)})
    alerts = alerts_of(next_day, [], before=[23])
    assert alerts.height == 1
    assert alerts.item(0, "opened_at") == datetime(2026, 3, 3, tzinfo=UTC)
