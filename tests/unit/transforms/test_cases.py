"""Cases from hand-made alert histories: grouping, people's closes, state."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from altaviz.transforms.cases import EVENT_SCHEMA, case_of, no_events


def t(hour: int) -> datetime:
    return datetime(2026, 3, 1, hour, tzinfo=UTC)


def alerts(*rows: tuple[str, int, int | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "compressor_id": ["C1"] * len(rows),
            "alert_id": [r[0] for r in rows],
            "opened_at": [t(r[1]) for r in rows],
            "resolved_at": [None if r[2] is None else t(r[2]) for r in rows],
        }
    )


def cases(history: pl.DataFrame, events: pl.DataFrame | None = None) -> dict[str, str]:
    grouped = case_of(history, no_events() if events is None else events)
    return dict(zip(grouped["alert_id"], grouped["case_id"], strict=True))


def test_overlapping_alerts_of_every_kind_make_one_case():
    found = cases(alerts(("vib", 1, None), ("temp", 3, 5), ("rul", 4, None)))
    assert set(found.values()) == {"CASE-C1-20260301T0100Z"}


def test_an_alert_after_the_unit_recovered_opens_a_new_case():
    found = cases(alerts(("a", 1, 3), ("b", 2, 4), ("c", 6, None)))
    assert found["a"] == found["b"] != found["c"] == "CASE-C1-20260301T0600Z"


def test_a_close_by_a_person_ends_the_case_even_with_alerts_still_open():
    close = pl.DataFrame(
        [
            {
                "event_id": "e1",
                "case_id": "CASE-C1-20260301T0100Z",
                "compressor_id": "C1",
                "at": t(5),
                "actor": "alice",
                "action": "close",
                "reason": "false_alarm",
            }
        ],
        schema=EVENT_SCHEMA,
    )
    found = cases(alerts(("a", 1, None), ("b", 7, None)), close)
    assert found["a"] == "CASE-C1-20260301T0100Z" and found["b"] == "CASE-C1-20260301T0700Z"
