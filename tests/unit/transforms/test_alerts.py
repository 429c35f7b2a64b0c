"""The alert life cycle on hand-made sequences of evaluations: open, continue, resolve."""

from __future__ import annotations

from datetime import timedelta

import narwhals as nw
import polars as pl
import pytest

from altaviz.lake import catalog as lake
from altaviz.transforms.alerts import alert_episodes
from tests.unit.transforms.conftest import rows_of
from tests.unit.transforms.readings import DAY, START

LIMIT = 240.0
EVALUATION = {
    "compressor_id": pl.String,
    "sensor": pl.String,
    "timestamp": pl.Datetime("us", "UTC"),
    "value": pl.Float64,
    "level": pl.Int32,
    "limit_value": pl.Float64,
    "alert_type": pl.String,
}


@pytest.fixture
def episodes(frame, empty, config):
    """Alerts from a sequence of levels (one evaluation every five minutes from midnight)."""
    units = frame({"compressor_id": ["C1"], "station_id": ["S1"], "region": ["R1"]})

    def run(
        levels: list[int],
        values: list[float] | None = None,
        carried=None,
        repairs=None,
        step: timedelta = timedelta(minutes=5),
    ):
        n = len(levels)
        evaluations = frame(
            {
                "compressor_id": ["C1"] * n,
                "sensor": ["discharge_temp_f"] * n,
                "timestamp": [START + step * i for i in range(n)],
                "value": values or [LIMIT + 5 if lv >= 1 else LIMIT - 20 for lv in levels],
                "level": levels,
                "limit_value": [LIMIT] * n,
                "alert_type": ["threshold"] * n,
            },
            schema=EVALUATION,
        )
        history = carried if carried is not None else empty(lake.ALERT_HISTORY)
        rules = config.thresholds.alerts
        fixed = (
            None
            if repairs is None
            else frame({"compressor_id": ["C1"] * len(repairs), "repaired_at": repairs})
        )
        found = alert_episodes(evaluations, history, units, rules, DAY, DAY, repairs=fixed)
        return rows_of(found, "opened_at")

    return run


def at(i: int):
    return START + timedelta(minutes=5 * i)


def test_a_crossing_opens_one_alert_and_three_normal_evaluations_resolve_it(episodes):
    (alert,) = episodes([0, 1, 1, 1, 0, 0, 0, 0])
    assert alert["opened_at"] == at(1) and alert["last_abnormal_at"] == at(3)
    assert alert["state"] == "resolved" and alert["resolved_at"] == at(6)
    assert alert["severity"] == "warning" and alert["trigger_value"] == LIMIT + 5


def test_a_renewed_crossing_while_open_continues_the_same_alert(episodes):
    (alert,) = episodes([1, 0, 0, 1, 1, 0])
    assert alert["opened_at"] == at(0) and alert["last_abnormal_at"] == at(4)
    assert alert["state"] == "open" and alert["resolved_at"] is None


def test_hovering_in_the_deadband_neither_resolves_nor_reopens(episodes):
    (alert,) = episodes([1, -1, -1, -1, -1, -1])
    assert alert["state"] == "open"


def test_severity_is_the_worst_reached_and_the_peak_is_kept(episodes):
    values = [245.0, 262.0, 250.0, 220.0, 220.0, 220.0]
    (alert,) = episodes([1, 2, 1, 0, 0, 0], values)
    assert alert["severity"] == "critical" and alert["peak_value"] == 262.0
    assert alert["trigger_value"] == 245.0 and alert["state"] == "resolved"


def carried_alert(frame, earlier):
    return frame(
        {
            "alert_id": ["C1/discharge_temp_f/old"],
            "compressor_id": ["C1"],
            "station_id": ["S1"],
            "region": ["R1"],
            "alert_type": ["threshold"],
            "sensor": ["discharge_temp_f"],
            "severity": ["warning"],
            "state": ["open"],
            "opened_at": [earlier],
            "escalated_at": [None],
            "resolved_at": [None],
            "last_abnormal_at": [earlier],
            "trigger_value": [241.0],
            "peak_value": [243.0],
            "limit_value": [LIMIT],
            "notify": [True],
            "message": ["x"],
            "date": [earlier.date()],
        }
    )


def test_an_alert_open_before_the_day_is_continued_not_opened_again(episodes, frame):
    earlier = START - timedelta(hours=1)
    (alert,) = episodes([1, 1, 0, 0, 0], carried=carried_alert(frame, earlier))
    assert alert["opened_at"] == earlier and alert["trigger_value"] == 241.0
    assert alert["state"] == "resolved" and alert["resolved_at"] == at(4)


def test_two_episodes_apart_are_two_alerts(episodes):
    first, second = episodes([1, 0, 0, 0, 0, 1, 1])
    assert first["state"] == "resolved" and first["resolved_at"] == at(3)
    assert second["opened_at"] == at(5) and second["state"] == "open"


def test_a_day_without_data_neither_resolves_nor_duplicates_the_open_alert(episodes, frame):
    """The unit paused for a day: its alert, open since the day before, resumes unchanged."""
    earlier = START - timedelta(days=1, hours=1)
    (alert,) = episodes([1, 1, 1], carried=carried_alert(frame, earlier))
    assert alert["opened_at"] == earlier and alert["state"] == "open"


def test_a_repair_resolves_the_open_alert_and_what_follows_is_a_new_episode(episodes):
    repaired = at(3) + timedelta(minutes=2)
    first, second = episodes([1, 1, 1, 1, 1, 1, 0, 0, 0], repairs=[repaired])
    assert first["opened_at"] == at(0) and first["resolved_at"] == repaired
    assert first["state"] == "resolved" and first["last_abnormal_at"] == at(3)
    assert second["opened_at"] == at(4) and second["resolved_at"] == at(8)


def test_a_repair_ends_an_alert_carried_from_before_the_day(episodes, frame):
    earlier = START - timedelta(hours=3)
    repaired = START - timedelta(hours=1)  # the unit came back repaired before the day
    (alert,) = episodes([0, 0, 0, 0], carried=carried_alert(frame, earlier), repairs=[repaired])
    assert alert["opened_at"] == earlier and alert["resolved_at"] == repaired
    assert alert["state"] == "resolved" and alert["severity"] == "warning"


def test_a_silent_unit_repaired_during_the_day_has_its_alert_resolved(episodes, frame):
    """No evaluation at all for the pair today (the unit was down), but its repair finished."""
    earlier = START - timedelta(hours=3)
    repaired = START + timedelta(hours=5)
    alerts = episodes([], carried=carried_alert(frame, earlier), repairs=[repaired])
    assert [(a["opened_at"], a["resolved_at"]) for a in alerts] == [(earlier, repaired)]


def test_a_repair_after_the_day_does_not_resolve_today(episodes):
    (alert,) = episodes([1, 1, 1], repairs=[START + timedelta(days=2)])
    assert alert["state"] == "open"


def test_two_days_at_once_equal_one_day_then_the_next(frame, empty, config):
    """A warning opens late on the first day, turns critical on the second and resolves:
    evaluated over both days at once, or a day at a time (the second continuing the alert
    the first left open), the alert is the same - escalation included."""
    units = frame({"compressor_id": ["C1"], "station_id": ["S1"], "region": ["R1"]})
    rules = config.thresholds.alerts
    step = timedelta(minutes=5)
    # 23:00 on: warning for 2 h, critical for 30 min, then normal.
    levels = [0] * 276 + [1] * 24 + [2] * 6 + [0] * 12
    times = [START + step * i for i in range(len(levels))]
    evaluations = frame(
        {
            "compressor_id": ["C1"] * len(levels),
            "sensor": ["discharge_temp_f"] * len(levels),
            "timestamp": times,
            "value": [LIMIT + 5 * lv if lv else LIMIT - 20 for lv in levels],
            "level": levels,
            "limit_value": [LIMIT] * len(levels),
            "alert_type": ["threshold"] * len(levels),
        },
        schema=EVALUATION,
    )
    second = DAY + timedelta(days=1)
    at_once = rows_of(
        alert_episodes(evaluations, empty(lake.ALERT_HISTORY), units, rules, DAY, second)
    )
    day_one = evaluations.filter(nw.col("timestamp") < START + timedelta(days=1))
    first_day = alert_episodes(day_one, empty(lake.ALERT_HISTORY), units, rules, DAY, DAY)
    (carried,) = rows_of(first_day)
    assert carried["state"] == "open" and carried["severity"] == "warning"
    schema = lake.ALERT_HISTORY.schema.polars()
    history = frame({c: [carried.get(c)] for c in schema}, schema=schema)
    (then,) = rows_of(alert_episodes(evaluations, history, units, rules, second, second))
    (alert,) = at_once
    assert alert == then
    assert alert["severity"] == "critical" and alert["state"] == "resolved"
    assert alert["escalated_at"] == START + step * 300 + timedelta(minutes=15)
